"""WebSocket audio frames (``docs/protocol.md``, "Voice over WebSocket").

The server's own codec (``ptt.audioframe``) is used when the ``siaga`` package is installed
beside this client, so both ends share one implementation; a copy of the 17-byte layout
below keeps the client usable on its own (a gateway box without the server).
"""

from __future__ import annotations

import struct
from typing import NamedTuple

HEADER = struct.Struct("!BIIII")
FIRST_BYTE = 0x11  # version 1, type 1 (Opus)
MAX_PAYLOAD = 1275


class Frame(NamedTuple):
    talkgroup: int
    stream: int
    sequence: int
    timestamp: int
    payload: bytes


class BadFrame(ValueError):
    """Bytes from the server that are not an audio frame of version 1."""


try:  # pragma: no branch - which one depends on the installation
    from ptt import audioframe as _shared
except ImportError:  # pragma: no cover - exercised without the server package
    _shared = None  # type: ignore[assignment]


def encode_frame(talkgroup: int, stream: int, sequence: int, timestamp: int,
                 payload: bytes) -> bytes:
    if _shared is not None:
        return _shared.encode(_shared.AudioFrame(talkgroup, stream, sequence & 0xFFFFFFFF,
                                                 timestamp & 0xFFFFFFFF, payload))
    return _encode(talkgroup, stream, sequence, timestamp, payload)


def decode_frame(data: bytes) -> Frame:
    if _shared is not None:
        try:
            f = _shared.decode(data)
        except _shared.MalformedFrame as exc:
            raise BadFrame(str(exc)) from None
        return Frame(f.talkgroup_id, f.stream_id, f.sequence, f.timestamp, f.payload)
    return _decode(data)


def _encode(talkgroup: int, stream: int, sequence: int, timestamp: int, payload: bytes) -> bytes:
    if not 1 <= len(payload) <= MAX_PAYLOAD:
        raise ValueError(f"Opus payload of {len(payload)} bytes")
    return HEADER.pack(FIRST_BYTE, talkgroup, stream, sequence & 0xFFFFFFFF,
                       timestamp & 0xFFFFFFFF) + payload


def _decode(data: bytes) -> Frame:
    if len(data) <= HEADER.size or data[0] != FIRST_BYTE:
        raise BadFrame(f"not a version-1 Opus frame ({len(data)} bytes)")
    if len(data) - HEADER.size > MAX_PAYLOAD:
        raise BadFrame("payload too large")
    _, tg, stream, seq, ts = HEADER.unpack_from(data)
    return Frame(tg, stream, seq, ts, bytes(data[HEADER.size:]))
