"""Loopback HTTP servers for the SMS tests: a runner, scripted faults, a webhook receiver.

Both provider doubles (``fake_twilio``, ``fake_http_gateway``) run as Starlette apps under
uvicorn on 127.0.0.1 with a port the OS picks, and both take scripted :class:`Fault` s so a
test can make the *next* request slow or failing, the way a real provider sometimes is.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from dispatch.sms.gateway import WebhookRequest
from tests.polling import until


class Servers:
    """ASGI apps served on fresh loopback ports, stopped together (uvicorn takes ~0.2 s to
    stop one server; stopping them concurrently keeps the suite quick)."""

    def __init__(self) -> None:
        self._running: list[tuple[uvicorn.Server, asyncio.Task[None], socket.socket]] = []
        self._before_stop: list[Callable[[], None]] = []

    async def start(self, app: ASGIApp) -> str:
        """Serve ``app``; return its base URL."""
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_config=None, lifespan="off", ws="none",
                                access_log=False, timeout_graceful_shutdown=2)
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        self._running.append((server, task, sock))
        await until(lambda: server.started or task.done(), "the server to start", timeout=30)
        if not server.started:
            task.result()
            raise RuntimeError("server stopped during start-up")
        return f"http://127.0.0.1:{port}"

    def before_stop(self, action: Callable[[], None]) -> None:
        self._before_stop.append(action)

    async def __aenter__(self) -> Servers:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for action in self._before_stop:
            action()
        for server, _, _ in self._running:
            server.should_exit = True
        await asyncio.wait_for(asyncio.gather(*(task for _, task, _ in self._running)), 10)
        for _, _, sock in self._running:
            sock.close()


@dataclass(frozen=True)
class Fault:
    """What the provider does with the next matching request.

    ``hold_before``: seconds before it processes the request (stuck at the front door, then
    processed anyway, as a request already sent is). ``hold_after``: seconds between processing
    and answering (the classic lost 201). ``status``: answer this error instead of the normal
    answer; ``create`` says whether the message was created all the same (a 5xx after commit).
    """

    status: int | None = None
    create: bool = False
    hold_before: float = 0.0
    hold_after: float = 0.0
    method: str = "POST"


@dataclass
class FaultScript:
    """Faults queued per HTTP method, each used once; plus holds that end on shutdown."""

    _queue: deque[Fault] = field(default_factory=deque)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, fault: Fault) -> None:
        self._queue.append(fault)

    def take(self, method: str) -> Fault | None:
        for fault in self._queue:
            if fault.method == method:
                self._queue.remove(fault)
                return fault
        return None

    async def hold(self, seconds: float) -> None:
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)

    def stop(self) -> None:
        self._stopping.set()


class WebhookReceiver:
    """Our side of the webhooks, reduced to capture: what arrived, as a route would see it."""

    def __init__(self) -> None:
        self.received: list[WebhookRequest] = []
        self.app = Starlette(routes=[Route("/{path:path}", self._capture,
                                           methods=["GET", "POST"])])

    async def _capture(self, request: Request) -> Response:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        captured = WebhookRequest(request.method, path, dict(request.headers),
                                  await request.body())
        self.received.append(captured)
        return Response('<?xml version="1.0" encoding="UTF-8"?><Response></Response>',
                        media_type="text/xml")

    def last(self) -> WebhookRequest:
        assert self.received, "no webhook arrived"
        return self.received[-1]


class ManualClock:
    """Our gateway's clock, started at the real time and moved by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
