"""The ``/ws`` endpoint: one WebSocket per client, JSON signaling (``ptt.protocol``).

Authentication: ``?token=`` in the URL, or a ``hello`` message within
:data:`HELLO_TIMEOUT` seconds. A handshake whose ``Origin`` is another site's is
refused with HTTP 403 before this endpoint runs (:mod:`kernel.origin`, checked in
:mod:`ptt.wiring`). ``?resume=`` / ``hello.resume`` carries the session id of a
dropped connection (see :mod:`ptt.server.service`, rule 2). Close codes: 4001
unauthorized, 4002 replaced by a newer connection, 4003 no hello in time, 4004
credentials revoked (the account was disabled or its password changed while the
socket was open; :mod:`kernel.revocation`), 4008 message flood, 4009 too slow to
read, 4010 the radio moved (this node drains, or a cluster's leader changed:
reconnect and resume), 1009 frame larger than the server accepts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from kernel.revoker import Revoker
from ptt import protocol as p
from ptt.flood import FloodGuard, Verdict
from ptt.server.connection import Connection
from ptt.server.service import CLOSE_MOVED, Client, RadioService
from ptt.server.sessions import SessionRecord
from ptt.talkgroup import Identity, Right

log = logging.getLogger("ptt.signaling")

HELLO_TIMEOUT = 10.0
HEARTBEAT = 20.0
CLOSE_UNAUTHORIZED = 4001
CLOSE_HELLO_TIMEOUT = 4003
CLOSE_FLOOD = 4008

#: A token -> who it is and the account's token version it carries.
Authenticate = Callable[[str], Awaitable[tuple[Identity, int]]]
#: The STUN/TURN servers for one user's ``welcome`` (with TURN credentials minted for them).
IceServersFor = Callable[[Identity], list[dict[str, Any]]]


class AuthFailed(Exception):
    def __init__(self, code: str, message: str, ref: str | int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


class Signaling:
    def __init__(self, service: RadioService, authenticate: Authenticate,
                 ice_servers: IceServersFor,
                 command_centre_phone: str | None = None,
                 revoker: Revoker | None = None) -> None:
        self.service = service
        self.authenticate = authenticate
        self.revoker = revoker
        self.ice_servers = ice_servers
        self.command_centre_phone = command_centre_phone
        self.on_binary: Callable[[Client, bytes], None] | None = None
        self.on_command: dict[str, Callable[[Client, Any], Awaitable[None]]] = {}
        #: In a cluster: an earlier leader's record of a user's session (``ptt.server.
        #: sessions``), looked up when a resume names no session of this node.
        self.restore: Callable[[int], Awaitable[SessionRecord | None]] | None = None
        #: Benchmarks only (off when None): called after each text message is handled with
        #: (seconds since its frame arrived, the text); its answers are in the outboxes by then.
        self.latency_probe: Callable[[float, str], None] | None = None

    async def endpoint(self, websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            (identity, version), resume, ref = await self._authenticate(websocket)
        except AuthFailed as exc:
            await _send_then_close(websocket, p.error_message(exc.code, exc.message, exc.ref),
                                   CLOSE_UNAUTHORIZED if exc.code != "hello_timeout"
                                   else CLOSE_HELLO_TIMEOUT)
            return
        except WebSocketDisconnect:
            return
        if self.service.draining:
            await _send_then_close(websocket, p.message("move", ref, nodes=self.service.move_to),
                                   CLOSE_MOVED)
            return
        if not self.service.serving():  # the radio moved while this one authenticated
            await _send_then_close(websocket, p.error_message(
                "not_leader", "this node no longer serves the radio", ref), CLOSE_MOVED)
            return
        restored = None
        local = self.service.clients.get(identity.user_id)
        if resume is not None and self.restore is not None and (
                local is None or local.session_id != resume):
            restored = await self.restore(identity.user_id)
        connection = Connection(websocket.send_text, websocket.close, name=identity.username)
        client, _ = self.service.attach(
            identity, connection, resume, lambda c, resumed: self._welcome(c, resumed, ref),
            restored)
        release = (None if self.revoker is None else self.revoker.hold(
            identity.user_id, version, lambda: self.service.revoke(client, connection)))
        try:
            await self._serve(websocket, client)
        except WebSocketDisconnect:
            pass
        finally:
            if release is not None:
                release()
            self.service.detach(client, connection)
            await connection.aclose()

    async def _authenticate(self, ws: WebSocket
                            ) -> tuple[tuple[Identity, int], str | None, Any]:
        token = ws.query_params.get("token")
        resume = ws.query_params.get("resume")
        ref = None
        if token is None:
            try:
                raw = await asyncio.wait_for(ws.receive_text(), HELLO_TIMEOUT)
            except TimeoutError:
                raise AuthFailed("hello_timeout", "send hello with a token first") from None
            except KeyError:
                raise AuthFailed("unauthorized", "the first message must be a text hello") \
                    from None
            try:
                cmd = p.parse_command(raw)
            except p.ProtocolError as exc:
                raise AuthFailed(exc.code, exc.message, exc.ref) from None
            if not isinstance(cmd, p.Hello) or not cmd.token:
                raise AuthFailed("unauthorized", "the first message must be hello with a token",
                                 cmd.ref)
            token, resume, ref = cmd.token, cmd.resume, cmd.ref
        try:
            return await self.authenticate(token), resume, ref
        except AuthFailed as exc:
            raise AuthFailed(exc.code, exc.message, ref) from None
        except Exception:
            log.exception("authentication error")
            raise AuthFailed("unauthorized", "authentication failed", ref) from None

    def _welcome(self, client: Client, resumed: bool, ref: Any) -> dict[str, Any]:
        radio, user = self.service.radio, client.identity.user_id
        talkgroups = []
        for tg in radio.roster.talkgroups.values():
            rights = tg.rights_of(client.identity)
            if rights == Right.NONE:
                continue
            info = p.talkgroup_info(tg)
            info["rights"] = p.right_names(rights)
            talkgroups.append(info)
        groups, selected = radio.roster.groups(user), radio.roster.selected(user)
        return p.message("welcome", ref, session=client.session_id, resumed=resumed,
                         user=p.identity(client.identity), talkgroups=talkgroups,
                         joined=list(groups), selected=selected,
                         ice_servers=self.ice_servers(client.identity),
                         heartbeat=HEARTBEAT,
                         command_centre_phone=self.command_centre_phone)

    async def _serve(self, ws: WebSocket, client: Client) -> None:
        guard = FloodGuard()
        loop = asyncio.get_running_loop()
        while True:
            frame = await ws.receive()
            if frame["type"] == "websocket.disconnect":
                return
            data_bytes = frame.get("bytes")
            if data_bytes is not None:
                if self.on_binary is not None:
                    self.on_binary(client, data_bytes)
                else:
                    self.service.send(client, p.error_message(
                        "binary_not_accepted", "binary frames carry audio; use WebRTC"))
                continue
            verdict = guard.check(received := loop.time())
            if verdict is Verdict.ABUSE:
                log.warning("message flood; closing", extra={"user": client.identity.username})
                client_conn = client.connection
                if client_conn is not None:
                    client_conn.send(p.dumps(p.error_message("flood", "too many messages")))
                    client_conn.close(CLOSE_FLOOD, "message flood")
                return
            if verdict is Verdict.REFUSE:
                self.service.send(client, p.error_message(
                    "rate_limited", "too many messages; slow down"))
                continue
            await self._text(client, frame.get("text") or "")
            if self.latency_probe is not None:
                self.latency_probe(loop.time() - received, frame.get("text") or "")

    async def _text(self, client: Client, raw: str) -> None:
        try:
            cmd = p.parse_command(raw)
        except p.ProtocolError as exc:
            log.info("bad message", extra={"user": client.identity.username, "code": exc.code,
                                           "reason": exc.message})
            self.service.send(client, p.error_message(exc.code, exc.message, exc.ref))
            return
        if isinstance(cmd, p.Hello):
            self.service.send(client, p.error_message(
                "already_authenticated", "hello is only accepted as the first message",
                cmd.ref))
            return
        handler = self.on_command.get(cmd.type)
        if handler is not None:
            await handler(client, cmd)
            return
        self.service.handle(client, cmd)


async def _send_then_close(ws: WebSocket, msg: dict[str, Any], code: int) -> None:
    if ws.application_state == WebSocketState.CONNECTED:
        try:
            await ws.send_text(p.dumps(msg))
            await ws.close(code)
        except Exception:  # already gone
            pass
