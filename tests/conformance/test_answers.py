"""docs/protocol.md §4 "Direct answers": every client message that has an answer gets it with
its ``ref``, on the sender's copy only."""

from __future__ import annotations

from tests.conformance.client import Client
from tests.conftest import LiveServer


async def welcomed(server: LiveServer, username: str) -> Client:
    client = await Client.connect(server, username)
    assert (await client.next())["type"] == "welcome"
    return client


async def test_join_leave_and_the_floor_answer_with_their_ref(live_server: LiveServer) -> None:
    a, b, c = [await welcomed(live_server, n) for n in ("satpol1", "satpol2", "dispatcher1")]
    for client in (a, b, c):
        await client.join("satpolpp")

    granted = await a.answer("floor_request")
    assert granted["type"] == "floor_granted" and granted["talker"]["username"] == "satpol1"
    queued = await b.answer("floor_request")
    assert queued["type"] == "floor_queued" and queued["position"] == 1
    denied = await a.answer("floor_request")
    assert denied["type"] == "floor_denied" and denied["reason"] == "already_holder"

    withdrawn = await b.answer("floor_release")
    assert withdrawn["type"] == "floor_queue_cancelled" and withdrawn["reason"] == "cancelled"
    released = await a.answer("floor_release")
    assert released == {"v": 1, "type": "floor_released", "ref": released["ref"],
                        "talkgroup": "satpolpp", "talkgroups": ["satpolpp"]}
    nothing = await a.answer("floor_release")
    assert nothing["type"] == "error" and nothing["code"] == "not_holder"

    left = await b.answer("leave", talkgroup="satpolpp")
    assert left == {"v": 1, "type": "left", "ref": left["ref"], "talkgroup": "satpolpp"}
    gone = await a.expect("member_left", talkgroup="satpolpp")
    assert "ref" not in gone

    raised = await a.answer("emergency_raise")
    assert raised["type"] == "emergency_raised" and raised["raised_by"]["username"] == "satpol1"
    seen = await c.expect("emergency_raised")
    assert "ref" not in seen
    acked = await c.answer("emergency_ack", talkgroup="satpolpp")
    assert acked["type"] == "emergency_acknowledged"
    cleared = await c.answer("emergency_clear", talkgroup="satpolpp")
    assert cleared["type"] == "emergency_cleared"
    for client in (a, b, c):
        await client.close()


async def test_only_the_sender_of_a_text_gets_its_ref(live_server: LiveServer) -> None:
    a, b = [await welcomed(live_server, n) for n in ("satpol1", "satpol2")]
    for client in (a, b):
        await client.join("satpolpp")
    echo = await a.answer("text", talkgroup="satpolpp", body="Halo")
    assert echo["type"] == "text" and echo["body"] == "Halo"
    heard = await b.expect("text")
    assert heard["body"] == "Halo" and "ref" not in heard
    for client in (a, b):
        await client.close()


async def test_the_other_answers_carry_their_ref(live_server: LiveServer) -> None:
    a = await welcomed(live_server, "satpol1")
    assert (await a.answer("ping"))["type"] == "pong"
    assert (await a.answer("presence"))["type"] == "presence"
    assert (await a.answer("scan", talkgroups=["satpolpp"]))["type"] == "scan"
    assert (await a.answer("audio", transport="websocket"))["type"] == "audio"
    assert (await a.answer("recent", talkgroup="satpolpp"))["type"] == "recent"
    refused = await a.answer("join", talkgroup="dishub")
    assert refused["type"] == "error" and refused["code"] == "no_right"
    await a.close()
