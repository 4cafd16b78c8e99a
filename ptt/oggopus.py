"""Ogg Opus (RFC 7845) from raw Opus packets as received, without re-encoding (pure core).

Rules:

1. The stream is: one page holding only the ID header ``OpusHead`` (beginning-of-stream flag,
   granule 0); then the comment header ``OpusTags`` (vendor string plus ``KEY=value``
   comments such as the talker and talkgroup) ending its own page, granule 0; then audio pages;
   the last page carries the end-of-stream flag (RFC 7845 §3).
2. A page's granule position is the number of 48 kHz samples of all packets *completed* on it
   and before it, pre-skip included (§4); a page on which no packet completes carries -1.
   Durations come from each packet's TOC byte (RFC 6716 §3.1, :func:`packet_samples`), so 10,
   40 or 60 ms packets and multi-frame packets count right; the RTP timestamp is not used.
3. Pre-skip (default 312 samples, libopus' encoder delay at 48 kHz, what ``opusenc`` writes):
   the decoder discards that many samples at the start. Playback length is the last granule
   position minus pre-skip (a stream shorter than pre-skip plays nothing). A relayed
   transmission starts mid-way through the talker's encoder state, so the first few ms decode
   approximately anyway; pre-skip hides them.
4. Pages are emitted (and so survive a crash of the recorder) every ``flush_samples`` of audio
   (default 24000 = 0.5 s; about 2 % overhead with 90-byte packets) and whenever the next packet
   would overflow the 255 lacing values of a page. A stream cut short without its EOS page loses
   at most that much audio and stays decodable: every emitted page is complete, checksummed and
   carries a valid granule position. :meth:`OggOpusWriter.flush` forces a page (e.g. on a timer).
5. Packets larger than a page continue on the next page (continued-packet flag, granule -1).
6. A gap in the received audio is not represented (Ogg Opus has no timestamps): the caller may
   insert :data:`PLC_PACKET` packets (one TOC byte, 20 ms each), which decoders conceal.

The writer returns bytes; it does no I/O. :func:`read_ogg_opus` is a strict reader (CRC,
page order, headers) used by tests and tools.

Errors (all :class:`OggOpusError`, under ``ptt.errors.PttError`` and a :class:`ValueError`):
``InvalidOpusPacket`` a packet breaks RFC 6716 §3 (peer sent something bad);
``OggReadError`` bytes given to the reader are not a valid Ogg Opus stream;
``WriterClosed`` a packet was written after :meth:`OggOpusWriter.close` (local misuse).
Bad constructor arguments raise ``ptt.errors.UsageError``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from ptt.errors import PttError, UsageError

__all__ = [
    "PLC_PACKET",
    "Bandwidth",
    "InvalidOpusPacket",
    "Mode",
    "OggOpusError",
    "OggOpusStream",
    "OggOpusWriter",
    "OggPage",
    "OggReadError",
    "OpusHead",
    "Toc",
    "WriterClosed",
    "crc32_ogg",
    "iter_pages",
    "packet_samples",
    "parse_toc",
    "read_ogg_opus",
]


class OggOpusError(PttError, ValueError):
    """Root of this module's errors (under the package root ``PttError``)."""


class InvalidOpusPacket(OggOpusError):
    """An Opus packet that RFC 6716 §3 forbids (empty, bad frame count, over 120 ms...)."""


class OggReadError(OggOpusError):
    """Bytes that are not a valid Ogg Opus stream."""


class WriterClosed(OggOpusError):
    """The writer already emitted its end-of-stream page."""


# --- Opus TOC (RFC 6716 §3.1) -----------------------------------------------------------


class Mode(Enum):
    SILK = "SILK"
    HYBRID = "HYBRID"
    CELT = "CELT"


class Bandwidth(Enum):
    NB = 4000
    MB = 6000
    WB = 8000
    SWB = 12000
    FB = 20000


