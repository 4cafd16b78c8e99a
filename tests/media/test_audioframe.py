"""The binary WebSocket audio frame: layout, round trip, and precise refusals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ptt.audioframe import (
    HEADER_SIZE,
    MAX_PAYLOAD,
    AudioFrame,
    FrameType,
    InvalidFrame,
    MalformedFrame,
    OversizedFrame,
    TruncatedFrame,
    UnknownFrameType,
    UnsupportedVersion,
    decode,
    encode,
)

u32 = st.integers(0, (1 << 32) - 1)


class TestLayout:
    def test_documented_byte_layout(self) -> None:
        frame = AudioFrame(
            talkgroup_id=0x01020304,
            stream_id=0xA0B0C0D0,
            sequence=7,
            timestamp=0xFFFFFFFF,
            payload=b"\x78\xaa",
        )
        assert encode(frame) == (
            b"\x11"  # version 1, type 1 (Opus)
            b"\x01\x02\x03\x04"
            b"\xa0\xb0\xc0\xd0"
            b"\x00\x00\x00\x07"
            b"\xff\xff\xff\xff"
            b"\x78\xaa"
        )
        assert HEADER_SIZE == 17

    @given(tg=u32, stream=u32, seq=u32, ts=u32, payload=st.binary(min_size=1, max_size=1275))
    def test_round_trip(self, tg: int, stream: int, seq: int, ts: int, payload: bytes) -> None:
        frame = AudioFrame(tg, stream, seq, ts, payload)
        data = encode(frame)
        assert len(data) == HEADER_SIZE + len(payload)
        assert decode(data) == frame

    def test_decode_accepts_memoryview_slices(self) -> None:
        data = encode(AudioFrame(1, 2, 3, 4, b"\x78"))
        assert decode(memoryview(b"xx" + data)[2:]).payload == b"\x78"  # type: ignore[arg-type]


class TestPeerSentSomethingBad:
    def test_empty(self) -> None:
        with pytest.raises(TruncatedFrame, match="empty"):
            decode(b"")

    @pytest.mark.parametrize("size", [1, 5, HEADER_SIZE - 1, HEADER_SIZE])
    def test_truncated(self, size: int) -> None:
        data = encode(AudioFrame(1, 2, 3, 4, b"\x78\x01"))[:size]
        with pytest.raises(TruncatedFrame, match=f"audio frame of {size} bytes"):
            decode(data)

    def test_oversized(self) -> None:
        data = encode(AudioFrame(1, 2, 3, 4, bytes(MAX_PAYLOAD))) + b"\x00"
        with pytest.raises(OversizedFrame, match="1276 bytes exceeds 1275"):
            decode(data)

    def test_largest_payload_accepted(self) -> None:
        assert len(decode(encode(AudioFrame(1, 2, 3, 4, bytes(MAX_PAYLOAD)))).payload) == 1275

    @pytest.mark.parametrize("first", [0x01, 0x21, 0xF1])
    def test_unknown_version_checked_first(self, first: int) -> None:
        with pytest.raises(UnsupportedVersion, match=f"version {first >> 4}"):
            decode(bytes([first]))  # even a 1-byte frame: the version decides the layout

    @pytest.mark.parametrize("first", [0x10, 0x12, 0x1F])
    def test_unknown_type(self, first: int) -> None:
        with pytest.raises(UnknownFrameType, match=f"type {first & 15}"):
            decode(bytes([first]) + bytes(20))

    def test_all_peer_errors_share_a_root(self) -> None:
        for bad in (b"", b"\x11", b"\x21", b"\x13" + bytes(20), b"\x11" + bytes(2000)):
            with pytest.raises(MalformedFrame):
                decode(bad)

    @given(st.binary(max_size=1400))
    def test_arbitrary_bytes_decode_or_raise_malformed(self, data: bytes) -> None:
        try:
            frame = decode(data)
        except MalformedFrame:
            return
        assert encode(frame) == data


class TestLocalMisuse:
    @pytest.mark.parametrize(
        "fields",
        [
            (-1, 0, 0, 0, b"\x78"),
            (0, 1 << 32, 0, 0, b"\x78"),
            (0, 0, 1 << 32, 0, b"\x78"),
            (0, 0, 0, -5, b"\x78"),
            (0, 0, 0, 0, b""),
            (0, 0, 0, 0, bytes(1276)),
        ],
    )
    def test_out_of_range_fields(self, fields: tuple[int, int, int, int, bytes]) -> None:
        with pytest.raises(InvalidFrame):
            AudioFrame(*fields)

    def test_invalid_frame_is_not_a_peer_error(self) -> None:
        assert not issubclass(InvalidFrame, MalformedFrame)
        assert issubclass(InvalidFrame, ValueError)

    def test_type_is_opus(self) -> None:
        assert AudioFrame(1, 2, 3, 4, b"\x78").type is FrameType.OPUS
