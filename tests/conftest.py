"""Fixtures shared by every test area: databases on each backend, an app, a live server.

``database_url`` is parametrised over SQLite and PostgreSQL; the PostgreSQL variant runs
when ``SIAGA_TEST_DATABASE_URL`` is set (``.ci/run`` sets it) and is skipped with the
reason otherwise. Each test gets its own fresh database, so tests never see each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import settings
from sqlalchemy.engine import make_url

from kernel.config import Settings
from kernel.runtime import Runtime
from siaga.app import create_app
from siaga.demo.loader import load_demo
from siaga.migrate import upgrade_async
from siaga.server import uvicorn_config
from tests.polling import until

PG_ENV = "SIAGA_TEST_DATABASE_URL"

# ``make coverage`` (scripts/coverage.py): the same examples on every run, and few of them,
# so the figure it reports does not depend on what a random search happened to reach.
settings.register_profile("coverage", max_examples=10, derandomize=True)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never read the developer's SIAGA_* variables (but SIAGA_TEST_*, which say where
    the test services are) or ./siaga.toml."""
    for key in list(os.environ):
        if key.startswith("SIAGA_") and not key.startswith("SIAGA_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


async def _admin_connect(url: str) -> Any:
    import asyncpg

    u = make_url(url)
    return await asyncpg.connect(user=u.username, password=u.password, host=u.host,
                                 port=u.port or 5432, database=u.database)


@contextlib.asynccontextmanager
async def fresh_database(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'siaga-test.db'}"
        return
    admin_url = os.environ.get(PG_ENV)
    if not admin_url:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (set by .ci/run)")
    name = f"siaga_test_{secrets.token_hex(6)}"
    conn = await _admin_connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield make_url(admin_url).set(drivername="postgresql+asyncpg",
                                      database=name).render_as_string(hide_password=False)
    finally:
        conn = await _admin_connect(admin_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database("sqlite", tmp_path) as url:
        yield url


def make_settings(database_url: str, tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "data_dir": tmp_path / "var",
        "secret_key": "test-secret-key-" + "x" * 32,
        "log_format": "text",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@dataclass
class App:
    """A migrated, demo-loaded application served in-process (no socket)."""

    runtime: Runtime
    client: httpx.AsyncClient
    asgi: Any = None  # the application, for a second client (another address, say)

    async def login(self, username: str, password: str = "demo") -> dict[str, str]:
        response = await self.client.post("/api/auth/login",
                                          json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


@contextlib.asynccontextmanager
async def running_app(settings: Settings, *, demo: bool = True) -> AsyncIterator[App]:
    await upgrade_async(settings.database_url)
    runtime = Runtime.build(settings)
    if demo:
        await load_demo(runtime.sessions)
    app = create_app(runtime=runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://siaga.test") as client:
            yield App(runtime, client, app)


@pytest.fixture
async def app(database_url: str, tmp_path: Path) -> AsyncIterator[App]:
    """The app on each backend (SQLite always; PostgreSQL when configured)."""
    async with running_app(make_settings(database_url, tmp_path)) as a:
        yield a


@pytest.fixture
async def sqlite_app(sqlite_url: str, tmp_path: Path) -> AsyncIterator[App]:
    async with running_app(make_settings(sqlite_url, tmp_path)) as a:
        yield a


def loopback_socket(host: str = "127.0.0.1") -> socket.socket:
    """A TCP socket bound to a port the OS picks, for a server to listen on.

    It stays bound until the server that takes it closes it, so no other process can take the
    port between choosing it and serving on it (as it could if it were closed and bound again).
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.bind((host, 0))
    return sock


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """The real server on a loopback port, for clients that need sockets."""

    runtime: Runtime
    host: str
    port: int

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    async def login(self, username: str, password: str = "demo") -> str:
        async with httpx.AsyncClient(base_url=self.http_url) as client:
            response = await client.post("/api/auth/login",
                                         json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


@contextlib.asynccontextmanager
async def live_server_for(settings: Settings, sock: socket.socket, *, demo: bool = True
                          ) -> AsyncIterator[LiveServer]:
    """Serve on ``sock`` (from :func:`loopback_socket`; ``settings.port`` is its port)."""
    assert port_of(sock) == settings.port, "settings.port must be the socket's port"
    await upgrade_async(settings.database_url)
    runtime = Runtime.build(settings)
    if demo:
        await load_demo(runtime.sessions)
    app = create_app(runtime=runtime)
    config = uvicorn_config(app, settings.host, settings.port)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await until(lambda: server.started or task.done(), "the server to start", timeout=30)
        if task.done():
            task.result()
            raise RuntimeError("server stopped during start-up")
        yield LiveServer(runtime, settings.host, settings.port)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


@pytest.fixture
async def live_server(sqlite_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    sock = loopback_socket()
    port = port_of(sock)
    settings = make_settings(sqlite_url, tmp_path, port=port,
                             public_url=f"http://127.0.0.1:{port}")
    async with live_server_for(settings, sock) as server:
        yield server


# -- browser tests (tests/browser, tests/browser_mobile) ----------------------------------

CHROMIUM = "/usr/bin/chromium"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests skip, with the reason, where Debian's Chromium is not installed."""
    if Path(CHROMIUM).exists():
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing (apt-get install chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item, so fixtures can screenshot a failed test."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
async def playwright() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        yield p


@pytest.fixture
def anyio_backend() -> Iterator[str]:
    yield "asyncio"
