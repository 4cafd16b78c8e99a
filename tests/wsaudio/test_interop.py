"""WebSocket and WebRTC clients in one net: each hears the other, by tone, with no
re-encoding in between (the server forwards the talker's Opus packets)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from tests.conftest import LiveServer
from tests.polling import until
from tests.radio.voice import VoiceClient
from tests.wsaudio.helpers import AudioClient, tone_packets

pytestmark = pytest.mark.media

Connect = Callable[..., Awaitable[AudioClient]]
A, B, C = 440.0, 660.0, 880.0


async def test_websocket_talker_is_heard_by_webrtc_listeners(
    live_server: LiveServer, audio_client: Connect
) -> None:
    d = await VoiceClient.connect(live_server, "dispatcher1", C, ["satpolpp"])
    s2 = await VoiceClient.connect(live_server, "satpol2", B, ["satpolpp"])
    ws_talker = await audio_client("satpol1", ["satpolpp"])
    try:
        await ws_talker.take_floor()
        packets = tone_packets(A, 150)
        await ws_talker.talk("satpolpp", packets[:100])
        await until(lambda: d.heard_on("satpolpp").count(A) >= 40
                       and s2.heard_on("satpolpp").count(A) >= 40, "WebRTC heard it", 8)
        assert d.heard_on("satpolpp").count(B) == 0
        wsaudio = live_server.runtime.services["wsaudio"]
        assert wsaudio.metrics.forwarded_webrtc >= 2 * 90
    finally:
        for c in (d, s2):
            await c.close()


async def test_webrtc_talker_is_heard_by_websocket_listeners(
    live_server: LiveServer, audio_client: Connect
) -> None:
    talker = await VoiceClient.connect(live_server, "satpol1", A, ["satpolpp"])
    rtc_listener = await VoiceClient.connect(live_server, "dispatcher1", C, ["satpolpp"])
    ws_listener = await audio_client("satpol2", ["satpolpp"])
    try:
        await talker.radio.send("floor_request")
        await talker.radio.expect("floor_granted")
        talker.talk()
        await until(lambda: len(ws_listener.frames) >= 60, "frames on the WebSocket", 8)
        talker.talk(False)
        tones = ws_listener.heard_tones(ws_listener.numbers["satpolpp"])
        assert tones.count(A) >= 50, tones
        assert B not in tones and C not in tones
        # Same packets, same numbering rules as for a WebSocket talker: one stream.
        assert len({h.frame.stream_id for h in ws_listener.frames}) == 1
        seqs = [h.frame.sequence for h in ws_listener.frames]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        # ...and the WebRTC listener heard it too.
        await until(lambda: rtc_listener.heard_on("satpolpp").count(A) >= 40, "WebRTC", 8)
    finally:
        for c in (talker, rtc_listener):
            await c.close()
