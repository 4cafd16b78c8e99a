"""Voice through the whole server: floor control on /ws decides, WebRTC carries real Opus.

Each officer's uplink is a distinct sine tone; listeners decode what they receive and
recognise tones by FFT (see tests/media/audio.py).
"""

from __future__ import annotations

import pytest

from tests.conftest import LiveServer
from tests.polling import until
from tests.radio.voice import VoiceClient

pytestmark = pytest.mark.media

A, B, C = 440.0, 660.0, 880.0


async def test_holder_is_heard_by_all_and_a_non_holder_by_nobody(
    live_server: LiveServer,
) -> None:
    s1 = await VoiceClient.connect(live_server, "satpol1", A, ["satpolpp"])
    s2 = await VoiceClient.connect(live_server, "satpol2", B, ["satpolpp"])
    d = await VoiceClient.connect(live_server, "dispatcher1", C, ["satpolpp"])
    try:
        await s1.radio.send("floor_request")
        await s1.radio.expect("floor_granted")
        s1.talk()
        s2.talk()  # talks without the floor: the server must drop it
        await until(lambda: s2.heard_on("satpolpp").count(A) >= 25
                       and d.heard_on("satpolpp").count(A) >= 25, "the holder heard", 8)
        assert s2.heard_on("satpolpp").count(B) == 0
        assert d.heard_on("satpolpp").count(B) == 0
        assert s1.heard_on("satpolpp").count(A) == 0  # the talker does not hear itself
        relay = live_server.runtime.services["webrtc"].relay
        assert relay.metrics.dropped_not_holder > 0
    finally:
        for c in (s1, s2, d):
            await c.close()


async def test_dispatcher_hears_two_groups_on_separate_tracks(live_server: LiveServer) -> None:
    d = await VoiceClient.connect(live_server, "dispatcher1", C, ["satpolpp", "dishub"])
    assert sorted(d.downlinks.values()) == ["dishub", "satpolpp"]
    s1 = await VoiceClient.connect(live_server, "satpol1", A, ["satpolpp"])
    h1 = await VoiceClient.connect(live_server, "dishub1", B, ["dishub"])
    try:
        for talker in (s1, h1):
            await talker.radio.send("floor_request")
            await talker.radio.expect("floor_granted")
            talker.talk()
        await until(lambda: d.heard_on("satpolpp").count(A) >= 20
                       and d.heard_on("dishub").count(B) >= 20, "both groups heard", 8)
        assert d.heard_on("satpolpp").count(B) == 0
        assert d.heard_on("dishub").count(A) == 0
    finally:
        for c in (d, s1, h1):
            await c.close()


async def test_patch_carries_audio_across_groups(live_server: LiveServer) -> None:
    d = await VoiceClient.connect(live_server, "dispatcher1", C, ["satpolpp"])
    s1 = await VoiceClient.connect(live_server, "satpol1", A, ["satpolpp"])
    h1 = await VoiceClient.connect(live_server, "dishub1", B, ["dishub"])
    try:
        await d.radio.send("patch", talkgroups=["satpolpp", "dishub"])
        await h1.radio.expect("patched")
        await s1.radio.send("floor_request")
        granted = await s1.radio.expect("floor_granted")
        assert granted["talkgroups"] == ["dishub", "satpolpp"]
        s1.talk()
        await until(lambda: h1.heard_on("dishub").count(A) >= 20, "heard across", 8)
    finally:
        for c in (d, s1, h1):
            await c.close()


async def test_late_joiner_hears_the_current_talker(live_server: LiveServer) -> None:
    s1 = await VoiceClient.connect(live_server, "satpol1", A, ["satpolpp"])
    late = await VoiceClient.connect(live_server, "satpol2", B, [])
    try:
        await s1.radio.send("floor_request")
        await s1.radio.expect("floor_granted")
        s1.talk()
        await until(lambda: s1.peer.uplink.sent >= 25, "half a second of talk")  # 20 ms each
        await late.radio.send("join", talkgroup="satpolpp")
        joined = await late.radio.expect("joined")
        assert joined["talker"]["username"] == "satpol1"  # late entry: who is talking
        await late.answer_server()
        await until(lambda: late.heard_on("satpolpp").count(A) >= 10, "late entry", 8)
    finally:
        for c in (s1, late):
            await c.close()


