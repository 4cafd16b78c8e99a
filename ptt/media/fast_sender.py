"""One downlink's RTP sent synchronously, without aiortc's per-listener sender task.

aiortc's sender path (a task per listener, RTP packing, SRTP, a datagram send) costs
120-150 us of server CPU per delivered packet; :class:`FastRtpSender` builds the header from a
per-downlink template (``struct.pack`` of marker/payload type, sequence, timestamp; the SSRC
and the mid extension fixed), protects it and hands it to the nominated ICE pair's socket,
a plain function call. Where the C extension is installed (``ptt.media.native``) the same
is one C call. It relies on these private parts:

* aiortc ``RTCRtpSender.send(parameters)`` (wrapped by an instance attribute, to learn the
  negotiated payload type, mid and header extensions) and ``RTCRtpSender._ssrc``;
* aiortc ``RTCDtlsTransport._state``, ``_tx_srtp`` and ``transport._connection`` (the aioice
  connection), and aioice ``Connection._nominated``, ``CandidatePair.protocol`` and
  ``remote_addr``, ``StunProtocol.transport`` (``send_data`` for a TURN-relayed pair);
* pylibsrtp ``Session._srtp``, ``_cdata`` and ``_buffer``: libsrtp's ``srtp_protect`` called
  on pylibsrtp's own context and buffer, which saves its per-call allocation;
* the name-mangled counters aiortc's RTCP task puts in its sender reports
  (``RTCRtpSender.__ntp_timestamp``, ``__rtp_timestamp``, ``__packet_count``,
  ``__octet_count``) and its statistics (``RTCDtlsTransport.__tx_bytes``, ``__tx_packets``),
  kept current so receivers get correct sender reports. What the C loop sends is counted in
  C and folded in whenever aiortc reads them: the sender and its DTLS transport join
  subclasses whose counter attributes are properties that sync first (``__class__``
  assignment; nothing else changes).

aiortc keeps the RTCP task, the RTCP receive side and the BYE on close; the sender's own
RTP task stays blocked on its never-fed ``PacketTrack``. Not usable (:attr:`FastRtpSender.usable`
False) when a negotiated header extension changes per packet: the caller then falls back to
the packet track. ``ptt.media.hooks`` exercises each part against the installed libraries.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import Callable
from typing import Any

import pylibsrtp
from aioice.ice import StunProtocol
from aiortc import RTCRtpSender
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket
from pylibsrtp import SRTP_MAX_TRAILER_LEN
from pylibsrtp._binding import ffi as srtp_ffi
from pylibsrtp._binding import lib as srtp_lib

from ptt.errors import PttError
from ptt.media.native import (
    NATIVE_MAX_PAYLOAD,
    NATIVE_SEND,
    connect_socket,
    native_sender,
)

__all__ = [
    "FastRtpSender", "SrtpError", "count_sent", "join_synced_sender", "ntp_time",
    "protect_in_place", "srtp_parts",
]

logger = logging.getLogger(__name__)

SR_FIELDS = ("ntp_timestamp", "rtp_timestamp", "packet_count", "octet_count")
#: Header extensions whose value changes per packet: the fixed-template fast path cannot send them.
PER_PACKET_EXTENSIONS = frozenset(
    {
        "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
        "urn:ietf:params:rtp-hdrext:toffset",
    }
)



_NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01


def ntp_time(wall: float | None = None) -> int:
    """64-bit NTP timestamp of ``wall`` (``time.time()`` if None), as in RTCP sender reports.

    aiortc's own ``clock.current_ntp_time`` goes through ``datetime`` (a few microseconds);
    the fan-out computes this once per talker packet.
    """
    if wall is None:
        wall = time.time()
    return int((wall + _NTP_EPOCH_OFFSET) * 4294967296.0)



class SrtpError(PttError):
    """libsrtp refused to protect a packet."""


srtp_protect = srtp_lib.srtp_protect
#: The largest RTP packet protected in pylibsrtp's 1,500-byte buffer, room left for the tag.
_SRTP_MAX_PLAIN = 1500 - SRTP_MAX_TRAILER_LEN


FIXED_HEADER = struct.Struct("!BBHI")  # V/P/X/CC, M/PT, sequence number, timestamp


_SENDER_KEYS = tuple(f"_RTCRtpSender__{name}" for name in SR_FIELDS)
_DTLS_KEYS = ("_RTCDtlsTransport__tx_bytes", "_RTCDtlsTransport__tx_packets")


#: Instance attribute of a synced sender or transport: the callbacks that bring its
#: counters up to date (one :meth:`FastRtpSender.sync` per fast sender using it).
_SYNCS = "_siaga_syncs"


def _synced_state(obj: Any) -> dict[str, Any]:
    """``obj.__dict__``, after its sync callbacks have run."""
    state: dict[str, Any] = obj.__dict__
    for sync in state.get(_SYNCS, ()):
        sync()
    return state


def _synced(cls: type, keys: tuple[str, ...]) -> type:
    """A subclass of aiortc's ``cls`` whose counters ``keys`` are brought up to date (by
    the instance's :data:`_SYNCS` callbacks) whenever aiortc reads or writes them.

    What the C fan-out sends is counted in C; aiortc reads these counters only for its
    sender reports and statistics, a few times a minute, so they are folded in then, not
    written 50 times a second per listener. A sender or transport joins the subclass by
    ``__class__`` assignment (same layout, nothing else changes).
    """

    def prop(key: str) -> property:
        def get(self: Any) -> Any:
            return _synced_state(self)[key]

        def set_(self: Any, value: Any) -> None:
            _synced_state(self)[key] = value

        return property(get, set_)

    return type(f"Synced{cls.__name__}", (cls,), {key: prop(key) for key in keys})


_SyncedSender = _synced(RTCRtpSender, _SENDER_KEYS)
_SyncedDtlsTransport = _synced(RTCDtlsTransport, _DTLS_KEYS)


def _join_synced(obj: Any, cls: type, sync: Callable[[], None]) -> None:
    if type(obj) is not cls:
        obj.__class__ = cls
    syncs = obj.__dict__.setdefault(_SYNCS, [])
    if sync not in syncs:
        syncs.append(sync)


def join_synced_sender(sender: RTCRtpSender, dtls: RTCDtlsTransport,
                       sync: Callable[[], None]) -> None:
    """Have aiortc's reads of the sender's and its transport's counters call ``sync`` first."""
    _join_synced(sender, _SyncedSender, sync)
    _join_synced(dtls, _SyncedDtlsTransport, sync)


