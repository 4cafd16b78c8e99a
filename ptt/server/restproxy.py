"""The radio's REST endpoints on a node that is not the radio leader: answered by the leader.

``/api/talkgroups`` (live floor state; opening and closing talkgroups changes the leader's
radio), ``/api/radio/…`` (presence, who is online among the positions) and
``/api/transmissions…`` (rights read from the live talkgroups; recordings written by the
leader) read or change what only the leader holds. On any other node this ASGI
middleware sends the request on to the leader's ``node_url`` with httpx and returns its
answer as it is: status, body and headers (hop-by-hop ones dropped). A request that
already went through one node (header ``x-siaga-radio-hop``) is answered where it lands,
so two nodes that disagree for a moment about the leader cannot pass it back and forth.
With no leader reachable the answer is 503 ``radio_unavailable``.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kernel.errors import error_body
from ptt.server.leadership import Leadership

PATHS = ("/api/talkgroups", "/api/radio/", "/api/transmissions")
HOP = "x-siaga-radio-hop"
#: How long a request waits for a leader to be known, and for its answer.
LEADER_WAIT = 5.0
TIMEOUT = 30.0
_DROPPED = {"host", "connection", "keep-alive", "transfer-encoding", "te", "trailer",
            "upgrade", "content-length", "content-encoding", "proxy-authorization"}


class LeaderRest:
    def __init__(self, app: ASGIApp, leadership: Callable[[], Leadership | None]) -> None:
        self.app = app
        self.leadership = leadership

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        leadership = self.leadership() if scope["type"] == "http" else None
        if (leadership is None or not str(scope["path"]).startswith(PATHS)
                or leadership.holds()
                or any(name == HOP.encode() for name, _ in scope["headers"])):
            await self.app(scope, receive, send)
            return
        leader = await leadership.leader_within(LEADER_WAIT)
        if leader is not None and leader.node_id == leadership.cluster.node_id:
            await self.app(scope, receive, send)
            return
        if leader is None:
            await _answer(send, 503, error_body("radio_unavailable",
                                                "no radio leader is reachable; try again"))
            return
        body = await _body(receive)
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]
                   if k.decode("latin-1").lower() not in _DROPPED]
        headers.append((HOP, leadership.cluster.node_id))
        query = scope.get("query_string", b"").decode("latin-1")
        url = leader.url.rstrip("/") + scope["path"] + (f"?{query}" if query else "")
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT) as http:
                answer = await http.request(scope["method"], url, headers=headers,
                                            content=body)
        except httpx.HTTPError:
            await _answer(send, 503, error_body("radio_unavailable",
                                                "the radio leader did not answer; try again"))
            return
        out = [(k.encode("latin-1"), v.encode("latin-1"))
               for k, v in answer.headers.multi_items() if k.lower() not in _DROPPED]
        out.append((b"content-length", str(len(answer.content)).encode()))
        await send({"type": "http.response.start", "status": answer.status_code,
                    "headers": out})
        await send({"type": "http.response.body", "body": answer.content})


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message: Message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _answer(send: Send, status: int, body: dict[str, object]) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})
