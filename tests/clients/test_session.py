"""The client's session: resume after a dropped socket, emergency, position and text as a
dispatcher sees them, and refusals reported as errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from siaga_radio import FloorDenied, LoginFailed, RadioClient, ToneSource, TransmissionRecorder

from tests.clients.helpers import radio, until
from tests.conftest import LiveServer
from tests.radio.client import RadioClient as Dispatcher


async def test_a_dropped_socket_resumes_the_session_and_voice_works_again(
    live_server: LiveServer, tmp_path: Path,
) -> None:
    async with radio(live_server, "satpol2", transport="webrtc", receive=True,
                     join=["satpolpp"]) as listener, \
            radio(live_server, "satpol1", join=["satpolpp", "gabungan"]) as talker:
        session = talker.session
        await talker.select("gabungan")
        await talker.drop()
        await until(lambda: talker.connections == 2 and talker.state == "open", "resumed", 10)
        assert talker.resumed and talker.session == session
        assert sorted(talker.joined) == ["gabungan", "satpolpp"]
        assert talker.selected == "gabungan"

        recorder = TransmissionRecorder(tmp_path)
        recorder.attach(listener)
        await talker.talk("satpolpp", ToneSource(440), 1.0)  # a new peer connection
        [rec] = await recorder.wait_saved(1, timeout=5)
        assert rec.talker == "satpol1" and rec.packets >= 45


async def test_a_forgotten_session_is_rebuilt_from_the_wanted_talkgroups(
    live_server: LiveServer,
) -> None:
    async with radio(live_server, "satpol1", transport="websocket",
                     join=["gabungan"]) as client:
        service = live_server.runtime.services["radio"]
        service.resume_window = 0.0  # the server forgets dropped sessions at once
        await client.drop()
        await until(lambda: client.connections == 2 and client.state == "open", "reconnected",
                    10)
        assert not client.resumed
        await until(lambda: client.joined == ["gabungan"], "joined again")


async def test_emergency_with_position_reaches_the_dispatcher(live_server: LiveServer) -> None:
    dispatcher = await Dispatcher.connect(live_server, "dispatcher1")
    try:
        async with radio(live_server, "satpol1", transport="websocket",
                         join=["satpolpp"]) as officer:
            raised = await officer.raise_emergency(lat=-7.7543, lon=113.2159)
            assert raised["talkgroup"] == "satpolpp"
            alert = await dispatcher.expect("emergency_raised", talkgroup="satpolpp")
            assert alert["raised_by"]["username"] == "satpol1"
            where = await dispatcher.expect("location")
            assert (where["lat"], where["lon"]) == (-7.7543, 113.2159)
            assert where["user"]["username"] == "satpol1"

            await officer.send_location(-7.76, 113.22, 12.0)
            moved = await dispatcher.expect("location", lat=-7.76)
            assert moved["accuracy"] == 12.0
    finally:
        await dispatcher.close()


async def test_text_reaches_the_talkgroup(live_server: LiveServer) -> None:
    async with radio(live_server, "satpol2", join=["satpolpp"], transport="websocket") as b, \
            radio(live_server, "satpol1", join=["satpolpp"], transport="websocket") as a:
        heard = b.waiter(lambda m: m.get("type") == "text")
        echo = await a.send_text("satpolpp", "Jalan Suroyo ditutup")
        assert echo["sender"]["username"] == "satpol1"
        got = await heard
        assert got["body"] == "Jalan Suroyo ditutup" and got["sender"]["username"] == "satpol1"


async def test_a_queued_request_is_granted_when_the_talker_releases(
    live_server: LiveServer,
) -> None:
    async with radio(live_server, "satpol1", join=["satpolpp"], transport="websocket") as a, \
            radio(live_server, "satpol2", join=["satpolpp"], transport="websocket") as b:
        await a.request_floor("satpolpp")
        queued = b.waiter(lambda m: m.get("type") == "floor_queued")
        waiting = asyncio.create_task(b.request_floor("satpolpp"))
        assert (await asyncio.wait_for(queued, 3))["position"] == 1
        assert not waiting.done()
        await a.release_floor()
        grant = await asyncio.wait_for(waiting, 3)
        assert grant["talker"]["username"] == "satpol2"
        assert grant["accept_within"] is not None


async def test_talking_off_the_selected_talkgroup_is_floor_denied(
    live_server: LiveServer,
) -> None:
    async with radio(live_server, "satpol1", join=["satpolpp", "gabungan"],
                     transport="websocket") as officer:
        assert officer.selected == "satpolpp"
        with pytest.raises(FloorDenied) as denied:
            await officer.request_floor("gabungan")
        assert denied.value.code == "not_selected"


async def test_wrong_password_is_a_login_error(live_server: LiveServer) -> None:
    client = RadioClient(live_server.http_url, "satpol1", "wrong")
    with pytest.raises(LoginFailed, match="401"):
        await client.connect()