def count_sent(sender: RTCRtpSender, dtls: RTCDtlsTransport, *, ntp: int, timestamp: int,
               octets: int, size: int) -> None:
    """Count one packet sent outside aiortc where aiortc's sender reports (the sender's
    counters) and statistics (the transport's) read it: ``octets`` of payload in a
    datagram of ``size`` bytes, its RTP ``timestamp`` sampled at NTP time ``ntp``."""
    transport: Any = dtls
    transport._RTCDtlsTransport__tx_bytes += size
    transport._RTCDtlsTransport__tx_packets += 1
    state: Any = sender
    state._RTCRtpSender__ntp_timestamp = ntp
    state._RTCRtpSender__rtp_timestamp = timestamp
    state._RTCRtpSender__packet_count += 1
    state._RTCRtpSender__octet_count += octets


def srtp_parts(session: pylibsrtp.Session) -> tuple[Any, Any, Any]:
    """pylibsrtp's own context, C buffer and its Python view, for :func:`protect_in_place`."""
    parts: Any = session
    return parts._srtp[0], parts._cdata, parts._buffer


def protect_in_place(context: Any, cdata: Any, buffer: Any, length: Any, packet: bytes) -> bytes:
    """``packet`` (at most :data:`_SRTP_MAX_PLAIN` bytes) SRTP-protected in pylibsrtp's own
    buffer (:func:`srtp_parts`), as its ``Session.protect`` does, without its per-call
    allocation; ``length`` is an ``int *`` of the caller's."""
    size = len(packet)
    buffer[0:size] = packet
    length[0] = size
    status = srtp_protect(context, cdata, length)
    if status:
        raise SrtpError(f"srtp_protect failed with status {status}")
    data: bytes = buffer[0:length[0]]
    return data


