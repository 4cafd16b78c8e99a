"""Binary WebSocket audio frames for clients without WebRTC (pure core).

One WebSocket binary message carries one Opus packet. All integers are big-endian (network
order); the header is 17 bytes::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-------+-------+-----------------------------------------------+
    |version| type  |          talkgroup id (u32) ...               |
    +-------+-------+-----------------------------------------------+
    | ...           |          stream id (u32) ...                  |
    +---------------+-----------------------------------------------+
    | ...           |          sequence (u32) ...                   |
    +---------------+-----------------------------------------------+
    | ...           |          timestamp (u32, 48 kHz) ...          |
    +---------------+-----------------------------------------------+
    | ...           |  Opus packet (1..1275 bytes) ...
    +---------------+-------------------------------

Rules:

1. Byte 0: version in the high nibble (this is version 1), frame type in the low nibble
   (1 = Opus audio; others are reserved). An unknown version is refused before anything else
   is read, so a future version may change the rest of the layout.
2. ``talkgroup id``: the talkgroup the audio belongs to (a client may listen to several).
   ``stream id``: one transmission (one burst of one talker), chosen by the sender of the frame
   (the client uplink, the server downlink); a new id means a new burst.
3. ``sequence`` counts the frames of a stream, +1 per frame modulo 2**32 (u32: no wrap within
   any realistic transmission). ``timestamp`` is the 48 kHz sample clock of the first sample of
   the packet, modulo 2**32, like RTP's, so a receiver can place packets and detect loss.
4. The payload is exactly one Opus packet (RFC 6716), at least the TOC byte and at most 1275
   bytes (the largest single frame; WebRTC voice packets are far below it). A longer message is
   refused rather than truncated.

Errors (tree)::

    PttError
    +-- AudioFrameError
        +-- MalformedFrame        the peer sent bytes that are not a valid frame (``decode``)
        |   +-- TruncatedFrame       shorter than the header plus one payload byte
        |   +-- OversizedFrame       payload over MAX_PAYLOAD
        |   +-- UnsupportedVersion   version nibble other than VERSION
        |   +-- UnknownFrameType     type nibble other than a FrameType
        +-- InvalidFrame          a frame built with an out-of-range field (local bug; also
                                  a ValueError)
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from ptt.errors import PttError

__all__ = [
    "HEADER_SIZE",
    "MAX_PAYLOAD",
    "VERSION",
    "AudioFrame",
    "AudioFrameError",
    "FrameType",
    "InvalidFrame",
    "MalformedFrame",
    "OversizedFrame",
    "TruncatedFrame",
    "UnknownFrameType",
    "UnsupportedVersion",
    "decode",
    "encode",
]

VERSION = 1
MAX_PAYLOAD = 1275
_HEADER = struct.Struct("!BIIII")
HEADER_SIZE = _HEADER.size  # 17
_U32 = 1 << 32


class AudioFrameError(PttError):
    """Root of this module's errors (under the package root ``PttError``)."""


class MalformedFrame(AudioFrameError):
    """The bytes received are not a valid audio frame."""


class TruncatedFrame(MalformedFrame):
    pass


class OversizedFrame(MalformedFrame):
    pass


class UnsupportedVersion(MalformedFrame):
    pass


class UnknownFrameType(MalformedFrame):
    pass


class InvalidFrame(AudioFrameError, ValueError):
    """A frame built locally with a field out of range."""


class FrameType(enum.IntEnum):
    OPUS = 1


@dataclass(frozen=True, slots=True)
class AudioFrame:
    talkgroup_id: int
    stream_id: int
    sequence: int
    timestamp: int
    payload: bytes
    type: FrameType = FrameType.OPUS

    def __post_init__(self) -> None:
        for name in ("talkgroup_id", "stream_id", "sequence", "timestamp"):
            value = getattr(self, name)
            if not 0 <= value < _U32:
                raise InvalidFrame(f"{name} must fit in 32 bits unsigned, not {value}")
        if not 1 <= len(self.payload) <= MAX_PAYLOAD:
            raise InvalidFrame(f"payload must be 1..{MAX_PAYLOAD} bytes, not {len(self.payload)}")


def encode(frame: AudioFrame) -> bytes:
    """The wire bytes of ``frame`` (fields were checked when it was built)."""
    first = (VERSION << 4) | frame.type
    header = _HEADER.pack(
        first, frame.talkgroup_id, frame.stream_id, frame.sequence, frame.timestamp
    )
    return header + frame.payload


def decode(data: bytes) -> AudioFrame:
    """Parse one binary WebSocket message; raise a :class:`MalformedFrame` subclass if bad."""
    if not data:
        raise TruncatedFrame("empty audio frame")
    version, kind = data[0] >> 4, data[0] & 0x0F
    if version != VERSION:
        raise UnsupportedVersion(f"audio frame version {version}, expected {VERSION}")
    try:
        frame_type = FrameType(kind)
    except ValueError:
        raise UnknownFrameType(f"unknown audio frame type {kind}") from None
    if len(data) <= HEADER_SIZE:
        raise TruncatedFrame(
            f"audio frame of {len(data)} bytes: header is {HEADER_SIZE} bytes "
            "and at least one payload byte must follow"
        )
    payload_size = len(data) - HEADER_SIZE
    if payload_size > MAX_PAYLOAD:
        raise OversizedFrame(f"audio payload of {payload_size} bytes exceeds {MAX_PAYLOAD}")
    _, talkgroup_id, stream_id, sequence, timestamp = _HEADER.unpack_from(data)
    return AudioFrame(
        talkgroup_id, stream_id, sequence, timestamp, bytes(data[HEADER_SIZE:]), frame_type
    )