async def test_talker_change_is_heard_without_a_long_gap(live_server: LiveServer) -> None:
    s1 = await VoiceClient.connect(live_server, "satpol1", A, ["satpolpp"])
    s2 = await VoiceClient.connect(live_server, "satpol2", B, ["satpolpp"])
    d = await VoiceClient.connect(live_server, "dispatcher1", C, ["satpolpp"])
    try:
        await s1.radio.send("floor_request")
        await s1.radio.expect("floor_granted")
        s1.talk()
        heard = d.heard_on("satpolpp")
        await until(lambda: heard.count(A) >= 15, "first talker", 8)
        await s2.radio.send("floor_request")
        await s2.radio.expect("floor_queued")
        s2.talk()  # already sending: the queued grant is taken by its first packet
        await s1.radio.send("floor_release")
        s1.talk(False)
        await until(lambda: heard.count(B) >= 15, "second talker", 8)
        last_a = heard.last(A)
        first_b = heard.first(B)
        assert last_a is not None and first_b is not None and first_b > last_a
        gap = heard.wall[first_b] - heard.wall[last_a]
        assert gap < 0.1, f"talker change took {gap * 1000:.0f} ms"
    finally:
        for c in (s1, s2, d):
            await c.close()


async def test_garbage_sdp_is_refused_and_other_calls_continue(live_server: LiveServer) -> None:
    s1 = await VoiceClient.connect(live_server, "satpol1", A, ["satpolpp"])
    d = await VoiceClient.connect(live_server, "dispatcher1", C, ["satpolpp"])
    try:
        from tests.radio.client import RadioClient

        bad = await RadioClient.connect(live_server, "satpol2")
        await bad.send("rtc_offer", sdp="this is not SDP", ref="o1")
        error = await bad.expect("error")
        assert error["code"] == "bad_sdp" and error["ref"] == "o1"
        await s1.radio.send("floor_request")
        await s1.radio.expect("floor_granted")
        s1.talk()
        await until(lambda: d.heard_on("satpolpp").count(A) >= 15, "others continue", 8)
    finally:
        for c in (s1, d):
            await c.close()


async def test_patching_a_busy_floor_keeps_one_transmission(live_server: LiveServer) -> None:
    """The talker of a floor that gets patched stays on air for the new audience, and its
    transmission ends once, when the patch floor goes idle."""
    from sqlalchemy import select

    from ptt.store.models import TransmissionRow

    d = await VoiceClient.connect(live_server, "dispatcher1", C, ["satpolpp"])
    s1 = await VoiceClient.connect(live_server, "satpol1", A, ["satpolpp"])
    h1 = await VoiceClient.connect(live_server, "dishub1", B, ["dishub"])
    try:
        await s1.radio.send("floor_request")
        await s1.radio.expect("floor_granted")
        s1.talk()
        await d.radio.send("patch", talkgroups=["satpolpp", "dishub"])
        assert (await h1.radio.expect("floor_taken"))["talker"]["username"] == "satpol1"
        await until(lambda: h1.heard_on("dishub").count(A) >= 15, "heard after patch", 8)
        await s1.radio.send("floor_release")
        await h1.radio.expect("floor_idle")
        await live_server.runtime.services["radio_store"].flush()
        async with live_server.runtime.sessions() as s:
            rows = list((await s.execute(select(TransmissionRow))).scalars())
        assert [(r.talkgroup, r.end_reason) for r in rows] == [("satpolpp", "released")]
    finally:
        for c in (d, s1, h1):
            await c.close()
