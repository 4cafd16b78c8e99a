"""The radio client end to end against the real server: a talker's tone is heard by
another client and saved as an Ogg Opus file that decodes to the same tone and length,
over WebRTC, over WebSocket audio, and across the two."""

from __future__ import annotations

from pathlib import Path

import pytest
from siaga_radio import ToneSource, TransmissionRecorder
from siaga_radio.client import Transport

from tests.clients.helpers import DURATION_TOLERANCE, decode_file, radio, seconds, tone_of
from tests.conftest import LiveServer

pytestmark = pytest.mark.media

TALK = 2.0


@pytest.mark.parametrize(("talker_transport", "listener_transport"), [
    ("webrtc", "webrtc"),
    ("websocket", "websocket"),
    ("websocket", "webrtc"),
    ("webrtc", "websocket"),
])
async def test_a_talk_is_recorded_with_its_tone_and_length(
    live_server: LiveServer, tmp_path: Path,
    talker_transport: Transport, listener_transport: Transport,
) -> None:
    async with radio(live_server, "satpol2", transport=listener_transport, receive=True,
                     join=["satpolpp"]) as listener, \
            radio(live_server, "satpol1", transport=talker_transport,
                  join=["satpolpp"]) as talker:
        recorder = TransmissionRecorder(tmp_path)
        recorder.attach(listener)
        result = await talker.talk("satpolpp", ToneSource(440), TALK)
        assert result.packets == 100 and result.ended == "done"
        [rec] = await recorder.wait_saved(1, timeout=5)

    assert rec.talkgroup == "satpolpp" and rec.talker == "satpol1"
    assert rec.path.suffix == ".opus" and rec.path.exists()
    assert not list(rec.path.parent.glob("*.part"))
    assert rec.lost <= 2
    samples = decode_file(rec.path)
    assert abs(tone_of(samples) - 440) < 5
    assert abs(seconds(samples) - TALK) <= DURATION_TOLERANCE, seconds(samples)


async def test_each_talkgroup_is_saved_apart_with_its_talker(
    live_server: LiveServer, tmp_path: Path,
) -> None:
    """A dispatcher hears two groups at once; two officers talk over each other on them."""
    import asyncio

    async with radio(live_server, "dispatcher1", transport="websocket", receive=True,
                     join=["satpolpp", "dishub"]) as dispatcher, \
            radio(live_server, "satpol1", join=["satpolpp"]) as satpol, \
            radio(live_server, "dishub1", transport="websocket", join=["dishub"]) as dishub:
        recorder = TransmissionRecorder(tmp_path)
        recorder.attach(dispatcher)
        await asyncio.gather(satpol.talk("satpolpp", ToneSource(440), 1.5),
                             dishub.talk("dishub", ToneSource(660), 1.5))
        saved = await recorder.wait_saved(2, timeout=5)

    by_group = {rec.talkgroup: rec for rec in saved}
    assert by_group["satpolpp"].talker == "satpol1"
    assert by_group["dishub"].talker == "dishub1"
    assert abs(tone_of(decode_file(by_group["satpolpp"].path)) - 440) < 5
    assert abs(tone_of(decode_file(by_group["dishub"].path)) - 660) < 5