# Frame sizes in 48 kHz samples: 2.5, 5, 10, 20, 40, 60 ms.
_SILK_SIZES = (480, 960, 1920, 2880)
_HYBRID_SIZES = (480, 960)
_CELT_SIZES = (120, 240, 480, 960)


def _config_table() -> tuple[tuple[Mode, Bandwidth, int], ...]:
    table: list[tuple[Mode, Bandwidth, int]] = []
    for bw in (Bandwidth.NB, Bandwidth.MB, Bandwidth.WB):  # configs 0..11
        table += [(Mode.SILK, bw, n) for n in _SILK_SIZES]
    for bw in (Bandwidth.SWB, Bandwidth.FB):  # configs 12..15
        table += [(Mode.HYBRID, bw, n) for n in _HYBRID_SIZES]
    for bw in (Bandwidth.NB, Bandwidth.WB, Bandwidth.SWB, Bandwidth.FB):  # configs 16..31
        table += [(Mode.CELT, bw, n) for n in _CELT_SIZES]
    return tuple(table)


_CONFIGS = _config_table()
#: Longest packet RFC 6716 allows: 120 ms.
MAX_PACKET_SAMPLES = 5760
#: A one-byte packet (TOC only, 20 ms CELT fullband mono, code 0): decoders treat its empty
#: frame as lost and conceal it, so it fills 20 ms of a gap without re-encoding anything.
PLC_PACKET = b"\xf8"


@dataclass(frozen=True, slots=True)
class Toc:
    """What a packet's table-of-contents byte (and frame-count byte for code 3) says."""

    config: int
    mode: Mode
    bandwidth: Bandwidth
    frame_samples: int
    stereo: bool
    code: int
    frame_count: int

    @property
    def samples(self) -> int:
        """Packet duration in 48 kHz samples."""
        return self.frame_samples * self.frame_count


def parse_toc(packet: bytes) -> Toc:
    """Parse the TOC byte (and the frame-count byte of code 3 packets) of an Opus packet.

    Checks the rules that decide the packet's duration: R1 (at least one byte), R2 (code 1
    has an even payload length), R5 (code 3 has a frame-count byte, M >= 1, M frames <= 120 ms).
    """
    if not packet:
        raise InvalidOpusPacket("empty Opus packet (RFC 6716 R1: at least one byte)")
    toc = packet[0]
    config = toc >> 3
    mode, bandwidth, frame_samples = _CONFIGS[config]
    code = toc & 0x3
    if code == 0:
        count = 1
    elif code == 1:
        if (len(packet) - 1) % 2:
            raise InvalidOpusPacket("code 1 packet with an odd payload length (RFC 6716 R3)")
        count = 2
    elif code == 2:
        count = 2
    else:
        if len(packet) < 2:
            raise InvalidOpusPacket("code 3 packet without its frame-count byte (RFC 6716 R6)")
        count = packet[1] & 0x3F
        if count == 0:
            raise InvalidOpusPacket("code 3 packet with zero frames (RFC 6716 R5)")
        if count * frame_samples > MAX_PACKET_SAMPLES:
            raise InvalidOpusPacket(
                f"code 3 packet of {count} x {frame_samples} samples exceeds 120 ms (R5)"
            )
    return Toc(config, mode, bandwidth, frame_samples, bool(toc & 0x4), code, count)


def packet_samples(packet: bytes) -> int:
    """Duration of an Opus packet in 48 kHz samples, from its TOC byte."""
    return parse_toc(packet).samples


# --- Ogg framing (RFC 3533) -------------------------------------------------------------


def _crc_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc32_ogg(data: bytes) -> int:
    """Ogg's CRC-32: polynomial 0x04C11DB7, not reflected, initial value 0, no final xor."""
    crc = 0
    table = _CRC_TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ table[(crc >> 24) ^ byte]
    return crc


FLAG_CONTINUED = 0x01
FLAG_BOS = 0x02
FLAG_EOS = 0x04
_PAGE_HEADER = struct.Struct("<4sBBqIIIB")
NO_GRANULE = -1
MAX_SEGMENTS = 255


