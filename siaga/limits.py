"""Request bodies are capped before anything reads them.

A JSON body is parsed whole by the framework, so without a cap a client can make the
server hold and parse any amount (five 50 MB bodies once took it from 155 to 520 MB). The
cap is checked twice: against ``Content-Length`` before the application runs, and against
the bytes actually received, for chunked bodies or a length that lies. Either way the
answer is 413 ``too_large`` in the API's error shape, and the connection stays usable.
Webhook routes keep their own, smaller caps (``dispatch.sms.routes``).
"""

from __future__ import annotations

import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kernel.errors import error_body

log = logging.getLogger("siaga.http")


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            text = declared.decode("latin-1").strip()
            if not text.isdigit():
                await self._refuse(scope, send, 400, "bad_request", "invalid Content-Length")
                return
            if int(text) > self.max_bytes:
                await self._refuse(scope, send, 413, "too_large", self._message())
                return
        received = 0
        started = refused = False

        async def counted_receive() -> Message:
            # Past the cap the client is answered here, and the application is told the
            # client left: whatever it then does (frameworks turn a failed body read into
            # their own 400) is not sent.
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes and not started:
                    refused = True
                    await self._refuse(scope, send, 413, "too_large", self._message())
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted_receive, guarded_send)

    def _message(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes"

    async def _refuse(self, scope: Scope, send: Send, status: int, code: str,
                      message: str) -> None:
        log.warning("request refused", extra={"status": status, "code": code,
                                              "path": scope.get("path"), "reason": message})
        body = json.dumps(error_body(code, message)).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]})
        await send({"type": "http.response.body", "body": body})
