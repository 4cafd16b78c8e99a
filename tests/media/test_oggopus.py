"""Ogg Opus (RFC 7845) written from received Opus packets; read back by PyAV and opusdec."""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ptt.oggopus import (
    FLAG_BOS,
    FLAG_CONTINUED,
    FLAG_EOS,
    PLC_PACKET,
    Bandwidth,
    InvalidOpusPacket,
    Mode,
    OggOpusWriter,
    OggPage,
    OggReadError,
    WriterClosed,
    _lacing,
    _page,
    crc32_ogg,
    iter_pages,
    packet_samples,
    parse_toc,
    read_ogg_opus,
)

from .audio import RATE, ToneEncoder, dominant_frequency

# RFC 6716 §3.1 Table 2, transcribed: config ranges -> (mode, bandwidth, frame sizes in ms).
RFC_TABLE_2 = [
    (range(0, 4), Mode.SILK, Bandwidth.NB, [10, 20, 40, 60]),
    (range(4, 8), Mode.SILK, Bandwidth.MB, [10, 20, 40, 60]),
    (range(8, 12), Mode.SILK, Bandwidth.WB, [10, 20, 40, 60]),
    (range(12, 14), Mode.HYBRID, Bandwidth.SWB, [10, 20]),
    (range(14, 16), Mode.HYBRID, Bandwidth.FB, [10, 20]),
    (range(16, 20), Mode.CELT, Bandwidth.NB, [2.5, 5, 10, 20]),
    (range(20, 24), Mode.CELT, Bandwidth.WB, [2.5, 5, 10, 20]),
    (range(24, 28), Mode.CELT, Bandwidth.SWB, [2.5, 5, 10, 20]),
    (range(28, 32), Mode.CELT, Bandwidth.FB, [2.5, 5, 10, 20]),
]


def decode_with_pyav(data: bytes) -> tuple[np.ndarray, list[int]]:
    """Decode an Ogg Opus file with PyAV (FFmpeg's demuxer and decoder): mono samples, pts."""
    chunks, pts = [], []
    with av.open(io.BytesIO(data), format="ogg") as container:
        for frame in container.decode(audio=0):
            pcm = frame.to_ndarray()
            chunks.append(pcm.reshape(len(frame.layout.channels), -1).mean(axis=0))
            pts.append(frame.pts)
    return (np.concatenate(chunks) if chunks else np.zeros(0)), pts


def tone_stream(freq: float, count: int, frame_size: int = 960, **kwargs: object) -> bytes:
    enc = ToneEncoder(freq)
    w = OggOpusWriter(serial=0x5EA6A, **kwargs)  # type: ignore[arg-type]
    out = b"".join(w.write(p) for p in enc.packets(count, frame_size))
    return out + w.close()


class TestToc:
    @pytest.mark.parametrize("configs,mode,bandwidth,sizes_ms", RFC_TABLE_2)
    def test_every_config_matches_rfc_table(self, configs, mode, bandwidth, sizes_ms) -> None:
        for config, ms in zip(configs, sizes_ms, strict=True):
            toc = parse_toc(bytes([config << 3]))
            assert (toc.mode, toc.bandwidth) == (mode, bandwidth)
            assert toc.frame_samples == ms * 48
            assert toc.samples == ms * 48

    def test_stereo_bit(self) -> None:
        assert parse_toc(b"\x7c").stereo and not parse_toc(b"\x78").stereo

    def test_codes_give_frame_count(self) -> None:
        assert packet_samples(bytes([0x78 | 0])) == 960  # one frame
        assert packet_samples(bytes([0x78 | 1, 1, 2])) == 1920  # two equal frames
        assert packet_samples(bytes([0x78 | 2, 1, 2])) == 1920  # two frames, sizes differ
        assert packet_samples(bytes([0x78 | 3, 3])) == 2880  # M = 3
        assert packet_samples(bytes([0x78 | 3, 0x80 | 0x40 | 2, 0])) == 1920  # VBR + padding

    @pytest.mark.parametrize(
        "packet,why",
        [
            (b"", "R1"),
            (bytes([0x78 | 1, 1]), "R3"),
            (bytes([0x78 | 3]), "R6"),
            (bytes([0x78 | 3, 0]), "R5"),
            (bytes([(3 << 3) | 3, 3]), "120 ms"),  # 3 x 60 ms
            (bytes([(16 << 3) | 3, 49]), "120 ms"),  # 49 x 2.5 ms
        ],
    )
    def test_invalid_packets(self, packet: bytes, why: str) -> None:
        with pytest.raises(InvalidOpusPacket, match=why):
            parse_toc(packet)

    def test_48_frames_of_2_5_ms_is_the_longest_code3(self) -> None:
        assert packet_samples(bytes([(16 << 3) | 3, 48])) == 5760

    @pytest.mark.parametrize("frame_size", [120, 240, 480, 960, 1920, 2880])
    @pytest.mark.parametrize("channels", [1, 2])
    def test_agrees_with_libopus_on_real_packets(self, frame_size: int, channels: int) -> None:
        enc = ToneEncoder(440, channels=channels)
        for packet in enc.packets(5, frame_size):
            assert packet_samples(packet) == frame_size


