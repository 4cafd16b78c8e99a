"""The recorder on its own: pages reach the disk as the talk goes, gaps are concealed, the
disk's failures stay in the recorder."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ptt.oggopus import PLC_PACKET, read_ogg_opus
from ptt.server.recorder import Recorder
from ptt.server.service import Burst
from tests.media.audio import classify
from tests.wsaudio.helpers import TONES, decode_file, seconds, tone_packets

START = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


class Rows:
    """Stands in for the store: collects what the recorder reports."""

    def __init__(self) -> None:
        self.recorded: dict[int, tuple[str, int, int]] = {}

    def transmission_recorded(self, row_id: int, path: str, size: int,
                              duration_ms: int) -> None:
        self.recorded[row_id] = (path, size, duration_ms)


@pytest.fixture
async def recorder(tmp_path: Path) -> AsyncIterator[Recorder]:
    r = Recorder(tmp_path / "rec", Rows(), flush_samples=4800)  # a page every 100 ms
    r.start()
    yield r
    await r.close()


def rows(recorder: Recorder) -> dict[int, tuple[str, int, int]]:
    store: Any = recorder.store
    recorded: dict[int, tuple[str, int, int]] = store.recorded
    return recorded


def talk(recorder: Recorder, talker: int, packets: list[bytes], ts: int = 0) -> int:
    for packet in packets:
        recorder.packet(talker, packet, ts % (1 << 32), 960)
        ts += 960
    return ts


async def test_pages_are_on_disk_and_decodable_before_the_burst_ends(
    recorder: Recorder,
) -> None:
    burst = Burst(7, "satpolpp")
    recorder.burst_started(burst, START)
    recorder.transmission_stored(burst, 41)
    talk(recorder, 7, tone_packets(440.0, 50))
    await recorder.flush()
    path = recorder.root / "2025/03/04/41.opus"
    partial = read_ogg_opus(path.read_bytes())  # as a crash would leave it: no EOS page
    assert not partial.ended and len(partial.packets) == 50
    assert abs(seconds(decode_file(path)) - 1.0) <= 0.04
    assert rows(recorder) == {}  # not complete yet
    recorder.burst_ended(burst, "released", START)
    await recorder.flush()
    assert read_ogg_opus(path.read_bytes()).ended
    assert rows(recorder)[41] == ("2025/03/04/41.opus", path.stat().st_size, 994)


async def test_pages_wait_for_the_transmission_id(recorder: Recorder) -> None:
    burst = Burst(7, "satpolpp")
    recorder.burst_started(burst, START)
    talk(recorder, 7, tone_packets(440.0, 25))
    recorder.burst_ended(burst, "released", START)
    await recorder.flush()
    assert not (recorder.root / "2025").exists()
    recorder.transmission_stored(burst, 5)  # the store was slow
    await recorder.flush()
    stream = read_ogg_opus((recorder.root / "2025/03/04/5.opus").read_bytes())
    assert stream.ended and len(stream.packets) == 25


async def test_a_gap_in_the_talkers_timeline_is_concealed_not_skipped(
    recorder: Recorder,
) -> None:
    burst = Burst(7, "satpolpp")
    recorder.burst_started(burst, START)
    recorder.transmission_stored(burst, 1)
    ts = talk(recorder, 7, tone_packets(440.0, 10), ts=(1 << 32) - 5 * 960)  # wraps
    talk(recorder, 7, tone_packets(440.0, 10), ts=ts + 3 * 960)  # 3 packets lost
    recorder.burst_ended(burst, "released", START)
    await recorder.flush()
    path = recorder.root / "2025/03/04/1.opus"
    packets = read_ogg_opus(path.read_bytes()).packets
    assert len(packets) == 23 and packets[10:13] == [PLC_PACKET] * 3
    assert abs(seconds(decode_file(path)) - 0.46) <= 0.04
    assert classify(decode_file(path)[:4800], TONES) == 440.0


async def test_a_write_error_fails_that_recording_only(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad, good = Burst(7, "satpolpp"), Burst(8, "dishub")
    recorder.burst_started(bad, START)
    recorder.transmission_stored(bad, 1)
    await recorder.flush()
    handle = next(r for r in recorder._by_burst.values() if r.burst is bad).file
    assert handle is not None

    def broken(data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(handle, "write", broken)
    talk(recorder, 7, tone_packets(440.0, 30))
    recorder.burst_ended(bad, "released", START)
    recorder.burst_started(good, START)
    recorder.transmission_stored(good, 2)
    talk(recorder, 8, tone_packets(660.0, 30))
    await recorder.flush()
    assert recorder.metrics.disk_errors == 1 and recorder.alarm is not None
    assert "No space left" in recorder.alarm
    assert not (recorder.root / "2025/03/04/1.opus").exists()  # no half-written file
    recorder.burst_ended(good, "released", START)
    await recorder.flush()
    assert set(rows(recorder)) == {2} and recorder.alarm is None


async def test_a_backlog_drops_packets_and_never_blocks(tmp_path: Path) -> None:
    r = Recorder(tmp_path, Rows(), queue_limit=10)  # not started: nothing drains
    burst = Burst(7, "satpolpp")
    r.burst_started(burst, START)
    talk(r, 7, tone_packets(440.0, 25))
    assert r.metrics.dropped_queue_full == 16  # the start command and 9 packets wait
    assert r.alarm is not None
    await asyncio.sleep(0)


async def test_a_transmission_the_store_lost_is_not_recorded(recorder: Recorder) -> None:
    burst = Burst(7, "satpolpp")
    recorder.burst_started(burst, START)
    talk(recorder, 7, tone_packets(440.0, 5))
    recorder.transmission_stored(burst, None)
    recorder.burst_ended(burst, "released", START)
    await recorder.flush()
    assert recorder.metrics.discarded == 1 and rows(recorder) == {}
    assert not recorder.root.exists()
