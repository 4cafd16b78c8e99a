"""Revocation revokes: disabling an account or changing its password closes its open radio
socket and console stream (close code 4004), from this process or from the ``siaga`` CLI."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from kernel.identity import set_disabled
from kernel.revocation import CLOSE_REVOKED
from tests.conftest import LiveServer
from tests.polling import until
from tests.radio.client import RadioClient


async def closed_with(ws: Any, timeout: float = 5.0) -> tuple[int, list[dict[str, Any]]]:
    """The close code the server sent, and what it said before."""
    said = []
    try:
        async with asyncio.timeout(timeout):
            while True:
                said.append(json.loads(await ws.recv()))
    except ConnectionClosed as exc:
        assert exc.rcvd is not None, "closed without a close frame"
        return exc.rcvd.code, said


async def test_disabling_a_user_closes_its_radio_and_console_but_no_one_else(
        live_server: LiveServer) -> None:
    officer = await RadioClient.connect(live_server, "satpol1")
    bystander = await RadioClient.connect(live_server, "satpol2")
    for client in (officer, bystander):
        await client.send("join", talkgroup="satpolpp")
        await client.expect("joined", talkgroup="satpolpp")
    token = await live_server.login("dispatcher1")
    other = await live_server.login("admin")
    stream = await websockets.connect(
        f"{live_server.ws_url}/api/dispatch/stream?token={token}")
    watching = await websockets.connect(
        f"{live_server.ws_url}/api/dispatch/stream?token={other}")
    for ws in (stream, watching):
        assert json.loads(await ws.recv())["type"] == "welcome"
    async with live_server.runtime.sessions() as s, s.begin():
        await set_disabled(s, "satpol1")
        await set_disabled(s, "dispatcher1")

    code, said = await closed_with(officer.ws)
    assert code == CLOSE_REVOKED
    assert said[-1]["type"] == "error" and said[-1]["code"] == "token_revoked"
    code, said = await closed_with(stream)
    assert code == CLOSE_REVOKED and said[-1]["code"] == "token_revoked"

    # The session ended at once (no resume window): the others see the officer go.
    await bystander.expect("member_left", talkgroup="satpolpp",
                           user_id=officer.welcome["user"]["user_id"])
    await bystander.send("ping", ref="p")
    await bystander.expect("pong", ref="p")
    await watching.send('{"type": "ping"}')
    assert json.loads(await watching.recv()) == {"type": "pong"}
    assert len(live_server.runtime.revoker) == 2  # satpol2's socket and admin's stream
    await bystander.ws.close()
    await watching.close()


async def test_a_password_changed_by_the_cli_closes_the_socket_and_the_new_one_stays(
        live_server: LiveServer) -> None:
    officer = await RadioClient.connect(live_server, "satpol1")
    env = {**os.environ, "SIAGA_DATABASE_URL": live_server.runtime.settings.database_url}
    changed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "siaga.cli", "user", "passwd", "satpol1",
         "--password", "another-one"],
        env=env, capture_output=True, text=True, timeout=60)
    assert changed.returncode == 0, changed.stderr
    code, _ = await closed_with(officer.ws, timeout=10)
    assert code == CLOSE_REVOKED

    # The old token no longer opens a socket; the new password does, and it stays open.
    async with httpx.AsyncClient(base_url=live_server.http_url) as http:
        response = await http.post("/api/auth/login",
                                   json={"username": "satpol1", "password": "another-one"})
    fresh = await RadioClient.connect(live_server, "satpol1",
                                      token=response.json()["access_token"])
    await until(lambda: len(live_server.runtime.revoker) == 1, "the new socket to be held")
    await live_server.runtime.revoker.poll()
    await fresh.send("ping", ref="still")
    await fresh.expect("pong", ref="still")
    await fresh.ws.close()


async def test_the_python_radio_client_stops_on_a_revocation(live_server: LiveServer) -> None:
    """``siaga-radio`` reconnects after a drop, but not after 4004: its password may be
    the old one, and a disabled account could only be refused again and again."""
    from siaga_radio import RadioClient as NativeClient
    from siaga_radio.client import ConnectionLost

    client = NativeClient(live_server.http_url, "satpol1", "demo", transport="websocket")
    await client.connect()
    try:
        async with live_server.runtime.sessions() as s, s.begin():
            await set_disabled(s, "satpol1")
        await until(lambda: client.state == "lost", "the client to give up", timeout=10)
        with pytest.raises(ConnectionLost, match="revoked") as lost:
            await client.send("ping")
        assert lost.value.code == CLOSE_REVOKED
    finally:
        await client.close()