class TestPages:
    def test_crc_check_value(self) -> None:
        # CRC-32 with polynomial 0x04C11DB7, init 0, unreflected, no xorout: check 0x89A1897F.
        assert crc32_ogg(b"123456789") == 0x89A1897F

    def test_header_layout_rfc7845(self) -> None:
        w = OggOpusWriter(serial=7, comments={"TALKER": "budi", "TALKGROUP": "42"})
        data = w.write(ToneEncoder(440).packet()) + w.close()
        pages = list(iter_pages(data))
        head, tags, audio = pages[0], pages[1], pages[2]
        assert head.flags == FLAG_BOS and head.granule == 0 and head.sequence == 0
        assert head.body == b"OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00"
        assert tags.flags == 0 and tags.granule == 0 and tags.body.startswith(b"OpusTags")
        assert audio.flags == FLAG_EOS and audio.granule == 960
        assert {p.serial for p in pages} == {7}

    def test_comments_and_vendor_round_trip(self) -> None:
        w = OggOpusWriter(
            serial=1,
            vendor="siaga 0.1",
            comments=[("TALKER", "Siti Nurhaliza"), ("TALKGROUP", "Satpol PP 1"), ("X", "a=b")],
        )
        s = read_ogg_opus(w.write(ToneEncoder(440).packet()) + w.close())
        assert s.vendor == "siaga 0.1"
        assert s.comments == [
            ("TALKER", "Siti Nurhaliza"),
            ("TALKGROUP", "Satpol PP 1"),
            ("X", "a=b"),
        ]

    @pytest.mark.parametrize("key", ["", "A=B", "ÄÖ"])
    def test_bad_comment_key(self, key: str) -> None:
        with pytest.raises(ValueError):
            OggOpusWriter(serial=1, comments={key: "v"})

    def test_granule_counts_toc_durations_incl_pre_skip(self) -> None:
        enc = ToneEncoder(440)
        packets = enc.packets(3, 2880) + enc.packets(2, 1920) + enc.packets(4, 480)
        w = OggOpusWriter(serial=1, flush_samples=3000)
        data = b"".join(w.write(p) for p in packets) + w.close()
        s = read_ogg_opus(data)
        assert s.packets == packets
        assert [g for g, _ in s.granules] == [5760, 10560, 13920, 14400]
        assert s.samples == 14400 - 312
        assert s.ended

    def test_page_flushed_every_half_second_by_default(self) -> None:
        w = OggOpusWriter(serial=1)
        outs = [w.write(p) for p in ToneEncoder(440).packets(60)]
        emitted = [i for i, out in enumerate(outs) if out]
        assert emitted == [0, 24, 49]  # headers with packet 1; then every 25 x 20 ms

    def test_full_lacing_table_starts_a_new_page(self) -> None:
        w = OggOpusWriter(serial=1, flush_samples=10**9)
        big = bytes([0x78]) + bytes(600)  # 3 lacing values each
        data = b"".join(w.write(big) for _ in range(100)) + w.close()
        pages = list(iter_pages(data))[2:]
        assert all(len(p.segments) <= 255 for p in pages)
        assert [len(p.segments) for p in pages] == [255, 45]
        assert read_ogg_opus(data).packets == [big] * 100

    def test_packet_longer_than_a_page_continues(self) -> None:
        huge = bytes([0x78]) + bytes(range(256)) * 400  # 102401 bytes, 402 lacing values
        w = OggOpusWriter(serial=1)
        small = ToneEncoder(440).packet()
        data = w.write(small) + w.write(huge) + w.write(small) + w.close()
        pages = list(iter_pages(data))[2:]
        assert [p.flags for p in pages] == [0, 0, FLAG_CONTINUED | FLAG_EOS]
        assert [p.granule for p in pages] == [960, -1, 2880]
        assert read_ogg_opus(data).packets == [small, huge, small]

    def test_flush_forces_a_page_and_empty_flush_is_nothing(self) -> None:
        w = OggOpusWriter(serial=1)
        w.write(ToneEncoder(440).packet())
        assert len(list(iter_pages(w.flush()))) == 1
        assert w.flush() == b""

    def test_empty_stream_is_headers_and_eos(self) -> None:
        w = OggOpusWriter(serial=1)
        s = read_ogg_opus(w.close())
        assert s.packets == [] and s.ended

    def test_write_after_close_is_refused(self) -> None:
        w = OggOpusWriter(serial=1)
        w.close()
        assert w.close() == b"" and w.flush() == b""
        with pytest.raises(WriterClosed):
            w.write(b"\x78")

    def test_invalid_packet_refused_before_it_corrupts_the_stream(self) -> None:
        w = OggOpusWriter(serial=1)
        with pytest.raises(InvalidOpusPacket):
            w.write(b"")
        assert read_ogg_opus(w.write(b"\x78\x00") + w.close()).packets == [b"\x78\x00"]

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"serial": -1},
            {"serial": 1, "channels": 3},
            {"serial": 1, "pre_skip": 70000},
            {"serial": 1, "flush_samples": 0},
        ],
    )
    def test_bad_arguments(self, kwargs: dict[str, int]) -> None:
        with pytest.raises(ValueError):
            OggOpusWriter(**kwargs)  # type: ignore[arg-type]


