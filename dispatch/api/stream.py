"""``/api/dispatch/stream``: the console's live feed over a WebSocket.

Authentication as on the radio's ``/ws``: ``?token=`` in the URL, or a first text message
``{"token": "..."}`` within :data:`HELLO_TIMEOUT` seconds. Only dispatch roles (dispatcher,
supervisor, admin) and hospital accounts are served; a hospital account receives only what
is addressed to its own hospital (its incoming patients, its beds and acceptance). The
server then sends ``{"type": "welcome", ...}`` and one JSON text message per event (types
in ``docs/dispatch.md``). The client may send ``{"type": "ping"}`` (answered with
``pong``); anything else is ignored.

A handshake whose ``Origin`` is another site's is refused with HTTP 403 (:mod:`kernel.origin`).
Close codes: 4001 unauthorized, 4003 no token in time, 4030 role not allowed,
4004 credentials revoked (the account was disabled or its password changed while the stream
was open, see :mod:`kernel.revocation`), 4009 too slow to read (dropped, see
:mod:`dispatch.service.stream`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from dispatch.api.deps import DISPATCH_ROLES
from dispatch.service.actor import Actor
from dispatch.service.stream import Dropped, Subscription
from kernel.auth import Principal, TokenError
from kernel.deps import refuse_foreign_origin
from kernel.identity import Role
from kernel.revocation import CLOSE_REVOKED

if TYPE_CHECKING:
    from dispatch.service import DispatchService
    from kernel.runtime import Runtime

log = logging.getLogger("dispatch.stream")

HELLO_TIMEOUT = 10.0
CLOSE_UNAUTHORIZED = 4001
CLOSE_HELLO_TIMEOUT = 4003
CLOSE_TOO_SLOW = 4009
CLOSE_FORBIDDEN = 4030


class _Refused(Exception):
    def __init__(self, close_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.close_code, self.code, self.message = close_code, code, message


async def stream_endpoint(websocket: WebSocket, runtime: Runtime) -> None:
    if await refuse_foreign_origin(websocket, runtime.settings.public_url):
        return
    await websocket.accept()
    service: DispatchService = runtime.services["dispatch"]
    hospital_id: int | None = None
    try:
        principal = await _authenticate(websocket, runtime)
        if principal.role is Role.HOSPITAL:
            hospital_id = await service.hospital_of(Actor.of(principal))
            if hospital_id is None:
                raise _Refused(CLOSE_FORBIDDEN, "forbidden",
                               "this hospital account belongs to no hospital")
        elif principal.role not in DISPATCH_ROLES:
            raise _Refused(CLOSE_FORBIDDEN, "forbidden",
                           "the stream is for dispatch roles and hospital accounts")
    except _Refused as exc:
        await _close(websocket, exc.close_code, {"type": "error", "code": exc.code,
                                                 "message": exc.message})
        return
    except WebSocketDisconnect:
        return
    sub = service.hub.subscribe(principal.username, hospital_id)
    revoked = asyncio.Event()
    release = runtime.revoker.hold(principal.user_id, principal.token_version, revoked.set)
    try:
        await websocket.send_text(json.dumps({
            "type": "welcome", "user": principal.username, "role": principal.role.value,
            "backlog": service.hub.backlog, "hospital_id": hospital_id,
        }))
        await _serve(websocket, sub, revoked)
    except WebSocketDisconnect:
        pass
    finally:
        release()
        sub.close()


async def _serve(websocket: WebSocket, sub: Subscription, revoked: asyncio.Event) -> None:
    sender = asyncio.create_task(_pump(websocket, sub))
    receiver = asyncio.create_task(_listen(websocket))
    revocation = asyncio.create_task(revoked.wait())
    tasks = (sender, receiver, revocation)
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, Exception):
                await task
    if revocation in done:
        await _close(websocket, CLOSE_REVOKED, {
            "type": "error", "code": "token_revoked",
            "message": "the account was disabled or its password changed; log in again"})
    elif sender in done and isinstance(sender.exception(), Dropped):
        await _close(websocket, CLOSE_TOO_SLOW, {"type": "error", "code": "too_slow",
                                                 "message": "dropped: reconnect and reload"})


async def _pump(websocket: WebSocket, sub: Subscription) -> None:
    while True:
        await websocket.send_text(await sub.get())


async def _listen(websocket: WebSocket) -> None:
    while True:
        raw = await websocket.receive_text()
        with contextlib.suppress(ValueError, TypeError, AttributeError, RecursionError):
            if json.loads(raw).get("type") == "ping":
                await websocket.send_text('{"type":"pong"}')


async def _authenticate(websocket: WebSocket, runtime: Runtime) -> Principal:
    token = websocket.query_params.get("token")
    if token is None:
        try:
            raw = await asyncio.wait_for(websocket.receive_text(), HELLO_TIMEOUT)
        except TimeoutError:
            raise _Refused(CLOSE_HELLO_TIMEOUT, "hello_timeout",
                           'send {"token": ...} first') from None
        except KeyError:  # a binary frame
            raise _Refused(CLOSE_UNAUTHORIZED, "unauthorized",
                           "the first message must be a text message with a token") from None
        try:
            message: Any = json.loads(raw)
            token = message.get("token") if isinstance(message, dict) else None
        except (ValueError, RecursionError):
            token = None
        if not isinstance(token, str) or not token:
            raise _Refused(CLOSE_UNAUTHORIZED, "unauthorized",
                           'the first message must be {"token": "..."}')
    async with runtime.sessions() as session:
        try:
            return await runtime.tokens.authenticate(session, token, runtime.now())
        except TokenError as exc:
            raise _Refused(CLOSE_UNAUTHORIZED, exc.code, exc.message) from None


async def _close(websocket: WebSocket, code: int, message: dict[str, Any]) -> None:
    if websocket.application_state != WebSocketState.CONNECTED:
        return
    with contextlib.suppress(Exception):
        await websocket.send_text(json.dumps(message))
        await websocket.close(code)
