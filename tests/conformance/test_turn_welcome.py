"""docs/protocol.md §1: with a TURN secret, each welcome carries a TURN credential minted for
its user, as coturn's use-auth-secret checks it; never one password for everyone."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ptt.turn import turn_password
from tests.conformance.client import Client
from tests.conftest import LiveServer, live_server_for, loopback_socket, make_settings, port_of

SECRET = "coturn-shared-secret"
URLS = ["turn:192.0.2.50:3478?transport=udp", "turns:192.0.2.50:443?transport=tcp"]
STUN = {"urls": ["stun:192.0.2.50:3478"]}


@pytest.fixture
async def turn_server(sqlite_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    sock = loopback_socket()
    settings = make_settings(sqlite_url, tmp_path, port=port_of(sock),
                             turn_secret=SECRET, turn_urls=URLS,
                             turn_credential_ttl_seconds=600, ice_servers=[STUN])
    async with live_server_for(settings, sock) as server:
        yield server


async def welcome_of(server: LiveServer, username: str) -> dict[str, object]:
    client = await Client.connect(server, username)
    try:
        welcome = await client.next()
    finally:
        await client.close()
    assert welcome["type"] == "welcome"
    return welcome


async def test_each_welcome_carries_a_credential_of_its_own_user(
        turn_server: LiveServer) -> None:
    before = int(time.time())
    first = await welcome_of(turn_server, "satpol1")
    other = await welcome_of(turn_server, "dishub1")
    stun, turn = first["ice_servers"]  # type: ignore[misc]
    assert stun == {"urls": STUN["urls"], "username": None, "credential": None}
    assert turn["urls"] == URLS
    expiry, user = turn["username"].split(":")
    assert int(user) == first["user"]["user_id"]  # type: ignore[index]
    assert before + 600 <= int(expiry) <= int(time.time()) + 600
    assert turn["credential"] == turn_password(SECRET, turn["username"])
    other_turn = other["ice_servers"][1]  # type: ignore[index]
    assert other_turn["username"].endswith(f":{other['user']['user_id']}")  # type: ignore[index]
    assert other_turn["credential"] != turn["credential"]
    assert SECRET not in str(first)
