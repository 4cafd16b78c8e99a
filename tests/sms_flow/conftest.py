"""The crews' SMS end to end: the real server on a loopback port, a provider double beside it.

A :class:`Site` is one running Siaga configured for one gateway, the provider double it talks
to (``tests/sms/fake_twilio.py`` through the real ``twilio`` library, or
``tests/sms/fake_http_gateway.py``), a logged-in dispatcher console, and the console stream.
For Twilio the public URL is ``https://siaga.example.id``: the fake calls (and signs) that URL
and a simulated reverse proxy delivers it to the loopback port, as in production.

Every test gets a fresh database copied from one migrated, demo-loaded template (migrating
and loading per test would cost most of the suite's time).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from dispatch.service import DispatchService
from dispatch.service.stream import Subscription
from dispatch.sms.wiring import SmsSide
from dispatch.store.models import SmsMessageRow
from kernel.bus import EventBus
from kernel.db import create_engine, session_factory
from siaga.demo.loader import load_demo
from siaga.migrate import upgrade
from tests.conftest import (
    App,
    LiveServer,
    live_server_for,
    loopback_socket,
    make_settings,
    port_of,
)
from tests.dispatch_api.console import Console
from tests.sms.fake_http_gateway import FakeHttpGateway
from tests.sms.fake_twilio import FakeTwilio
from tests.sms.servers import Servers

PUBLIC_URL = "https://siaga.example.id"
CREW = "+6281200010008"  # AMB-KANIGARAN's crew phone in the demo data
STRANGER = "+6289999999999"


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "siaga.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)

    async def load() -> None:
        engine = create_engine(url)
        try:
            await load_demo(session_factory(engine))
        finally:
            await engine.dispose()

    asyncio.run(load())
    return path


@pytest.fixture
def db_url(template_db: Path, tmp_path: Path) -> Iterator[str]:
    copy = tmp_path / "siaga.db"
    shutil.copy(template_db, copy)
    yield f"sqlite+aiosqlite:///{copy}"


@dataclass
class Site:
    live: LiveServer
    console: Console
    stream: Subscription
    provider: Any  # FakeTwilio | FakeHttpGateway | None (console gateway)
    unread: list[dict[str, Any]] = field(default_factory=list)

    @property
    def service(self) -> DispatchService:
        service: DispatchService = self.live.runtime.services["dispatch"]
        return service

    @property
    def sms(self) -> SmsSide:
        side: SmsSide = self.live.runtime.services["sms"]
        return side

    async def settle(self) -> None:
        """Wait until announcements, replies and the sends they started are done."""
        bus: EventBus = self.live.runtime.services["bus"]
        for _ in range(2):
            await bus.drain()
            await self.sms.inbox.drain()
            await self.sms.outbox.drain()

    async def dispatch(self, callsign: str = "AMB-KANIGARAN", hospital: str | None = None,
                       **call: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """Record a call and send the unit; the dispatch SMS has gone when this returns."""
        extra = {}
        if hospital is not None:
            hospitals = (await self.console.get("/api/hospitals")).json()
            extra["hospital_id"] = next(h["id"] for h in hospitals if h["code"] == hospital)
        incident = await self.console.create_incident(**call)
        assignment = await self.console.assign(incident["id"],
                                               await self.console.unit_id(callsign), **extra)
        await self.settle()
        return incident, assignment

    async def assignment(self, incident_id: int) -> dict[str, Any]:
        [assignment] = (await self.console.detail(incident_id))["assignments"]
        return dict(assignment)

    async def thread(self, incident_id: int) -> list[dict[str, Any]]:
        response = await self.console.get(f"/api/incidents/{incident_id}/sms")
        assert response.status_code == 200, response.text
        return list(response.json())

    async def sms_rows(self) -> int:
        async with self.live.runtime.sessions() as s:
            return int((await s.execute(select(func.count()).select_from(SmsMessageRow))
                        ).scalar_one())

    async def next_event(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """The first console message of ``kind`` not taken yet (others stay for later)."""
        while True:
            for i, message in enumerate(self.unread):
                if message["type"] == kind:
                    return self.unread.pop(i)
            self.unread.append(json.loads(await asyncio.wait_for(self.stream.get(), timeout)))

    async def pending_events(self) -> list[dict[str, Any]]:
        """Every console message published so far and not taken yet (never waits)."""
        while self.stream.pending():
            self.unread.append(json.loads(await self.stream.get()))
        found, self.unread = self.unread, []
        return found


@contextlib.asynccontextmanager
async def site_for(db_url: str, tmp_path: Path, provider: Any, sock: socket.socket | None = None,
                   demo: bool = False, **overrides: Any) -> AsyncIterator[Site]:
    sock = sock or loopback_socket()
    settings = make_settings(db_url, tmp_path, port=port_of(sock), **overrides)
    async with live_server_for(settings, sock, demo=demo) as live, \
            httpx.AsyncClient(base_url=live.http_url, timeout=10) as client:
        if isinstance(provider, FakeTwilio):
            provider.route(PUBLIC_URL, live.http_url)  # the reverse proxy
        app = App(live.runtime, client)
        console = Console(app, await app.login("dispatcher1"))
        stream = live.runtime.services["dispatch"].hub.subscribe("test")
        try:
            yield Site(live, console, stream, provider)
        finally:
            stream.close()


@contextlib.asynccontextmanager
async def twilio_site_for(db_url: str, tmp_path: Path, *, demo: bool = False
                          ) -> AsyncIterator[Site]:
    async with Servers() as servers:
        fake = await FakeTwilio().start(servers)
        async with site_for(db_url, tmp_path, fake, demo=demo, public_url=PUBLIC_URL,
                            sms_gateway="twilio", twilio_account_sid=fake.account_sid,
                            twilio_auth_token=fake.auth_token,
                            twilio_from_number=fake.numbers[0],
                            twilio_api_base=fake.base_url) as site:
            yield site


@pytest.fixture
async def twilio_site(db_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    async with twilio_site_for(db_url, tmp_path) as site:
        yield site


@pytest.fixture
async def twilio_site_each_backend(database_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    """On SQLite and, when configured, PostgreSQL (migrated and loaded the slow way)."""
    async with twilio_site_for(database_url, tmp_path, demo=True) as site:
        yield site


@pytest.fixture
async def http_site(db_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    async with Servers() as servers:
        gateway = await FakeHttpGateway().start(servers)
        sock = loopback_socket()
        async with site_for(db_url, tmp_path, gateway, sock, sms_gateway="http",
                            public_url=f"http://127.0.0.1:{port_of(sock)}",
                            http_gateway_url=gateway.send_url,
                            http_gateway_secret=gateway.secret) as site:
            yield site


@pytest.fixture
async def console_site(db_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    async with site_for(db_url, tmp_path, None) as site:
        yield site