def _page(
    flags: int, granule: int, serial: int, sequence: int, lacing: bytes, body: bytes
) -> bytes:
    header = _PAGE_HEADER.pack(b"OggS", 0, flags, granule, serial, sequence, 0, len(lacing))
    page = bytearray(header + lacing + body)
    struct.pack_into("<I", page, 22, crc32_ogg(bytes(page)))
    return bytes(page)


def _lacing(length: int) -> bytes:
    """Lacing values of one complete packet: 255s then a value below 255 (maybe 0)."""
    return b"\xff" * (length // 255) + bytes([length % 255])


# --- Writer -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpusHead:
    """The ID header (RFC 7845 §5.1), channel mapping family 0 only (mono or stereo)."""

    channels: int = 1
    pre_skip: int = 312
    input_sample_rate: int = 48000
    output_gain: int = 0
    mapping_family: int = 0

    def to_bytes(self) -> bytes:
        return b"OpusHead" + struct.pack(
            "<BBHIhB",
            1,
            self.channels,
            self.pre_skip,
            self.input_sample_rate,
            self.output_gain,
            self.mapping_family,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> OpusHead:
        if len(data) < 19 or not data.startswith(b"OpusHead"):
            raise OggReadError("first packet is not an OpusHead")
        version, channels, pre_skip, rate, gain, family = struct.unpack_from("<BBHIhB", data, 8)
        if version >> 4:
            raise OggReadError(f"unsupported OpusHead version {version}")
        return cls(channels, pre_skip, rate, gain, family)


def _opus_tags(vendor: str, comments: Sequence[tuple[str, str]]) -> bytes:
    out = bytearray(b"OpusTags")
    raw_vendor = vendor.encode()
    out += struct.pack("<I", len(raw_vendor)) + raw_vendor
    out += struct.pack("<I", len(comments))
    for key, value in comments:
        if not key or "=" in key or not all(0x20 <= ord(c) <= 0x7D for c in key):
            raise UsageError(f"invalid comment field name: {key!r}")
        raw = f"{key}={value}".encode()
        out += struct.pack("<I", len(raw)) + raw
    return bytes(out)


class OggOpusWriter:
    """Turns raw Opus packets into Ogg Opus pages (bytes to append to a file).

    ``comments`` become ``KEY=value`` fields of OpusTags (e.g. ``TALKER``, ``TALKGROUP``,
    ``DATE``); ``serial`` is the Ogg logical stream serial (the caller picks it, e.g.
    randomly, as RFC 3533 suggests). ``channels`` is the decoder's output layout: mono suits
    voice, and a decoder downmixes stereo packets (aiortc sends stereo) into it.
    """

    def __init__(
        self,
        *,
        serial: int,
        channels: int = 1,
        pre_skip: int = 312,
        input_sample_rate: int = 48000,
        vendor: str = "siaga",
        comments: Mapping[str, str] | Sequence[tuple[str, str]] = (),
        flush_samples: int = 24000,
    ) -> None:
        if not 0 <= serial < 1 << 32:
            raise UsageError(f"serial out of range: {serial}")
        if channels not in (1, 2):
            raise UsageError(f"channel mapping family 0 allows 1 or 2 channels, not {channels}")
        if not 0 <= pre_skip < 1 << 16:
            raise UsageError(f"pre_skip out of range: {pre_skip}")
        if flush_samples <= 0:
            raise UsageError("flush_samples must be positive")
        items = list(comments.items()) if isinstance(comments, Mapping) else list(comments)
        self.head = OpusHead(channels, pre_skip, input_sample_rate)
        self._serial = serial
        self._flush_samples = flush_samples
        self._sequence = 0
        self._granule = 0
        self._lacing = bytearray()
        self._body = bytearray()
        self._page_samples = 0
        self._starts_continued = False
        self._closed = False
        # Headers (rule 1): OpusHead alone on page 0, OpusTags ending its own page(s).
        headers = bytearray(self._emit_packet_page(self.head.to_bytes(), FLAG_BOS))
        headers += self._append(_opus_tags(vendor, items), 0)
        headers += self._emit_page(0)
        self._headers: bytes | None = bytes(headers)

    def _emit_packet_page(self, packet: bytes, flags: int) -> bytes:
        self._append(packet, 0)
        return self._emit_page(flags)

    @property
    def granule_position(self) -> int:
        """Samples of all packets written so far, pre-skip included."""
        return self._granule

    @property
    def duration(self) -> float:
        """Playable seconds written so far (granule position minus pre-skip)."""
        return max(0, self._granule - self.head.pre_skip) / 48000

    def _take_headers(self) -> bytes:
        headers, self._headers = self._headers, None
        return headers or b""

    def write(self, packet: bytes) -> bytes:
        """Append one Opus packet; return the bytes of any pages completed (maybe empty).

        The first call also returns the header pages.
        """
        if self._closed:
            raise WriterClosed("packet written after the end-of-stream page")
        samples = packet_samples(packet)
        out = self._take_headers() + self._append(packet, samples)
        if self._page_samples >= self._flush_samples:
            out += self._emit_page(0)
        return out

    def _append(self, packet: bytes, samples: int) -> bytes:
        """Add a packet to the page being built; return pages it filled (rules 4 and 5)."""
        out = bytearray()
        lacing = _lacing(len(packet))
        if self._lacing and len(self._lacing) + len(lacing) > MAX_SEGMENTS:
            out += self._emit_page(0)
        body = memoryview(packet)
        while len(lacing) > MAX_SEGMENTS - len(self._lacing):
            # Only a packet too long for a whole page gets here, on an empty page: its
            # first 255 * 255 bytes fill the page, on which no packet completes.
            room = MAX_SEGMENTS - len(self._lacing)
            self._lacing += lacing[:room]
            self._body += body[: 255 * room]
            lacing, body = lacing[room:], body[255 * room :]
            out += self._emit_page(0, granule=NO_GRANULE)
            self._starts_continued = True
        self._lacing += lacing
        self._body += body
        self._granule += samples
        self._page_samples += samples
        return bytes(out)

    def _emit_page(self, flags: int, *, granule: int | None = None) -> bytes:
        if self._starts_continued:
            flags |= FLAG_CONTINUED
            self._starts_continued = False
        page = _page(
            flags,
            self._granule if granule is None else granule,
            self._serial,
            self._sequence,
            bytes(self._lacing),
            bytes(self._body),
        )
        self._sequence += 1
        self._lacing.clear()
        self._body.clear()
        if granule is None:
            self._page_samples = 0
        return page

    def flush(self) -> bytes:
        """Emit the packets written so far as a page now (nothing if there are none)."""
        if self._closed:
            return b""
        out = self._take_headers()
        if self._lacing:
            out += self._emit_page(0)
        return out

    def close(self) -> bytes:
        """Emit the last page with the end-of-stream flag; later writes raise."""
        if self._closed:
            return b""
        # With nothing pending this is an empty page carrying the last granule position,
        # as libogg writes it.
        out = self._take_headers() + self._emit_page(FLAG_EOS)
        self._closed = True
        return out


# --- Reader -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OggPage:
    flags: int
    granule: int
    serial: int
    sequence: int
    segments: bytes
    body: bytes


def iter_pages(data: bytes) -> Iterator[OggPage]:
    """Split an Ogg byte stream into pages, checking capture pattern, version and CRC."""
    offset = 0
    while offset < len(data):
        if len(data) - offset < _PAGE_HEADER.size:
            raise OggReadError(f"truncated page header at offset {offset}")
        magic, version, flags, granule, serial, seq, crc, nseg = _PAGE_HEADER.unpack_from(
            data, offset
        )
        if magic != b"OggS" or version != 0:
            raise OggReadError(f"no Ogg page at offset {offset}")
        start = offset + _PAGE_HEADER.size
        segments = data[start : start + nseg]
        end = start + nseg + sum(segments)
        if len(segments) < nseg or end > len(data):
            raise OggReadError(f"truncated page at offset {offset}")
        raw = bytearray(data[offset:end])
        raw[22:26] = b"\0\0\0\0"
        if crc32_ogg(bytes(raw)) != crc:
            raise OggReadError(f"CRC mismatch in page {seq}")
        yield OggPage(flags, granule, serial, seq, segments, data[start + nseg : end])
        offset = end


@dataclass(frozen=True, slots=True)
class OggOpusStream:
    """A decoded-to-packets Ogg Opus stream."""

    head: OpusHead
    vendor: str
    comments: list[tuple[str, str]]
    packets: list[bytes]
    #: (granule position, number of packets completed up to that page) for each audio page.
    granules: list[tuple[int, int]] = field(default_factory=list)
    ended: bool = False

    @property
    def samples(self) -> int:
        """Playable samples by the last granule position (what a player shows)."""
        return self.granules[-1][0] - self.head.pre_skip if self.granules else 0


def read_ogg_opus(data: bytes) -> OggOpusStream:
    """Read a single-stream Ogg Opus file, checking page order and the header layout."""
    packets: list[bytes] = []
    granules: list[tuple[int, int]] = []
    partial = bytearray()
    expected_seq = 0
    serial: int | None = None
    ended = False
    header_packets = 0
    for page in iter_pages(data):
        if serial is None:
            serial = page.serial
            if not page.flags & FLAG_BOS:
                raise OggReadError("first page lacks the beginning-of-stream flag")
        elif page.serial != serial:
            raise OggReadError("more than one logical stream")
        if ended:
            raise OggReadError("page after the end-of-stream page")
        if page.sequence != expected_seq:
            raise OggReadError(f"page {page.sequence} where {expected_seq} was expected")
        expected_seq += 1
        if bool(page.flags & FLAG_CONTINUED) != bool(partial):
            raise OggReadError(f"continued-packet flag wrong on page {page.sequence}")
        offset = 0
        completed = 0
        for lace in page.segments:
            partial += page.body[offset : offset + lace]
            offset += lace
            if lace < 255:
                packets.append(bytes(partial))
                partial.clear()
                completed += 1
        if len(packets) <= 2:
            header_packets = len(packets)
            if page.sequence == 0 and (len(packets) != 1 or partial):
                raise OggReadError("OpusHead must be alone on the first page")
        elif completed and header_packets < 2:
            raise OggReadError("audio shares a page with the headers")
        else:
            empty_eos = not page.segments and page.flags & FLAG_EOS
            if not empty_eos and (page.granule == NO_GRANULE) != (completed == 0):
                raise OggReadError(f"granule position wrong on page {page.sequence}")
            if completed or (empty_eos and page.granule != NO_GRANULE):
                granules.append((page.granule, len(packets) - 2))
        ended = bool(page.flags & FLAG_EOS)
    if len(packets) < 2:
        raise OggReadError("missing OpusHead or OpusTags")
    head = OpusHead.from_bytes(packets[0])
    vendor, comments = _parse_tags(packets[1])
    return OggOpusStream(head, vendor, comments, packets[2:], granules, ended)


def _parse_tags(data: bytes) -> tuple[str, list[tuple[str, str]]]:
    if not data.startswith(b"OpusTags"):
        raise OggReadError("second packet is not OpusTags")
    try:
        (n,) = struct.unpack_from("<I", data, 8)
        vendor = data[12 : 12 + n].decode()
        offset = 12 + n
        (count,) = struct.unpack_from("<I", data, offset)
        offset += 4
        comments = []
        for _ in range(count):
            (n,) = struct.unpack_from("<I", data, offset)
            key, _, value = data[offset + 4 : offset + 4 + n].decode().partition("=")
            comments.append((key, value))
            offset += 4 + n
    except (struct.error, UnicodeDecodeError) as exc:
        raise OggReadError(f"malformed OpusTags: {exc}") from exc
    return vendor, comments