class FastRtpSender:
    """Sends one downlink's RTP packets synchronously, bypassing aiortc's sender task.

    Create it right after ``addTransceiver`` (before negotiation): it wraps the sender's
    ``send(parameters)`` (an instance attribute) to learn what was negotiated. :meth:`send`
    returns False while the downlink is not ready (not negotiated, DTLS not connected, no
    selected ICE pair): the packet is not sent. :attr:`usable` is None until the parameters
    are known, then True, or False if the fast path cannot carry this stream (see the module
    docstring): the caller must then use the packet track instead, for good.
    """

    __slots__ = (
        "sender",
        "usable",
        "parameters",
        "payload_type",
        "sent",
        "failed",
        "_dtls",
        "_srtp",
        "_srtp_ctx",
        "_srtp_cdata",
        "_srtp_buffer",
        "_srtp_len",
        "_connection",
        "_pair",
        "_socket",
        "_addr",
        "_async_send",
        "_byte0",
        "_tail",
        "_native_wanted",
        "_native",
        "_folded",
    )

    def __init__(self, sender: RTCRtpSender, *, native: bool = True) -> None:
        self.sender = sender
        self.usable: bool | None = None
        self.parameters: RTCRtpSendParameters | None = None
        self.payload_type = 0
        #: Packets sent by this path.
        self.sent = 0
        #: Packets lost to an unexpected error (SRTP, socket); the first one is logged.
        self.failed = 0
        self._dtls: Any = None
        self._srtp: Any = None
        self._srtp_ctx: Any = None
        self._srtp_cdata: Any = None
        self._srtp_buffer: Any = None
        self._srtp_len: Any = srtp_ffi.new("int *")
        self._connection: Any = None
        self._pair: Any = None
        self._socket: Any = None
        self._addr: Any = None
        self._async_send: Any = None
        self._byte0 = 0
        self._tail = b""
        #: Use the C extension (:data:`NATIVE_SEND`) where it can carry the selected pair.
        self._native_wanted = native and NATIVE_SEND
        self._native: Any = None
        #: The C sender's (sent, octets, bytes) already folded into aiortc's counters.
        self._folded = (0, 0, 0)
        original = sender.send

        async def send(parameters: RTCRtpSendParameters) -> None:
            if self.parameters is None:
                self._configure(parameters)
            await original(parameters)

        sender.send = send  # type: ignore[method-assign]

    def _configure(self, parameters: RTCRtpSendParameters) -> None:
        self.parameters = parameters
        uris = {ext.uri for ext in parameters.headerExtensions}
        payload_type = parameters.codecs[0].payloadType if parameters.codecs else None
        if uris & PER_PACKET_EXTENSIONS or payload_type is None:
            self.usable = False
            logger.info("fast RTP path not usable for mid %s: extensions %s", parameters.muxId,
                        sorted(uris))
            return
        self.payload_type = payload_type
        extensions_map = HeaderExtensionsMap()
        extensions_map.configure(parameters)
        template = RtpPacket(payload_type=self.payload_type, ssrc=self.sender._ssrc)
        template.extensions.mid = parameters.muxId
        header = template.serialize(extensions_map)
        self._byte0 = header[0]
        self._tail = header[8:]  # SSRC, then the (fixed) header extension block
        self.usable = True

    def _connect(self) -> bool:
        """Find the SRTP session and the socket once the transport is up."""
        dtls = self.sender.transport
        if dtls._state is not DtlsState.CONNECTED or dtls._tx_srtp is None:
            return False
        self._dtls = dtls
        self._srtp = session = dtls._tx_srtp
        # pylibsrtp's protect() in two steps less (see _check_srtp_hooks): its context, and
        # the 1,500-byte buffer it protects in place.
        self._srtp_ctx, self._srtp_cdata, self._srtp_buffer = srtp_parts(session)
        self._connection = dtls.transport._connection
        return True

    def _select_pair(self) -> bool:
        pair = self._connection._nominated.get(1)
        if pair is None:
            return False
        self._pair = pair
        protocol = pair.protocol
        self._addr = pair.remote_addr
        self.sync()  # what the previous pair's C sender sent, before it is dropped
        self._native = None
        self._folded = (0, 0, 0)
        if type(protocol) is StunProtocol:
            self._socket = transport = protocol.transport
            self._async_send = None
            sock = transport.get_extra_info("socket")
            if self._native_wanted and sock is not None:
                native = native_sender(sock, pair.remote_addr, self._srtp_ctx,
                                        self._byte0, self.payload_type, self._tail)
                if native is not None:
                    # fan_out() sends on it while these hold (checked in C before each send).
                    native.guard(self._dtls, DtlsState.CONNECTED, self._connection._nominated,
                                 pair, transport, self._srtp)
                    join_synced_sender(self.sender, self._dtls, self.sync)
                    self._native = native
                    connect_socket(native, pair.remote_addr)
        else:  # TURN relay: aioice's send is a coroutine
            self._socket = None
            self._async_send = protocol.send_data
        return True

    @property
    def native(self) -> bool:
        """True while packets are built, protected and sent by the C extension."""
        return self._native is not None

    @property
    def native_out(self) -> Any:
        """The C extension's guarded sender for :func:`native_fan_out`, or None."""
        return self._native

    def sync(self) -> None:
        """Fold what :func:`native_fan_out` sent on this downlink into the counters aiortc
        reads (sender reports, statistics). Called by aiortc's reads of those counters."""
        native = self._native
        if native is None:
            return
        sent, octets, size = native.sent, native.octets, native.sent_bytes
        folded_sent, folded_octets, folded_size = self._folded
        if sent == folded_sent:
            return
        self._folded = (sent, octets, size)
        state = self.sender.__dict__
        ntp_key, rtp_key, packets_key, octets_key = _SENDER_KEYS
        state[ntp_key] = native.ntp
        state[rtp_key] = native.rtp_timestamp
        state[packets_key] += sent - folded_sent
        state[octets_key] += octets - folded_octets
        dtls = self._dtls.__dict__
        bytes_key, tx_packets_key = _DTLS_KEYS
        dtls[bytes_key] += size - folded_size
        dtls[tx_packets_key] += sent - folded_sent

    def native_failed(self, error: BaseException) -> None:
        """:func:`native_fan_out` could not send a packet on this downlink (it is lost)."""
        self.failed += 1
        if self.failed == 1:  # once per downlink, not 50 times a second
            logger.error("fast RTP send failed (mid %s): %r",
                         self.parameters and self.parameters.muxId, error)

    def send(self, sequence: int, timestamp: int, marker: bool, payload: bytes, ntp: int) -> bool:
        """Send one packet now; False if the downlink is not ready (nothing was sent).

        ``ntp`` (:func:`ntp_time`) is when the packet's timestamp was sampled, for the
        sender reports.
        """
        srtp = self._srtp
        if srtp is None:
            if not self.usable or not self._connect():
                return False
            srtp = self._srtp
        dtls = self._dtls
        if dtls._state is not DtlsState.CONNECTED:
            return False
        pair = self._connection._nominated.get(1)
        if pair is not self._pair and (pair is None or not self._select_pair()):
            return False
        native = self._native
        try:
            if native is not None and len(payload) <= NATIVE_MAX_PAYLOAD:
                if self._socket.is_closing():  # closed, or about to be: nothing to send
                    return False
                # Header, protect and sendto in one C call; a full socket buffer raises
                # BlockingIOError and drops the packet (late voice is no use).
                size = native.send(sequence, timestamp, marker, payload)
            else:
                packet = (
                    FIXED_HEADER.pack(self._byte0, (marker << 7) | self.payload_type,
                                       sequence, timestamp)
                    + self._tail
                    + payload
                )
                size = len(packet)
                if size > _SRTP_MAX_PLAIN:
                    data = srtp.protect(packet)  # raises pylibsrtp's "packet is too long"
                else:
                    data = protect_in_place(self._srtp_ctx, self._srtp_cdata,
                                            self._srtp_buffer, self._srtp_len, packet)
                size = len(data)
                socket = self._socket
                if socket is not None:
                    socket.sendto(data, self._addr)  # OSErrors go to the protocol, as aioice's
                else:
                    asyncio.ensure_future(self._async_send(data, self._addr))
        except Exception:  # one broken downlink must not cost the other listeners the packet
            self.failed += 1
            if self.failed == 1:  # once per downlink, not 50 times a second
                logger.exception("fast RTP send failed (mid %s)", self.parameters and
                                 self.parameters.muxId)
            return False
        self.sent += 1
        count_sent(self.sender, dtls, ntp=ntp, timestamp=timestamp, octets=len(payload),
                   size=size)
        return True

