"""Saving received Opus packets as Ogg Opus files (RFC 7845), without re-encoding.

The server's writer (``ptt.oggopus.OggOpusWriter``, strict and tested) is used when the
``siaga`` package is installed; :class:`MiniOggOpusWriter` is a small stand-in with the same
``write``/``close``/``duration`` surface for a client installed on its own. Both write the
OpusHead and OpusTags headers, a page every half second of audio, and an end-of-stream page.
"""

from __future__ import annotations

import os
import random
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

PRE_SKIP = 312
PLC_PACKET = b"\xf8"  # TOC only: 20 ms that a decoder conceals (fills lost packets)


class OpusWriter(Protocol):
    @property
    def duration(self) -> float: ...

    def write(self, packet: bytes) -> bytes: ...

    def close(self) -> bytes: ...


def packet_samples(packet: bytes) -> int:
    """48 kHz samples in one Opus packet, from its TOC byte (RFC 6716 §3.1)."""
    if not packet:
        raise ValueError("empty Opus packet")
    toc = packet[0]
    config = toc >> 3
    if config < 12:  # SILK: 10, 20, 40, 60 ms
        frame = (480, 960, 1920, 2880)[config % 4]
    elif config < 16:  # Hybrid: 10, 20 ms
        frame = (480, 960)[config % 2]
    else:  # CELT: 2.5, 5, 10, 20 ms
        frame = (120, 240, 480, 960)[config % 4]
    code = toc & 0x03
    if code == 0:
        count = 1
    elif code in (1, 2):
        count = 2
    else:
        if len(packet) < 2:
            raise ValueError("code-3 Opus packet without a frame count")
        count = packet[1] & 0x3F
    return frame * count


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


_CRC = _crc_table()


def _crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC[((crc >> 24) & 0xFF) ^ byte]
    return crc


class MiniOggOpusWriter:
    """A minimal Ogg Opus writer: mono, one logical stream, packets under 255*255 bytes."""

    def __init__(self, *, serial: int, comments: Mapping[str, str] | None = None,
                 flush_samples: int = 24000) -> None:
        self._serial = serial
        self._seq = 0
        self._granule = 0
        self._pending: list[bytes] = []
        self._pending_samples = 0
        self._flush_samples = flush_samples
        self._closed = False
        head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, PRE_SKIP, 48000, 0, 0)
        vendor = b"siaga-radio"
        tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor
        items = [f"{k}={v}".encode() for k, v in (comments or {}).items()]
        tags += struct.pack("<I", len(items)) + b"".join(
            struct.pack("<I", len(i)) + i for i in items)
        self._headers = self._page([head], 0x02, 0) + self._page([tags], 0, 0)

    @property
    def duration(self) -> float:
        return max(0, self._granule - PRE_SKIP) / 48000

    def _page(self, packets: list[bytes], flags: int, granule: int) -> bytes:
        lacing = bytearray()
        for p in packets:
            n = len(p)
            lacing += b"\xff" * (n // 255) + bytes([n % 255])
        header = struct.pack("<4sBBqIIIB", b"OggS", 0, flags, granule, self._serial,
                             self._seq, 0, len(lacing)) + bytes(lacing)
        body = b"".join(packets)
        crc = _crc(header + body)
        self._seq += 1
        return header[:22] + struct.pack("<I", crc) + header[26:] + body

    def _take_headers(self) -> bytes:
        out, self._headers = self._headers, b""
        return out

    def write(self, packet: bytes) -> bytes:
        if self._closed:
            raise ValueError("writer closed")
        out = self._take_headers()
        samples = packet_samples(packet)
        lacing = sum(len(p) // 255 + 1 for p in self._pending) + len(packet) // 255 + 1
        if lacing > 255 and self._pending:
            out += self._page(self._pending, 0, self._granule)
            self._pending, self._pending_samples = [], 0
        self._pending.append(packet)
        self._granule += samples
        self._pending_samples += samples
        if self._pending_samples >= self._flush_samples:
            out += self._page(self._pending, 0, self._granule)
            self._pending, self._pending_samples = [], 0
        return out

    def close(self) -> bytes:
        if self._closed:
            return b""
        self._closed = True
        out = self._take_headers() + self._page(self._pending, 0x04, self._granule)
        self._pending = []
        return out


def new_writer(comments: Mapping[str, str], *, standalone: bool = False) -> OpusWriter:
    """An Ogg Opus writer: the server's when importable (unless ``standalone``)."""
    serial = random.randrange(1 << 32)
    if not standalone:
        try:
            from ptt.oggopus import OggOpusWriter
        except ImportError:  # pragma: no cover - client installed without the server
            pass
        else:
            return OggOpusWriter(serial=serial, comments=dict(comments), vendor="siaga-radio")
    return MiniOggOpusWriter(serial=serial, comments=comments)


class OggOpusFile:
    """One recording on disk: packets go to ``<path>.part``, renamed to ``path`` on close, so
    a reader (or a crash) never sees a half-written file under its final name."""

    def __init__(self, path: Path, comments: Mapping[str, str], *,
                 standalone: bool = False) -> None:
        self.path = path
        self._tmp = path.with_name(path.name + ".part")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self._tmp, "wb")  # noqa: SIM115 - closed in close()
        self._writer = new_writer(comments, standalone=standalone)
        self.packets = 0

    @property
    def duration(self) -> float:
        return self._writer.duration

    def write(self, packet: bytes) -> None:
        self._file.write(self._writer.write(packet))
        self.packets += 1

    def close(self) -> Path:
        self._file.write(self._writer.close())
        self._file.close()
        os.replace(self._tmp, self.path)
        return self.path
