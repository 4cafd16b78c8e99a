"""Every transmission is recorded as a standard Ogg Opus file, decodable by FFmpeg, as long
as the talk, carrying the talker's voice; an abrupt disconnect or a failing disk never
costs the net its audio."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from ptt.oggopus import read_ogg_opus
from tests.conftest import LiveServer
from tests.media.audio import classify
from tests.polling import until
from tests.wsaudio.helpers import (
    TONES,
    AudioClient,
    decode_file,
    seconds,
    settle,
    tone_packets,
    transmissions,
)

Connect = Callable[..., Awaitable[AudioClient]]
A = 440.0


async def test_a_recording_decodes_to_the_transmission_and_carries_the_talker(
    live_server: LiveServer, audio_client: Connect
) -> None:
    s1 = await audio_client("satpol1", ["satpolpp"])
    s2 = await audio_client("satpol2", ["satpolpp"])
    await s1.take_floor()
    await s1.talk("satpolpp", tone_packets(A, 100))  # 2 s, paced like a phone
    await s1.send("floor_release")
    await s2.expect("floor_idle")
    (row,) = await transmissions(live_server)
    assert row.path is not None and row.path.endswith(f"/{row.id}.opus")
    assert row.path.startswith(row.started_at.strftime("%Y/%m/%d/"))
    path = live_server.runtime.settings.recordings_path / row.path
    assert row.bytes == path.stat().st_size
    stream = read_ogg_opus(path.read_bytes())  # strict: CRCs, page order, headers, EOS
    assert stream.ended and len(stream.packets) == 100
    assert dict(stream.comments)["TALKGROUP"] == "satpolpp"
    pcm = decode_file(path)  # FFmpeg, not our reader
    assert row.duration_ms is not None
    assert abs(seconds(pcm) - row.duration_ms / 1000) <= 0.040
    assert abs(seconds(pcm) - 100 * 0.020) <= 0.040
    assert row.ended_at is not None
    floor_time = (row.ended_at - row.started_at).total_seconds()
    assert abs(floor_time - 2.0) < 0.5  # the floor was held about as long as the talk
    assert classify(pcm[4800:-4800], TONES) == A


async def test_an_abrupt_disconnect_still_leaves_a_valid_file(
    live_server: LiveServer, audio_client: Connect
) -> None:
    s1 = await audio_client("satpol1", ["satpolpp"])
    s2 = await audio_client("satpol2", ["satpolpp"])
    await s1.take_floor()
    await s1.talk("satpolpp", tone_packets(A, 40))
    s1.ws.transport.abort()  # no close frame, no release: the TCP connection just dies
    await s2.expect("floor_idle", timeout=5)
    (row,) = await transmissions(live_server)
    assert row.path is not None
    path = live_server.runtime.settings.recordings_path / row.path
    stream = read_ogg_opus(path.read_bytes())
    assert stream.ended and len(stream.packets) == 40
    pcm = decode_file(path)
    assert abs(seconds(pcm) - 0.8) <= 0.040
    assert classify(pcm[4800:-4800], TONES) == A


async def test_a_failing_disk_raises_the_alarm_but_the_net_keeps_its_audio(
    live_server: LiveServer, audio_client: Connect
) -> None:
    root = live_server.runtime.settings.recordings_path
    root.parent.mkdir(parents=True, exist_ok=True)
    root.write_text("a file where the recordings directory should be")
    s1 = await audio_client("satpol1", ["satpolpp"])
    s2 = await audio_client("satpol2", ["satpolpp"])
    await s1.take_floor()
    await s1.talk("satpolpp", tone_packets(A, 50))
    await until(lambda: len(s2.frames) == 50, "every frame heard despite the disk")
    await s1.send("floor_release")
    await s2.expect("floor_idle")
    await settle(live_server)
    recorder = live_server.runtime.services["recorder"]
    assert recorder.metrics.disk_errors >= 1 and recorder.alarm is not None
    (row,) = await transmissions(live_server)
    assert row.path is None and row.ended_at is not None  # on record, without audio
    token = await live_server.login("dispatcher1")
    async with httpx.AsyncClient(base_url=live_server.http_url,
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        status = (await http.get("/api/transmissions/status")).json()
        metrics = (await http.get("/metrics")).text
    assert status["alarm"] == recorder.alarm and status["recorder"]["disk_errors"] >= 1
    assert "siaga_recorder_alarm 1.0" in metrics
    # The next burst, once the disk is back, records again and clears the alarm.
    root.unlink()
    await s1.take_floor()
    await s1.talk("satpolpp", tone_packets(A, 10), pace=0.005)
    await s1.send("floor_release")
    await s2.expect("floor_idle")
    rows = await transmissions(live_server)
    assert rows[-1].path is not None and recorder.alarm is None
