"""The recorder alone (no network): transmissions cut by the floor messages, lost packets
concealed, and both Ogg writers (the server's and the client's own) readable by FFmpeg."""

from __future__ import annotations

from pathlib import Path

import pytest
from siaga_radio.ogg import MiniOggOpusWriter, packet_samples
from siaga_radio.recorder import TransmissionRecorder

from tests.clients.helpers import DURATION_TOLERANCE, decode_file, seconds, tone_of
from tests.media.audio import ToneEncoder

SATPOL1 = {"user_id": 3, "username": "satpol1"}
SATPOL2 = {"user_id": 4, "username": "satpol2"}


def taken(talker: dict[str, object]) -> dict[str, object]:
    return {"type": "floor_taken", "talkgroup": "satpolpp", "talkgroups": ["satpolpp"],
            "talker": talker, "call_type": "normal"}


IDLE = {"type": "floor_idle", "talkgroups": ["satpolpp"]}


@pytest.mark.parametrize("standalone", [False, True], ids=["server-writer", "own-writer"])
async def test_lost_packets_are_concealed_so_the_length_is_kept(
    tmp_path: Path, standalone: bool,
) -> None:
    recorder = TransmissionRecorder(tmp_path, grace=0.05, standalone_ogg=standalone)
    recorder.on_message(taken(SATPOL1))
    packets = ToneEncoder(440).packets(100)
    for seq, packet in enumerate(packets):
        if seq not in (40, 41, 42):  # three packets lost on the way
            recorder.on_audio("satpolpp", packet, (seq + 65530) % 65536, None)
    recorder.on_message(IDLE)
    [rec] = await recorder.wait_saved(1, timeout=2)
    assert rec.lost == 3 and rec.packets == 100 and rec.talker == "satpol1"
    samples = decode_file(rec.path)
    assert abs(seconds(samples) - 2.0) <= DURATION_TOLERANCE
    assert abs(tone_of(samples) - 440) < 5


async def test_a_new_talker_or_stream_starts_a_new_file(tmp_path: Path) -> None:
    recorder = TransmissionRecorder(tmp_path, grace=0.05)
    enc = ToneEncoder(660)
    recorder.on_message(taken(SATPOL1))
    for seq in range(10):
        recorder.on_audio("satpolpp", enc.packet(), seq, 7)
    recorder.on_message(taken(SATPOL2))  # pre-empted: the first file ends here
    for seq in range(10):
        recorder.on_audio("satpolpp", enc.packet(), seq, 8)
    for seq in range(5):
        recorder.on_audio("satpolpp", enc.packet(), seq, 9)  # a new burst of the same talker
    recorder.close()
    assert [(r.talker, r.packets) for r in recorder.saved] == [
        ("satpol1", 10), ("satpol2", 10), ("satpol2", 5)]
    assert len({r.path for r in recorder.saved}) == 3


async def test_audio_before_floor_taken_takes_the_talker_it_names(tmp_path: Path) -> None:
    """Over WebRTC the first packets can beat the floor message that names the talker."""
    recorder = TransmissionRecorder(tmp_path, grace=0.05)
    enc = ToneEncoder(440)
    recorder.on_audio("satpolpp", enc.packet(), 0, None)
    recorder.on_message(taken(SATPOL1))  # one transmission, not two
    for seq in range(1, 10):
        recorder.on_audio("satpolpp", enc.packet(), seq, None)
    recorder.on_message(taken(SATPOL2))  # a real change of talker still cuts
    recorder.on_audio("satpolpp", enc.packet(), 10, None)
    recorder.close()
    assert [(r.talker, r.packets) for r in recorder.saved] == [("satpol1", 10), ("satpol2", 1)]


async def test_duplicates_and_late_packets_are_dropped(tmp_path: Path) -> None:
    recorder = TransmissionRecorder(tmp_path, grace=0.05)
    enc = ToneEncoder(440)
    for seq in (1, 2, 2, 3, 1, 4):
        recorder.on_audio("satpolpp", enc.packet(), seq, None)
    recorder.on_message(IDLE)
    [rec] = await recorder.wait_saved(1, timeout=2)
    assert rec.packets == 4 and rec.lost == 0 and rec.talker is None


async def test_audio_after_floor_idle_still_lands_in_the_transmission(tmp_path: Path) -> None:
    """WebRTC audio travels apart from signaling: the last packets may follow floor_idle."""
    clock = Clock()
    recorder = TransmissionRecorder(tmp_path, grace=0.25, clock=clock)
    enc = ToneEncoder(440)
    recorder.on_message(taken(SATPOL1))
    recorder.on_audio("satpolpp", enc.packet(), 0, None)
    recorder.on_message(IDLE)
    assert recorder.get_timer() == 0.25
    clock.now = 0.125  # within the grace
    recorder.on_audio("satpolpp", enc.packet(), 1, None)
    assert recorder.get_timer() == 0.375  # the grace starts again at the last packet
    clock.now = 0.25
    assert recorder.handle_timer() == [] and recorder.saved == []
    clock.now = 0.375
    [rec] = recorder.handle_timer()
    assert rec.packets == 2 and recorder.saved == [rec]
    assert recorder.get_timer() is None


async def test_silence_ends_a_transmission_without_floor_idle(tmp_path: Path) -> None:
    clock = Clock()
    recorder = TransmissionRecorder(tmp_path, silence=2.0, clock=clock)
    enc = ToneEncoder(440)
    recorder.on_message(taken(SATPOL1))
    recorder.on_audio("satpolpp", enc.packet(), 0, None)
    clock.now = 1.5
    assert recorder.handle_timer() == []
    recorder.on_audio("satpolpp", enc.packet(), 1, None)
    clock.now = 3.5
    [rec] = recorder.handle_timer()
    assert rec.packets == 2 and rec.talker == "satpol1"


class Clock:
    """Time stepped by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_packet_durations_follow_the_toc_byte() -> None:
    packet = ToneEncoder(440).packet()
    assert packet_samples(packet) == 960
    assert packet_samples(b"\xf8") == 960  # CELT FB 20 ms, one frame
    assert packet_samples(bytes([(0 << 3) | 0])) == 480  # SILK NB 10 ms
    assert packet_samples(bytes([(3 << 3) | 1, 0])) == 2 * 2880  # two 60 ms frames
    assert packet_samples(bytes([(16 << 3) | 3, 4])) == 4 * 120  # code 3: four 2.5 ms
    with pytest.raises(ValueError):
        packet_samples(b"")


def test_own_writer_pages_are_read_by_the_server_reader() -> None:
    from ptt.oggopus import read_ogg_opus

    writer = MiniOggOpusWriter(serial=1234, comments={"TALKER": "satpol1"}, flush_samples=4800)
    data = b"".join(writer.write(p) for p in ToneEncoder(440).packets(30)) + writer.close()
    stream = read_ogg_opus(data)  # strict: CRCs, page order, headers
    assert len(stream.packets) == 30 and stream.ended
    assert stream.samples == 30 * 960 - 312  # playable: pre-skip removed
    assert ("TALKER", "satpol1") in stream.comments
