"""A PostgreSQL server that drops connections (restart, pg_terminate_backend, an idle
timeout): pooled connections are checked before use, a request whose connection drops
answers 503 ``database_unavailable`` on a keep-alive connection that stays usable, and a
radio store write is retried, not lost."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select

from ptt.store.models import TextMessageRow
from tests.conformance.client import Client, token_for
from tests.conftest import (
    LiveServer,
    _admin_connect,
    fresh_database,
    live_server_for,
    loopback_socket,
    make_settings,
    port_of,
)
from tests.polling import until

pytestmark = pytest.mark.postgres

TERMINATE_OTHERS = ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")


@pytest.fixture
async def pg_server(tmp_path: Path) -> AsyncIterator[tuple[LiveServer, str]]:
    async with fresh_database("postgresql", tmp_path) as url:
        sock = loopback_socket()
        settings = make_settings(url, tmp_path, port=port_of(sock))
        async with live_server_for(settings, sock) as server:
            yield server, url


def drop_connection_once(server: LiveServer, marker: str) -> list[str]:
    """Before the first statement containing ``marker``, its connection's backend is
    terminated, as if the server dropped it mid-request. Returns the list of hits."""
    hits: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if marker in statement and not hits:
            hits.append(statement)
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    event.listen(server.runtime.engine.sync_engine, "before_cursor_execute", before)
    return hits


async def test_dropped_connections(pg_server: tuple[LiveServer, str]) -> None:
    server, url = pg_server
    token = await token_for(server, "dispatcher1")
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=server.http_url, headers=auth) as http:
        assert (await http.get("/api/transmissions")).status_code == 200  # pool warmed
        admin = await _admin_connect(url)
        try:
            killed = await admin.fetch(TERMINATE_OTHERS)
        finally:
            await admin.close()
        assert killed  # the server's pooled connections are gone
        # pool_pre_ping: the dead pooled connection costs no request.
        assert (await http.get("/api/transmissions")).status_code == 200

        hits = drop_connection_once(server, "transmissions")
        dropped = await http.get("/api/transmissions")
        assert hits and dropped.status_code == 503
        assert dropped.json()["error"]["code"] == "database_unavailable"
        again = await http.get("/api/transmissions")  # the same keep-alive connection
        assert again.status_code == 200


async def test_a_radio_store_write_is_retried(pg_server: tuple[LiveServer, str]) -> None:
    server, _ = pg_server
    client = await Client.connect(server, "satpol1")
    assert (await client.next())["type"] == "welcome"
    await client.join("satpolpp")
    hits = drop_connection_once(server, "INSERT INTO text_messages")
    assert (await client.answer("text", talkgroup="satpolpp", body="Tes"))["type"] == "text"

    async def stored() -> int:
        async with server.runtime.sessions() as s:
            return int((await s.execute(select(func.count()).select_from(TextMessageRow)))
                       .scalar_one())

    assert await until(stored, "the text to be stored despite the dropped connection") == 1
    assert hits and server.runtime.services["radio_store"].retries >= 1
    await client.close()