def rebuild(pages: list[OggPage]) -> bytes:
    """Serialise pages again with fresh CRCs, to craft streams that break one rule each."""
    return b"".join(
        _page(p.flags, p.granule, p.serial, p.sequence, p.segments, p.body) for p in pages
    )


def laced(*packets: bytes) -> tuple[bytes, bytes]:
    return b"".join(_lacing(len(p)) for p in packets), b"".join(packets)


class TestReader:
    @pytest.fixture
    def pages(self) -> list[OggPage]:
        w = OggOpusWriter(serial=9, flush_samples=960)
        enc = ToneEncoder(440)
        return list(iter_pages(b"".join(w.write(p) for p in enc.packets(3)) + w.close()))

    def test_writer_reports_position_and_duration(self) -> None:
        w = OggOpusWriter(serial=1)
        for p in ToneEncoder(440).packets(50):
            w.write(p)
        assert w.granule_position == 48000
        assert w.duration == pytest.approx((48000 - 312) / 48000)

    def test_crafted_stream_passes_when_unchanged(self, pages: list[OggPage]) -> None:
        assert len(read_ogg_opus(rebuild(pages)).packets) == 3

    @pytest.mark.parametrize(
        "mutate,error",
        [
            (lambda ps: [replace(ps[0], flags=0), *ps[1:]], "beginning-of-stream"),
            (lambda ps: [*ps[:3], replace(ps[3], serial=10), *ps[4:]], "more than one"),
            (lambda ps: [*ps, replace(ps[-1], sequence=len(ps))], "after the end-of-stream"),
            (lambda ps: [*ps[:2], *ps[3:]], "page 3 where 2 was expected"),
            (lambda ps: [*ps[:2], replace(ps[2], flags=FLAG_CONTINUED), *ps[3:]], "continued"),
            (lambda ps: [*ps[:2], replace(ps[2], granule=-1), *ps[3:]], "granule position"),
            (lambda ps: ps[:1], "missing OpusHead or OpusTags"),
        ],
    )
    def test_refuses_streams_breaking_rfc7845(self, pages, mutate, error: str) -> None:
        with pytest.raises(OggReadError, match=error):
            read_ogg_opus(rebuild(mutate(pages)))

    def test_opus_head_must_be_alone(self, pages: list[OggPage]) -> None:
        segments, body = laced(pages[0].body, pages[1].body)
        with pytest.raises(OggReadError, match="alone on the first page"):
            read_ogg_opus(rebuild([replace(pages[0], segments=segments, body=body)]))

    def test_audio_must_not_share_the_tags_page(self, pages: list[OggPage]) -> None:
        segments, body = laced(pages[1].body, pages[2].body)
        merged = replace(pages[1], segments=segments, body=body, granule=960)
        with pytest.raises(OggReadError, match="shares a page with the headers"):
            read_ogg_opus(rebuild([pages[0], merged]))

    @pytest.mark.parametrize(
        "head,error",
        [(b"OpusHeaX" + bytes(11), "not an OpusHead"), (b"OpusHead\x10" + bytes(10), "version")],
    )
    def test_bad_opus_head(self, pages: list[OggPage], head: bytes, error: str) -> None:
        first = replace(pages[0], segments=_lacing(len(head)), body=head)
        with pytest.raises(OggReadError, match=error):
            read_ogg_opus(rebuild([first, *pages[1:]]))

    @pytest.mark.parametrize(
        "tags,error",
        [(b"OpusTagz" + bytes(8), "not OpusTags"), (b"OpusTags\xff\x00\x00\x00", "malformed")],
    )
    def test_bad_opus_tags(self, pages: list[OggPage], tags: bytes, error: str) -> None:
        second = replace(pages[1], segments=_lacing(len(tags)), body=tags)
        with pytest.raises(OggReadError, match=error):
            read_ogg_opus(rebuild([pages[0], second, *pages[2:]]))

    def test_truncated_page_header(self, pages: list[OggPage]) -> None:
        with pytest.raises(OggReadError, match="truncated page header"):
            read_ogg_opus(rebuild(pages) + b"OggS\x00")

    def test_detects_corruption(self) -> None:
        data = bytearray(tone_stream(440, 10))
        data[-5] ^= 0xFF
        with pytest.raises(OggReadError, match="CRC"):
            read_ogg_opus(bytes(data))

    def test_detects_truncation_inside_a_page(self) -> None:
        with pytest.raises(OggReadError, match="truncated"):
            read_ogg_opus(tone_stream(440, 10)[:-3])

    def test_rejects_non_ogg(self) -> None:
        with pytest.raises(OggReadError):
            read_ogg_opus(b"RIFF" + bytes(40))


