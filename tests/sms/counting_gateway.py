"""A provider on the HTTP gateway protocol that counts what it is asked to send.

Requests are counted per ``Idempotency-Key`` and each key is sent once: a repeated key is
a retry of ours (after an unknown outcome), answered as a duplicate with nothing sent
again, as the protocol asks (docs/sms-gateway.md). A message is taken the moment its
request arrives; the answer can be held back (:attr:`CountingGateway.answers`, an event a
test sets) to leave requests in flight, say while their sender is killed. Two requests
for one key in flight at once are recorded as an overlap: our claims must never let that
happen.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.conftest import loopback_socket, port_of


class CountingGateway:
    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.sent: dict[str, str] = {}
        self.in_flight: Counter[str] = Counter()
        self.overlaps: list[str] = []
        self.answers = asyncio.Event()  # cleared: hold every answer until it is set
        self.answers.set()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        key = request.headers["Idempotency-Key"]
        assert key == body["dedup_key"]
        self.requests[key] += 1
        if self.in_flight[key]:
            self.overlaps.append(key)
        self.in_flight[key] += 1
        try:
            if key in self.sent:
                return web.json_response({"id": self.sent[key], "status": "queued",
                                          "duplicate": True})
            self.sent[key] = f"gw-{len(self.sent) + 1}"
            await self.answers.wait()
            return web.json_response({"id": self.sent[key], "status": "queued"}, status=202)
        finally:
            self.in_flight[key] -= 1


@pytest.fixture
async def counting_gateway() -> AsyncIterator[tuple[CountingGateway, str]]:
    """The gateway and the URL to give ``SIAGA_HTTP_GATEWAY_URL``."""
    gateway = CountingGateway()
    app = web.Application()
    app.router.add_post("/send", gateway.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = loopback_socket()
    site = web.SockSite(runner, sock)
    await site.start()
    try:
        yield gateway, f"http://127.0.0.1:{port_of(sock)}/send"
    finally:
        gateway.answers.set()
        await runner.cleanup()
