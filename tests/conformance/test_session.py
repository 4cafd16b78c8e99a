"""docs/protocol.md §1-2: welcome is the first frame, a resume replays what was missed in
order, hello errors carry the hello's ref, a flood is refused with the documented code."""

from __future__ import annotations

import contextlib
import json
import random

import websockets
from websockets.asyncio.client import connect

from tests.conformance.client import Client, token_for
from tests.conftest import LiveServer
from tests.polling import until

MEMBER_EVENTS = ("member_joined", "member_left")


async def test_welcome_is_the_first_frame_then_the_missed_messages_in_order(
        live_server: LiveServer) -> None:
    rng = random.Random(20261)
    resumer = await Client.connect(live_server, "satpol1")
    welcome = await resumer.next()
    assert welcome["type"] == "welcome" and welcome["resumed"] is False
    await resumer.join("gabungan")
    watcher = await Client.connect(live_server, "satpol2")  # stays connected throughout
    assert (await watcher.next())["type"] == "welcome"
    await watcher.join("gabungan")
    await resumer.expect("member_joined", talkgroup="gabungan")
    others = {name: await Client.connect(live_server, name)
              for name in ("dishub1", "dishub2", "dispatcher1")}
    for other in others.values():
        assert (await other.next())["type"] == "welcome"

    await resumer.close()
    seen_from = len(watcher.frames)
    inside: set[str] = set()
    for _ in range(12):  # members join and leave during the outage
        name = rng.choice(sorted(others))
        kind = "leave" if name in inside else "join"
        answer = await others[name].answer(kind, talkgroup="gabungan")
        assert answer["type"] == ("left" if kind == "leave" else "joined"), answer
        inside ^= {name}
        await watcher.expect("member_left" if kind == "leave" else "member_joined",
                             talkgroup="gabungan")
    missed = [m for m in watcher.frames[seen_from:] if m["type"] in MEMBER_EVENTS]
    assert len(missed) == 12

    back = await Client.connect(live_server, "satpol1", resume=welcome["session"])
    first = await back.next()
    assert first["type"] == "welcome" and first["resumed"] is True
    assert first["joined"] == ["gabungan"]
    await others["dispatcher1"].answer("text", talkgroup="gabungan", body="selesai")
    replay = []
    while (msg := await back.next())["type"] != "text":
        replay.append(msg)
    assert replay == missed  # in order, nothing between, nothing twice
    for client in (back, watcher, *others.values()):
        await client.close()


async def test_hello_errors_carry_the_hello_ref(live_server: LiveServer) -> None:
    async with connect(f"{live_server.ws_url}/ws") as ws:
        await ws.send(json.dumps({"v": 1, "type": "hello", "token": "forged", "ref": "h1"}))
        error = json.loads(await ws.recv())
        assert error["type"] == "error" and error["ref"] == "h1"
        assert error["code"] == "token_invalid"
    async with connect(f"{live_server.ws_url}/ws") as ws:
        await ws.send(json.dumps({"v": 1, "type": "join", "talkgroup": "x", "ref": 4}))
        error = json.loads(await ws.recv())
        assert error["type"] == "error" and error["ref"] == 4
        assert error["code"] == "unauthorized"
    token = await token_for(live_server, "satpol1")
    async with connect(f"{live_server.ws_url}/ws") as ws:
        await ws.send(json.dumps({"v": 1, "type": "hello", "token": token, "ref": "h2"}))
        welcome = json.loads(await ws.recv())
        assert welcome["type"] == "welcome" and welcome["ref"] == "h2"


async def test_a_flood_is_closed_with_the_documented_code(live_server: LiveServer) -> None:
    client = await Client.connect(live_server, "satpol1")
    with contextlib.suppress(websockets.ConnectionClosed):
        for _ in range(400):
            await client.ws.send(json.dumps({"v": 1, "type": "ping"}))
    await until(lambda: client.closed, "the flooder to be closed", timeout=30)
    codes = {m.get("code") for m in client.frames if m["type"] == "error"}
    assert "flood" in codes and "rate_limited" in codes
    close = client.ws.protocol.close_rcvd
    assert close is not None and close.code == 4008