@given(
    lengths=st.lists(st.integers(1, 2000), min_size=1, max_size=60),
    frame_ms=st.lists(
        st.sampled_from([(0x78, 960), (0x70, 480), (0x18, 2880), (0x80, 120)]),
        min_size=1,
        max_size=60,
    ),
    flush=st.integers(1, 20000),
)
def test_any_packets_round_trip_with_right_granules(
    lengths: list[int], frame_ms: list[tuple[int, int]], flush: int
) -> None:
    packets = [
        bytes([toc]) + bytes([i % 251]) * (n - 1)
        for i, (n, (toc, _)) in enumerate(zip(lengths, frame_ms * 60, strict=False))
    ]
    durations = [packet_samples(p) for p in packets]
    w = OggOpusWriter(serial=99, flush_samples=flush)
    data = b"".join(w.write(p) for p in packets) + w.close()
    s = read_ogg_opus(data)
    assert s.packets == packets
    cumulative = np.cumsum(durations)
    for granule, completed in s.granules:
        assert granule == cumulative[completed - 1]
    assert s.granules[-1][0] == sum(durations)


class TestDecoders:
    def test_pyav_decodes_tone_with_right_length(self) -> None:
        pcm, pts = decode_with_pyav(tone_stream(440, 100))
        assert len(pcm) == 100 * 960 - 312
        assert abs(dominant_frequency(pcm[4800:]) - 440) < 2

    @pytest.mark.parametrize("frame_size", [480, 1920, 2880])
    def test_pyav_length_right_for_10_40_60_ms_packets(self, frame_size: int) -> None:
        count = 48000 // frame_size
        pcm, _ = decode_with_pyav(tone_stream(660, count, frame_size))
        assert len(pcm) == count * frame_size - 312
        assert abs(dominant_frequency(pcm[4800:]) - 660) < 2

    def test_abrupt_end_without_eos_still_decodes(self) -> None:
        """A recorder that dies keeps every flushed page: 3.1 s of talk, 3.0 s on disk."""
        enc = ToneEncoder(880)
        w = OggOpusWriter(serial=3)
        data = b"".join(w.write(p) for p in enc.packets(155))  # never closed
        s = read_ogg_opus(data)
        assert not s.ended and len(s.packets) == 150
        pcm, _ = decode_with_pyav(data)
        assert len(pcm) == 150 * 960 - 312
        assert abs(dominant_frequency(pcm[4800:]) - 880) < 2

    def test_plc_packets_fill_a_gap_and_decode(self) -> None:
        enc = ToneEncoder(440)
        w = OggOpusWriter(serial=3)
        packets = enc.packets(25) + [PLC_PACKET] * 10 + enc.packets(25)
        data = b"".join(w.write(p) for p in packets) + w.close()
        pcm, _ = decode_with_pyav(data)
        assert len(pcm) == 60 * 960 - 312

    @pytest.mark.skipif(shutil.which("opusdec") is None, reason="opus-tools not installed")
    def test_opusdec_decodes_with_right_length_and_reads_tags(self, tmp_path: Path) -> None:
        enc = ToneEncoder(440)
        w = OggOpusWriter(serial=5, comments={"TALKER": "budi"})
        data = b"".join(w.write(p) for p in enc.packets(40, 1920)) + w.close()
        src, dst = tmp_path / "t.opus", tmp_path / "t.wav"
        src.write_bytes(data)
        result = subprocess.run(
            ["opusdec", "--rate", "48000", str(src), str(dst)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr
        assert "TALKER=budi" in result.stderr
        with wave.open(str(dst)) as wav:
            assert wav.getframerate() == RATE
            frames = wav.readframes(wav.getnframes())
            pcm = np.frombuffer(frames, np.int16).reshape(-1, wav.getnchannels())[:, 0]
        assert len(pcm) == 40 * 1920 - 312
        assert abs(dominant_frequency(pcm[4800:]) - 440) < 2
