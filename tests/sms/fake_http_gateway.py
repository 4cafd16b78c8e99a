"""A local SMS gateway speaking the protocol of ``docs/sms-gateway.md`` (a double of a GSM-modem
gateway, not of our code: it implements the documented signing itself).

- ``POST /send`` with ``{"to", "body", "dedup_key", "callback_url"}``, signed with
  ``X-Siaga-Timestamp`` and ``X-Siaga-Signature: sha256=HMAC(secret, timestamp + "." + body)``
  → 202 ``{"id", "status": "queued"}``; the same ``dedup_key`` again → 200 with the first id
  and ``"duplicate": true``, nothing sent; a bad signature → 401; a bad request → 400
  ``{"error", "message"}``.
- :meth:`FakeHttpGateway.deliver_inbound` and :meth:`FakeHttpGateway.deliver_status` post
  signed JSON to our endpoints, as the gateway does when a phone replies or a report arrives.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.sms.servers import FaultScript, Servers

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


@dataclass
class GatewayRequest:
    headers: dict[str, str]
    payload: dict[str, Any] | None
    authorized: bool


@dataclass
class GatewayMessage:
    id: str
    to: str
    body: str
    dedup_key: str
    callback_url: str | None
    status: str = "queued"


@dataclass
class FakeHttpGateway:
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    requests: list[GatewayRequest] = field(default_factory=list)
    messages: dict[str, GatewayMessage] = field(default_factory=dict)
    faults: FaultScript = field(default_factory=FaultScript)
    base_url: str = ""

    @property
    def send_url(self) -> str:
        return f"{self.base_url}/send"

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/send", self._send, methods=["POST"])])

    async def start(self, servers: Servers) -> FakeHttpGateway:
        self.base_url = await servers.start(self.app())
        servers.before_stop(self.faults.stop)  # end scripted holds so shutdown is quick
        return self

    def _authentic(self, request: Request, raw: bytes) -> bool:
        stamp = request.headers.get("x-siaga-timestamp", "")
        given = request.headers.get("x-siaga-signature", "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
            return False
        return hmac.compare_digest(signature(self.secret, stamp, raw), given)

    async def _send(self, request: Request) -> Response:
        raw = await request.body()
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        authorized = self._authentic(request, raw)
        self.requests.append(GatewayRequest(dict(request.headers), payload, authorized))
        if not authorized:
            return error(401, "unauthorized", "bad or missing signature")
        fault = self.faults.take("POST")
        if fault is not None:
            await self.faults.hold(fault.hold_before)
        if fault is not None and fault.status is not None and not fault.create:
            answer: Response = error(fault.status, "unavailable", "try again later")
        else:
            answer = self._accept(payload)
        if fault is not None:
            await self.faults.hold(fault.hold_after)
            if fault.status is not None:
                answer = error(fault.status, "unavailable", "try again later")
        return answer

    def _accept(self, payload: Any) -> JSONResponse:
        if not isinstance(payload, dict):
            return error(400, "invalid_request", "body must be a JSON object")
        to, body, key = payload.get("to"), payload.get("body"), payload.get("dedup_key")
        if not isinstance(to, str) or not E164.match(to):
            return error(400, "invalid_number", f"not an E.164 number: {to!r}")
        if not isinstance(body, str) or not body or not isinstance(key, str) or not key:
            return error(400, "invalid_request", "body and dedup_key are required")
        for message in self.messages.values():
            if message.dedup_key == key:
                return JSONResponse({"id": message.id, "status": message.status,
                                     "duplicate": True})
        message = GatewayMessage("gw-" + secrets.token_hex(8), to, body, key,
                                 payload.get("callback_url"))
        self.messages[message.id] = message
        return JSONResponse({"id": message.id, "status": message.status}, status_code=202)

    async def post_signed(self, url: str, payload: dict[str, Any], *, sign: bool = True,
                          secret: str | None = None, timestamp: int | None = None,
                          tamper: dict[str, Any] | None = None) -> httpx.Response:
        raw = json.dumps(payload).encode()
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        headers = {"Content-Type": "application/json"}
        if sign:
            headers["X-Siaga-Timestamp"] = stamp
            headers["X-Siaga-Signature"] = signature(secret or self.secret, stamp, raw)
        if tamper:
            raw = json.dumps({**payload, **tamper}).encode()
        async with httpx.AsyncClient() as client:
            return await client.post(url, content=raw, headers=headers)

    async def deliver_inbound(self, url: str, *, from_: str, to: str, body: str,
                              received_at: str | None = None, **knobs: Any
                              ) -> tuple[str, httpx.Response]:
        inbound_id = "gw-in-" + secrets.token_hex(8)
        payload: dict[str, Any] = {"id": inbound_id, "from": from_, "to": to, "body": body}
        if received_at is not None:
            payload["received_at"] = received_at
        return inbound_id, await self.post_signed(url, payload, **knobs)

    async def deliver_status(self, message_id: str, status: str, *, error_code: str | None = None,
                             **knobs: Any) -> httpx.Response:
        message = self.messages[message_id]
        assert message.callback_url, f"{message_id} was sent without a callback_url"
        message.status = status
        return await self.post_signed(message.callback_url,
                                      {"id": message_id, "status": status, "error": error_code},
                                      **knobs)
