"""The one module that touches aiortc internals (tested on aiortc >= 1.16, < 1.17).

aiortc has no public API to receive *encoded* media: its stock receive path is jitter buffer
(a constant 80 ms for audio, and a burst's last 4 frames stuck until the next packet) ->
a decoder thread per receiver -> an unbounded queue that grows unless someone reads it. A relay
that forwards Opus without re-encoding wants none of that. Two things live here:

* :class:`ReceiverTap` replaces one receiver's RTP packet handler. aiortc's
  ``RTCDtlsTransport._handle_rtp_data`` parses each SRTP-decrypted packet, routes it to a
  receiver and awaits ``receiver._handle_rtp_packet(packet, arrival_time_ms=...)``; the tap
  sets that name as an *instance* attribute, so for this receiver the jitter buffer, the
  decoder thread's queue and the RTCP statistics are bypassed (no delay, no copy, nothing to
  grow). The decoder thread that aiortc starts anyway stays blocked on an empty queue and is
  stopped by aiortc on close. Lost for this stream: receiver-report statistics (audio has no
  NACK in aiortc). Packets whose payload type is not the negotiated Opus one (PCMU, PCMA,
  comfort noise...) are counted and dropped.
* :class:`FastRtpSender` sends one downlink's RTP without aiortc's sender task: once the
  downlink's sender has been started (negotiated payload type, SSRC, mid, header extensions
  known) and its DTLS transport is connected, :meth:`FastRtpSender.send` builds the RTP header
  from a per-downlink template (``struct.pack`` of marker/payload type, sequence, timestamp;
  the rest, SSRC and the mid extension, fixed), protects it with the transport's SRTP session
  (``RTCDtlsTransport._tx_srtp``; libsrtp's ``srtp_protect`` called on pylibsrtp's own context
  and buffer, which saves pylibsrtp's per-call allocation) and hands the datagram to the
  nominated ICE pair's asyncio datagram transport (``sendto``, a plain function call, no
  coroutine). It also keeps the counters aiortc's RTCP task reads for its sender reports
  (packet and octet counts, the last RTP/NTP timestamp pair) current, so receivers get correct
  SRs; that task, the RTCP receive side (receiver reports, stats) and the RTCP BYE on close
  stay aiortc's. The sender's own RTP task stays alive, blocked on its (never fed)
  :class:`PacketTrack`. Not usable, and then said so once (:attr:`FastRtpSender.usable` is
  False), when a negotiated header extension changes per packet (abs-send-time, transport-wide
  sequence numbers): the caller falls back to the packet track. A TURN-relayed pair is sent
  through aioice's coroutine (one task per packet). Where the optional C extension
  ``ptt.media._rtpout`` is installed (:data:`NATIVE_SEND`), header, protect and ``sendto``
  are one C call on the pair's socket, with pylibsrtp's ``srtp_protect`` and session
  context passed by address (their C type is checked); a full socket buffer drops the packet.
  The pair's socket is then connected to the peer (``send`` instead of ``sendto``: the
  kernel keeps the route), which also has the kernel drop datagrams from anyone else.
  That C sender is *guarded* (``RtpOut.guard``: the DTLS transport, the nominated pair, the
  socket's transport), so that :func:`native_fan_out` (the relay's whole per-listener loop
  in C) can check that it may still send on it. A guard that held is trusted until one of
  those objects changes: :func:`_watch_guard` has the DTLS state change, a new nominated
  pair and the socket's closing call ``invalidate_guards()``, so the C loop reads them
  once per change instead of per packet and listener. What the C loop sends is counted
  in C and folded into aiortc's counters (:meth:`FastRtpSender.sync`) whenever aiortc reads
  them: the sender and its DTLS transport are moved to subclasses whose counter attributes
  are properties that sync first (``__class__`` assignment; nothing else changes).
* :func:`create_renegotiation_offer`: aiortc's ``createOffer`` resets every transceiver's
  negotiated codecs and header extensions (``RTCRtpTransceiver._codecs`` and
  ``_headerExtensions``) to its defaults before writing the offer. A sender that aiortc
  starts after that (its start is a task scheduled by the previous answer) would then send
  under aiortc's default numbering instead of the negotiated one. The wrapper puts the
  negotiated values back once the offer is written; the offer text itself is renumbered by
  ``ptt.media.numbering``.
* :func:`relax_rtcp`: aiortc sends RTCP reports every 0.5-1.5 s from every sender and
  receiver, which for a relay with a hundred idle listeners costs more CPU than forwarding
  the voice. RFC 3550 recommends at least 5 s between reports, and browsers (libwebrtc)
  report audio every 5 s. The function runs aiortc's own RTCP loop (the same code object)
  with a longer interval, for one sender or receiver: nothing of the loop is rewritten here.
  Each wait ends on a 100 ms grid (:func:`on_grid`), and :func:`align_consent_checks` does
  the same for aioice's ICE consent checks: on a virtual machine, waking the process costs
  about as much as the work it wakes up for, and timers on a grid share their wakeups.
  Those waits are grid sleeps (``ptt.media.grid``, the loop's ``asyncio`` stood in for by
  :class:`_AsyncioOnGrid`): ended by the relay's next forwarded packet after their time,
  so that they do not wake the process while it is awake for the voice anyway.
* :func:`install_direct_rtp` hands a transport's RTP to its taps as each datagram arrives,
  without aiortc's queue and task, and :func:`_datagram_shortcuts` takes two shortcuts
  through aioice's ``StunProtocol.datagram_received``: RTP and RTCP by their first byte
  (RFC 7983) without a failed STUN parse first, and a client's ICE consent check answered
  with the bytes aioice would send (``ptt.media.binding``), when aioice would do nothing
  more than answer it.
* :class:`PacketTrack`, a ``MediaStreamTrack`` whose ``recv()`` returns ``av.Packet`` objects
  (``pts`` in 48 kHz samples, ``time_base = 1/48000``): this is aiortc's public path for
  pre-encoded media; its sender only packetizes (``OpusEncoder.pack``). The track holds a
  bounded queue: when the listener's sender falls behind, the oldest packet is dropped and
  counted, so memory stays flat and delay stays bounded.

:func:`check_aiortc_hooks` verifies that the private names used here still exist with the
expected shape, so an aiortc upgrade fails loudly at start-up and in the tests instead of
silently dropping audio.
"""

from __future__ import annotations

import asyncio
import fractions
import inspect
import logging
import math
import random as random_module
import re
import socket as socket_module
import struct
import sys
import time
import types
from collections import deque
from collections.abc import Callable
from typing import Any

import av
import pylibsrtp
from aioice import stun
from aioice.ice import StunProtocol
from aiortc import (
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCSessionDescription,
    clock,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket, is_rtcp
from pylibsrtp import SRTP_MAX_TRAILER_LEN
from pylibsrtp._binding import ffi as srtp_ffi
from pylibsrtp._binding import lib as srtp_lib

from ptt.errors import PttError
from ptt.media.binding import parse_request as parse_binding_request
from ptt.media.binding import success_response as binding_success
from ptt.media.grid import grid_sleeps

__all__ = [
    "TIMER_GRID",
    "TIME_BASE",
    "AiortcHookError",
    "FastRtpSender",
    "NativeRetimer",
    "PacketTrack",
    "ReceiverTap",
    "align_consent_checks",
    "check_aiortc_hooks",
    "create_renegotiation_offer",
    "install_direct_rtp",
    "native_fan_out",
    "ntp_time",
    "on_grid",
    "opus_payload_types",
    "relax_peer_rtcp",
    "relax_rtcp",
]

logger = logging.getLogger(__name__)

TIME_BASE = fractions.Fraction(1, 48000)
PacketCallback = Callable[[RtpPacket], None]


class AiortcHookError(PttError):
    """aiortc changed in a way that breaks the private receive hook."""


def check_aiortc_hooks() -> None:
    """Fail loudly, naming the attribute, if the aiortc internals used here have changed."""
    import aiortc

    handler = getattr(RTCRtpReceiver, "_handle_rtp_packet", None)
    if handler is None or not inspect.iscoroutinefunction(handler):
        raise AiortcHookError(
            f"aiortc {aiortc.__version__}: RTCRtpReceiver._handle_rtp_packet is missing or no "
            "longer a coroutine function; ptt/media/aiortc_tap.py cannot tap received RTP"
        )
    params = list(inspect.signature(handler).parameters)
    if params[:3] != ["self", "packet", "arrival_time_ms"]:
        raise AiortcHookError(
            f"aiortc {aiortc.__version__}: RTCRtpReceiver._handle_rtp_packet signature is now "
            f"{params}, expected (self, packet, arrival_time_ms)"
        )
    dispatch = getattr(RTCDtlsTransport, "_handle_rtp_data", None)
    source = inspect.getsource(dispatch) if dispatch is not None else ""
    if "._handle_rtp_packet(" not in source:
        raise AiortcHookError(
            f"aiortc {aiortc.__version__}: RTCDtlsTransport._handle_rtp_data no longer calls "
            "receiver._handle_rtp_packet(); the receive tap would never see a packet"
        )
    receive = inspect.getsource(RTCRtpReceiver.receive)
    if "self.__decoder_queue" not in receive or "self.__decoder_thread.start()" not in receive:
        raise AiortcHookError(
            f"aiortc {aiortc.__version__}: RTCRtpReceiver.receive no longer starts a decoder "
            "thread fed by self.__decoder_queue; ReceiverTap cannot end it"
        )
    sample = RtpPacket()
    for name in ("payload_type", "sequence_number", "timestamp", "marker", "payload"):
        if not hasattr(sample, name):
            raise AiortcHookError(f"aiortc {aiortc.__version__}: RtpPacket.{name} is gone")
    _check_send_hooks(aiortc.__version__)
    _check_offer_hooks(aiortc.__version__)
    _check_srtp_hooks()
    _check_receive_hooks(aiortc.__version__)
    _check_timer_hooks(aiortc.__version__)


def _check_timer_hooks(version: str) -> None:
    """What :func:`relax_rtcp` and :func:`align_consent_checks` rely on."""
    import aioice
    from aioice import ice

    consent = inspect.getsource(ice.Connection.query_consent)
    if _CONSENT_SLEEP not in consent or "self.query_consent()" not in inspect.getsource(
        ice.Connection.connect
    ):
        raise AiortcHookError(
            f"aioice {aioice.__version__}: Connection.query_consent no longer waits "
            f"`{_CONSENT_SLEEP}` or is no longer started by connect(); "
            "align_consent_checks cannot put the checks on the timer grid"
        )
    for cls in (RTCRtpSender, RTCRtpReceiver):
        if _RTCP_SLEEP not in inspect.getsource(cls._run_rtcp):
            raise AiortcHookError(
                f"aiortc {version}: {cls.__name__}._run_rtcp no longer waits "
                f"`{_RTCP_SLEEP}` between reports; relax_rtcp cannot set the interval"
            )


def _check_offer_hooks(version: str) -> None:
    """What :func:`create_renegotiation_offer` relies on."""
    from aiortc import RTCRtpTransceiver

    init = inspect.getsource(RTCRtpTransceiver.__init__)
    offer = inspect.getsource(RTCPeerConnection.createOffer)
    for name in ("_codecs", "_headerExtensions"):
        if f"self.{name}" not in init or f"transceiver.{name} =" not in offer:
            raise AiortcHookError(
                f"aiortc {version}: RTCRtpTransceiver.{name} is no longer what createOffer "
                "resets; create_renegotiation_offer cannot keep the negotiated numbering"
            )


#: The sender attributes (name-mangled) that aiortc's RTCP task puts in its sender reports.
_SR_FIELDS = ("ntp_timestamp", "rtp_timestamp", "packet_count", "octet_count")
#: Header extensions whose value changes per packet: the fixed-template fast path cannot send them.
_PER_PACKET_EXTENSIONS = frozenset(
    {
        "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
        "urn:ietf:params:rtp-hdrext:toffset",
    }
)


def _check_send_hooks(version: str) -> None:
    """The internals :class:`FastRtpSender` relies on (see the module docstring)."""

    def fail(what: str) -> AiortcHookError:
        return AiortcHookError(f"aiortc {version}: {what}; FastRtpSender cannot bypass the sender")

    send = getattr(RTCRtpSender, "send", None)
    if send is None or list(inspect.signature(send).parameters)[:2] != ["self", "parameters"]:
        raise fail("RTCRtpSender.send(self, parameters) changed")
    if ".sender.send(" not in inspect.getsource(RTCPeerConnection):
        raise fail("RTCPeerConnection no longer starts senders with sender.send(parameters)")
    send_rtp = getattr(RTCDtlsTransport, "_send_rtp", None)
    source = inspect.getsource(send_rtp) if send_rtp is not None else ""
    if "self._tx_srtp.protect(" not in source or "self.transport._send(" not in source:
        raise fail("RTCDtlsTransport._send_rtp no longer protects with _tx_srtp and sends")
    init = inspect.getsource(RTCDtlsTransport.__init__)
    for name in ("self._tx_srtp", "self._state", "self._transport", "self.__tx_bytes",
                 "self.__tx_packets"):
        if name not in init:
            raise fail(f"RTCDtlsTransport.__init__ no longer sets {name}")
    if not hasattr(DtlsState, "CONNECTED"):
        raise fail("rtcdtlstransport.State.CONNECTED is gone")
    rtcp = inspect.getsource(RTCRtpSender._run_rtcp)
    sender_init = inspect.getsource(RTCRtpSender.__init__)
    for name in _SR_FIELDS:
        if f"self.__{name}" not in rtcp or f"self.__{name} = 0" not in sender_init:
            raise fail(f"RTCRtpSender's sender reports no longer use self.__{name}")
    from asyncio.selector_events import _SelectorTransport  # type: ignore[attr-defined]

    if inspect.getsource(_SelectorTransport.is_closing).split()[-2:] != ["return",
                                                                        "self._closing"]:
        raise fail("asyncio's transport.is_closing() no longer returns self._closing, which "
                   "ptt/media/_rtpout.c reads")
    from aiortc.codecs import HEADER_EXTENSIONS
    from aiortc.rtcicetransport import RTCIceTransport

    if "self._connection" not in inspect.getsource(RTCIceTransport):
        raise fail("RTCIceTransport._connection (the aioice Connection) is gone")
    per_packet = {e.uri for e in HEADER_EXTENSIONS.get("audio", [])} & _PER_PACKET_EXTENSIONS
    if per_packet:
        raise fail(f"audio now offers per-packet header extensions {sorted(per_packet)}")
    from aioice.ice import CandidatePair, Connection

    if "self._nominated" not in inspect.getsource(Connection.__init__):
        raise fail("aioice Connection._nominated (the selected pairs) is gone")
    # _watch_guard: every change to what a C guard reads must be seen.
    if len(re.findall(r"self\._nominated\s*(?::|=(?!=))", inspect.getsource(Connection))) != 1:
        raise fail("aioice Connection now replaces _nominated after __init__; the C guards "
                   "would not see its changes")
    if (len(re.findall(r"self\._state\s*=(?!=)", inspect.getsource(RTCDtlsTransport))) != 2
            or 'self.emit("statechange")' not in inspect.getsource(RTCDtlsTransport._set_state)):
        raise fail("RTCDtlsTransport's state now changes outside _set_state (which emits "
                   "statechange); the C guards would not see it")
    lost = inspect.getsource(_SelectorTransport._call_connection_lost)
    if not 0 <= lost.find("self._protocol.connection_lost(") < lost.find("self._sock.close()"):
        raise fail("asyncio no longer calls connection_lost before closing a transport's "
                   "socket; the C guards could send on a reused descriptor")
    for name in ("protocol", "remote_addr"):
        if name not in inspect.getsource(CandidatePair):
            raise fail(f"aioice CandidatePair.{name} is gone")
    if "self.transport.sendto(" not in inspect.getsource(StunProtocol.send_data):
        raise fail("aioice StunProtocol.send_data no longer calls transport.sendto")


async def create_renegotiation_offer(pc: RTCPeerConnection) -> RTCSessionDescription:
    """``pc.createOffer()``, leaving negotiated transceivers' codecs and extensions as they were.

    See the module docstring: without this, a sender started right after the offer is
    created sends with aiortc's default payload type and extension ids.
    """
    negotiated = [
        (t, t._codecs, t._headerExtensions)
        for t in pc.getTransceivers()
        if t.currentDirection is not None
    ]
    offer = await pc.createOffer()
    for transceiver, codecs, extensions in negotiated:
        transceiver._codecs = codecs
        transceiver._headerExtensions = extensions
    return offer


#: RTCP report interval for audio: RFC 3550's recommended minimum, libwebrtc's audio default.
RTCP_INTERVAL = 5.0
#: How aiortc's RTCP loops wait between reports (0.5-1.5 s).
_RTCP_SLEEP = "await asyncio.sleep(0.5 + random.random())"


#: Timers of the relaxed loops fire on this grid (seconds of the event loop's clock), so
#: that the reports and checks of many peers share a wakeup instead of one each.
TIMER_GRID = 0.1


def on_grid(now: float, delay: float, grid: float = TIMER_GRID) -> float:
    """``delay`` lengthened so that ``now + delay`` falls on a multiple of ``grid``."""
    return math.ceil((now + delay) / grid - 1e-9) * grid - now


class _AlignedRandom:
    """Stands in for the ``random`` module in a copy of a timer loop that sleeps
    ``base + spread * random.random()``: the sleep becomes ``low + (high - low) * U``,
    lengthened to end on ``grid`` unless it is None."""

    def __init__(self, base: float, spread: float, low: float, high: float,
                 grid: float | None) -> None:
        self._base, self._spread = base, spread
        self._low, self._high = low, high
        self._grid = grid
        self._random = random_module.Random()

    def random(self) -> float:
        wait = self._low + (self._high - self._low) * self._random.random()
        if self._grid is not None:
            try:
                wait = on_grid(asyncio.get_running_loop().time(), wait, self._grid)
            except RuntimeError:  # no running loop: nothing to align with
                pass
        return (wait - self._base) / self._spread


class _AsyncioOnGrid:
    """Stands in for the ``asyncio`` module in a copy of a timer loop whose waits end on the
    grid: its ``sleep`` is a grid sleep (``ptt.media.grid``), ended by the next wakeup of
    the process after its time, so that the loop does not wake the process itself while a
    talker is forwarded. Everything else is asyncio's."""

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    @staticmethod
    def sleep(delay: float) -> asyncio.Future[None]:
        return grid_sleeps().sleep(delay)


_TIMER_LOOPS: dict[tuple[object, ...], Callable[..., Any]] = {}


def _timer_loop(original: Callable[..., Any], stand_in: Callable[[], _AlignedRandom],
                key: tuple[object, ...], *, on_grid: bool) -> Callable[..., Any]:
    """``original``'s own code, run with ``stand_in()`` as its module's ``random`` and, with
    ``on_grid``, :class:`_AsyncioOnGrid` as its ``asyncio`` (one copy per ``key``, shared by
    every peer)."""
    loop = _TIMER_LOOPS.get(key)
    if loop is None:
        scope = {**vars(sys.modules[original.__module__]), "random": stand_in()}
        if on_grid:
            scope["asyncio"] = _AsyncioOnGrid()
        loop = _TIMER_LOOPS[key] = types.FunctionType(
            original.__code__, scope, original.__name__, original.__defaults__,
            original.__closure__)
    return loop


def relax_rtcp(endpoint: RTCRtpSender | RTCRtpReceiver, interval: float = RTCP_INTERVAL, *,
               grid: float | None = TIMER_GRID) -> None:
    """Make this sender's or receiver's RTCP reports ``interval`` seconds apart (on average),
    each wait ending on ``grid`` (None: anywhere, as a browser's).

    Call it before aiortc starts the sender or receiver (before the answer is applied):
    the loop is started by ``send()`` / ``receive()``.
    """
    if interval < 1.0:
        raise ValueError(f"RTCP interval {interval} s is shorter than aiortc's own")
    cls = type(endpoint)
    # aiortc sleeps 0.5 + random.random(): RFC 3550's 0.5-1.5 times the interval.
    loop = _timer_loop(
        cls._run_rtcp,
        lambda: _AlignedRandom(0.5, 1.0, interval * 0.5, interval * 1.5, grid),
        (cls.__qualname__, interval, grid), on_grid=grid is not None)
    endpoint._run_rtcp = types.MethodType(loop, endpoint)  # type: ignore[method-assign]


def relax_peer_rtcp(pc: RTCPeerConnection, interval: float = RTCP_INTERVAL, *,
                    grid: float | None = TIMER_GRID) -> None:
    """:func:`relax_rtcp` for every sender and receiver of ``pc``, and with a ``grid``, its
    ICE consent checks on that grid too (:func:`align_consent_checks`); idempotent."""
    for transceiver in pc.getTransceivers():
        for endpoint in (transceiver.sender, transceiver.receiver):
            if "_run_rtcp" not in vars(endpoint):
                relax_rtcp(endpoint, interval, grid=grid)
        if grid is not None:
            align_consent_checks(transceiver.receiver.transport.transport._connection)


_CONSENT_SLEEP = "await asyncio.sleep(CONSENT_INTERVAL * (0.8 + 0.4 * random.random()))"


def align_consent_checks(connection: Any) -> None:
    """Run this aioice connection's ICE consent checks (RFC 7675: every 4-6 s) with aioice's
    own loop code, each wait lengthened to end on :data:`TIMER_GRID` (at most 0.1 s later).

    Call it before ICE connects (the loop starts then). Idempotent.
    """
    from aioice import ice

    if "query_consent" in vars(connection):
        return
    interval = ice.CONSENT_INTERVAL
    loop = _timer_loop(
        ice.Connection.query_consent,
        lambda: _AlignedRandom(interval * 0.8, interval * 0.4, interval * 0.8, interval * 1.2,
                               TIMER_GRID),
        ("Connection.query_consent",), on_grid=True)
    connection.query_consent = types.MethodType(loop, connection)


_NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01


def ntp_time(wall: float | None = None) -> int:
    """64-bit NTP timestamp of ``wall`` (``time.time()`` if None), as in RTCP sender reports.

    aiortc's own ``clock.current_ntp_time`` goes through ``datetime`` (a few microseconds);
    the fan-out computes this once per talker packet.
    """
    if wall is None:
        wall = time.time()
    return int((wall + _NTP_EPOCH_OFFSET) * 4294967296.0)


def opus_payload_types(sdp_text: str) -> dict[str, int]:
    """Map each audio m-line's mid to its Opus payload type, from an SDP (offer or answer).

    aiortc offers Opus as 96, browsers usually 111: the tap must use what was negotiated.
    Raises ``ValueError`` if the SDP does not parse.
    """
    from aiortc import sdp

    description = sdp.SessionDescription.parse(sdp_text)
    result: dict[str, int] = {}
    for media in description.media:
        if media.kind != "audio" or media.rtp.muxId is None:
            continue
        for codec in media.rtp.codecs:
            if codec.mimeType.lower() == "audio/opus" and codec.payloadType is not None:
                result[media.rtp.muxId] = codec.payloadType
                break
    return result


class ReceiverTap:
    """Delivers a receiver's RTP packets of one payload type to ``on_packet``, synchronously.

    ``on_packet`` runs inside aiortc's datagram handling: it must be quick and must not raise
    (an exception would reach aiortc's transport loop; it is logged and swallowed here).
    """

    def __init__(
        self, receiver: RTCRtpReceiver, payload_type: int, on_packet: PacketCallback
    ) -> None:
        self.receiver = receiver
        self.payload_type = payload_type
        self.on_packet = on_packet
        #: Packets handed to ``on_packet``.
        self.received = 0
        #: Packets dropped because their payload type was not the negotiated Opus one.
        self.dropped_payload_type = 0
        # The hook: an instance attribute shadows RTCRtpReceiver._handle_rtp_packet.
        receiver._handle_rtp_packet = self._handle_rtp_packet  # type: ignore[method-assign]
        receiver._siaga_tap = self  # type: ignore[attr-defined]  # for the direct path
        #: Of ``received``, those that came the direct way (:func:`install_direct_rtp`).
        self.direct = 0
        original_receive = receiver.receive

        async def receive(parameters: Any) -> None:
            await original_receive(parameters)
            # Nothing will reach the decoder thread aiortc has just started: end it now
            # (its exit sign, as aiortc's own stop gives it) instead of keeping one idle
            # thread per peer. aiortc's stop later finds it ended.
            receiver._RTCRtpReceiver__decoder_queue.put(None)  # type: ignore[attr-defined]
            # aiortc starts a receiver once DTLS is up (the relay installs it earlier).
            install_direct_rtp(receiver.transport)

        receiver.receive = receive  # type: ignore[method-assign]

    async def _handle_rtp_packet(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        self.deliver(packet)

    def deliver(self, packet: RtpPacket) -> None:
        """One packet for this receiver (called synchronously by the direct path)."""
        if packet.payload_type != self.payload_type or not packet.payload:
            self.dropped_payload_type += 1
            return
        self.received += 1
        try:
            self.on_packet(packet)
        except Exception:  # never let a bug here kill aiortc's receive loop
            logger.exception("RTP tap callback failed")


def install_direct_rtp(dtls: RTCDtlsTransport) -> None:
    """Hand this transport's SRTP packets to their taps without aiortc's queue and task.

    :class:`ReceiverTap` installs it when aiortc starts the receiver; the relay installs it
    as soon as it has a peer's transport, so that the port is guarded from empty datagrams
    (below) during ICE and DTLS too. Idempotent.

    aioice queues every datagram that is not STUN (``Connection.data_received``) for
    aiortc's DTLS transport task, which unprotects, parses and routes it: at 50 packets per
    second per talker that queue, task switch and coroutine chain cost several hundred
    microseconds per packet. The replacement (an instance attribute of the aioice
    connection) does the same for RTP synchronously, as the datagram arrives: counts it,
    unprotects it with the transport's receive session, parses it with the negotiated
    extensions, routes it with aiortc's router, and hands it to the receiver's tap (a
    receiver without a tap gets it through its own handler, as a task). DTLS and RTCP
    datagrams, and everything before the keys exist, still take aiortc's path.

    It also takes :func:`_datagram_shortcuts` on the connection's sockets, those gathered
    since the last call included.

    An empty datagram is dropped here: aiortc's transport task would fail on it and close
    the peer's DTLS transport, so anyone who can reach the port could hang up a call with
    one empty UDP packet.
    """
    connection = dtls.transport._connection
    _datagram_shortcuts(connection)
    if "data_received" in vars(connection):
        return  # BUNDLE: one transport, one connection for all the peer's receivers
    queued = connection.data_received
    transport: Any = dtls

    def data_received(data: bytes, component: int) -> None:
        if not data:
            return
        first = data[0]
        srtp = transport._rx_srtp
        if not (127 < first < 192) or srtp is None or is_rtcp(data):
            queued(data, component)
            return
        transport._RTCDtlsTransport__rx_bytes += len(data)
        transport._RTCDtlsTransport__rx_packets += 1
        try:
            packet = RtpPacket.parse(srtp.unprotect(data), transport._rtp_header_extensions_map)
        except (pylibsrtp.Error, ValueError):
            return  # as aiortc: a packet that does not decrypt or parse is dropped
        receiver = transport._rtp_router.route_rtp(packet)
        if receiver is None:
            return
        tap = vars(receiver).get("_siaga_tap")
        if tap is not None:
            tap.direct += 1
            tap.deliver(packet)
        else:
            asyncio.ensure_future(
                receiver._handle_rtp_packet(packet, arrival_time_ms=clock.current_ms()))

    connection.data_received = data_received  # type: ignore[method-assign]


def _datagram_shortcuts(connection: Any) -> None:
    """Two shortcuts through aioice's ``StunProtocol.datagram_received``, on every socket the
    connection has so far (ICE gathers when the local description is set; this runs again
    then). Idempotent.

    * **Media first** (RFC 7983): aioice parses every datagram as a STUN message and takes
      the ``ValueError`` as the sign of media: for each voice packet a header unpacked and an
      exception raised and caught. RFC 7983 demultiplexes by the first byte instead: 128-191
      is RTP or RTCP, never STUN (whose first two bits are zero). Those datagrams go straight
      to ``connection.data_received``, where aioice would have sent them after the failed
      parse.
    * **Consent checks** (:func:`_answer_binding`): a Binding request that
      ``ptt.media.binding`` reads exactly as aioice would, from a client whose checks aioice
      would answer and then take no further action on, is answered here, with the bytes
      aioice would have sent, followed by aioice's own ``check_incoming``.

    Every other datagram (other STUN, DTLS, anything else) goes through aioice's handler.
    """
    for protocol in connection._protocols:
        if "datagram_received" in vars(protocol):
            continue
        stun_first = protocol.datagram_received
        component = protocol.local_candidate.component

        def datagram_received(data: bytes, addr: tuple[Any, ...], *,
                              _stun_first: Callable[..., None] = stun_first,
                              _component: int = component, _protocol: Any = protocol) -> None:
            if data and 127 < data[0] < 192:
                connection.data_received(data, _component)
            elif not (data[:2] == b"\x00\x01"
                      and _answer_binding(connection, _protocol, data, addr)):
                _stun_first(data, addr)

        protocol.datagram_received = datagram_received


def _answer_binding(connection: Any, protocol: Any, data: bytes, addr: tuple[Any, ...]) -> bool:
    """Answer the Binding request in ``data`` as aioice's ``request_received`` would, when
    that takes no more than the success response and ``check_incoming``; False (nothing
    done) for anything else: closing, early checks pending, IPv6, not read by
    ``ptt.media.binding``, a role conflict, a wrong username or integrity (aioice answers
    those with its errors)."""
    host, port = addr[0], addr[1]
    if connection._closing or not connection._early_checks_done or ":" in host:
        return False
    request = parse_binding_request(data)
    if request is None or request.role_conflict(connection.ice_controlling):
        return False
    if not connection._valid_username(request.username):
        return False
    key = connection.local_password.encode("utf8")
    if not request.integrity_holds(key):
        return False
    protocol.transport.sendto(binding_success(request.transaction_id, (host, port), key),
                              (host, port))
    connection._siaga_bindings_answered = getattr(connection, "_siaga_bindings_answered", 0) + 1
    message = stun.Message(message_method=stun.Method.BINDING,
                           message_class=stun.Class.REQUEST,
                           transaction_id=request.transaction_id,
                           attributes=request.attributes())
    connection.check_incoming(message, (host, port), protocol)
    return True


def _check_receive_hooks(version: str) -> None:
    """What :func:`install_direct_rtp` relies on."""
    from aioice.ice import Connection

    def fail(what: str) -> AiortcHookError:
        return AiortcHookError(f"{what}; the direct RTP receive path cannot replace it")

    if list(inspect.signature(Connection.data_received).parameters) != [
        "self", "data", "component"
    ]:
        raise fail("aioice Connection.data_received(self, data, component) changed")
    datagram_received = inspect.getsource(StunProtocol.datagram_received)
    for needle in ("message = stun.parse_message(data)",
                   "self.receiver.data_received(data, self.local_candidate.component)"):
        if needle not in datagram_received:
            raise fail(f"aioice StunProtocol.datagram_received lost `{needle}`")
    recv_next = inspect.getsource(RTCDtlsTransport._recv_next)
    for needle in ("self.__rx_bytes += len(data)", "self.__rx_packets += 1",
                   "self._rx_srtp.unprotect(data)", "await self._handle_rtp_data("):
        if needle not in recv_next:
            raise fail(f"aiortc {version}: RTCDtlsTransport._recv_next lost `{needle}`")
    handle = inspect.getsource(RTCDtlsTransport._handle_rtp_data)
    for needle in ("RtpPacket.parse(data, self._rtp_header_extensions_map)",
                   "self._rtp_router.route_rtp(packet)"):
        if needle not in handle:
            raise fail(f"aiortc {version}: RTCDtlsTransport._handle_rtp_data lost `{needle}`")
    # _answer_binding: what aioice's request_received does, in this order.
    received = inspect.getsource(Connection.request_received)
    steps = ("if self._closing:", "self._valid_username(message.attributes[\"USERNAME\"])",
             "message.check_message_integrity(self.local_password.encode(\"utf8\"))",
             "if self.ice_controlling and \"ICE-CONTROLLING\" in message.attributes:",
             "elif not self.ice_controlling and \"ICE-CONTROLLED\" in message.attributes:",
             "response.attributes[\"XOR-MAPPED-ADDRESS\"] = addr",
             "response.add_message_integrity(self.local_password.encode(\"utf8\"))",
             "protocol.send_stun(response, addr)", "if not self._early_checks_done:",
             "self.check_incoming(message, addr, protocol)")
    at = 0
    for step in steps:
        at = received.find(step, at)
        if at < 0:
            raise AiortcHookError(
                f"aioice Connection.request_received no longer does `{step}` in this order; "
                "consent checks cannot be answered for it")
    if "self.transport.sendto(bytes(message), addr)" not in inspect.getsource(
            StunProtocol.send_stun):
        raise AiortcHookError("aioice StunProtocol.send_stun no longer sends bytes(message); "
                              "consent checks cannot be answered for it")


class SrtpError(PttError):
    """libsrtp refused to protect a packet."""


srtp_protect = srtp_lib.srtp_protect
#: The largest RTP packet protected in pylibsrtp's 1,500-byte buffer, room left for the tag.
_SRTP_MAX_PLAIN = 1500 - SRTP_MAX_TRAILER_LEN
#: libsrtp 2.x's srtp_protect as the C extension calls it (see _check_srtp_hooks).
_SRTP_PROTECT_TYPE = "srtp_err_status_t(*)(struct srtp_ctx_t_ *, void *, int *)"
#: Its address, handed to the C extension.
_SRTP_PROTECT_ADDRESS = int(srtp_ffi.cast("uintptr_t",
                                          srtp_ffi.addressof(srtp_lib, "srtp_protect")))

try:  # the optional C extension (setup.py); without it the packets are built in Python
    from ptt.media._rtpout import Retimer as NativeRetimer
    from ptt.media._rtpout import RtpOut as _RtpOut
    from ptt.media._rtpout import fan_out as native_fan_out
    from ptt.media._rtpout import invalidate_guards as _invalidate_guards
except ImportError:  # pragma: no cover - depends on the install having had a C compiler
    _RtpOut = NativeRetimer = native_fan_out = _invalidate_guards = None  # type: ignore[assignment,misc]

#: True when the C extension that builds, protects and sends a downlink's packets is installed.
NATIVE_SEND = _RtpOut is not None
#: The longest payload the extension's buffer takes with any header (longer: built in Python).
_NATIVE_MAX_PAYLOAD = 1500


def _check_srtp_hooks() -> None:
    """The pylibsrtp internals :class:`FastRtpSender` protects with."""
    source = inspect.getsource(pylibsrtp.Session)
    for name in ('self._cdata = ffi.new("char[]", 1500)', "self._buffer = ffi.buffer(",
                 "self._srtp = ffi.gc(", "func(self._srtp[0], self._cdata, len_p)"):
        if name not in source:
            raise AiortcHookError(
                f"pylibsrtp {pylibsrtp.__version__}: Session no longer has `{name}`; "
                "FastRtpSender cannot protect in place"
            )
    # The C extension calls srtp_protect through its address: the C type must be libsrtp 2's.
    found = srtp_ffi.typeof(srtp_ffi.addressof(srtp_lib, "srtp_protect")).cname
    if found != _SRTP_PROTECT_TYPE or srtp_ffi.sizeof("srtp_err_status_t") != 4:
        raise AiortcHookError(
            f"pylibsrtp {pylibsrtp.__version__}: srtp_protect is now `{found}`, expected "
            f"`{_SRTP_PROTECT_TYPE}` returning a 4-byte status; ptt/media/_rtpout.c cannot "
            "call it"
        )


def _native_sender(
    sock: socket_module.socket, addr: tuple[Any, ...], context: Any, byte0: int,
    payload_type: int, tail: bytes,
) -> Any:
    """The C extension's sender for one downlink on ``sock`` to ``addr``, or None where it
    cannot be used (not installed, a host name instead of an address, another family)."""
    if _RtpOut is None:
        return None
    host, port = addr[0], addr[1]
    family = sock.family
    scope_id = 0
    if family == socket_module.AF_INET6 and "%" in host:
        host, _, zone = host.partition("%")
        scope_id = int(zone) if zone.isdigit() else socket_module.if_nametoindex(zone)
    if len(addr) >= 4:
        scope_id = addr[3]
    try:
        packed = socket_module.inet_pton(family, host)
    except (OSError, ValueError):
        return None
    return _RtpOut(sock.fileno(), int(family), packed, port, scope_id, _SRTP_PROTECT_ADDRESS,
                   int(srtp_ffi.cast("uintptr_t", context)), byte0, payload_type, tail)


def _connect_socket(native: Any, remote: tuple[Any, ...]) -> None:
    """Connect the pair's socket to the peer it now talks to, so that the C sender sends with
    send(2): the kernel keeps the route it found at connect time instead of looking it up
    (and allocating it) for every datagram, about 0.6 µs of the ~6 µs a datagram costs.

    The ICE pair is nominated, so nothing else should arrive on this socket: a connected
    socket also has the kernel drop datagrams from any other address. Where connect fails,
    sendto(2) with the address stays in use (nothing is lost but the saving).
    """
    try:
        native.connect_socket()
    except OSError as exc:
        logger.warning("cannot connect the ICE socket to %s (%r): sending with sendto",
                       remote, exc)


class _WatchedPairs(dict[int, Any]):
    """aioice's nominated pairs (``Connection._nominated``) that tell the C guards of every
    change, so a guard that held is trusted until then (``_rtpout.invalidate_guards``)."""

    def __setitem__(self, key: int, value: Any) -> None:
        _invalidate_guards()
        super().__setitem__(key, value)

    def __delitem__(self, key: int) -> None:
        _invalidate_guards()
        super().__delitem__(key)

    def clear(self) -> None:
        _invalidate_guards()
        super().clear()

    def pop(self, *args: Any) -> Any:
        _invalidate_guards()
        return super().pop(*args)

    def popitem(self) -> tuple[int, Any]:
        _invalidate_guards()
        return super().popitem()

    def setdefault(self, key: int, default: Any = None) -> Any:
        _invalidate_guards()
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        _invalidate_guards()
        super().update(*args, **kwargs)


def _watch_guard(dtls: RTCDtlsTransport, connection: Any, protocol: Any) -> None:
    """Have every change to what a C guard reads call ``invalidate_guards()``: the DTLS
    transport's state (aiortc emits ``statechange`` from ``_set_state``, synchronously), the
    connection's nominated pairs (:class:`_WatchedPairs`), and the socket's closing (asyncio
    calls the protocol's ``connection_lost`` just before it closes the socket, whose
    descriptor may then be reused: the guard must not hold past that). Each only once per
    object; :func:`check_aiortc_hooks` checks what this relies on."""
    if _invalidate_guards not in dtls.listeners("statechange"):
        dtls.on("statechange", _invalidate_guards)
    if type(connection._nominated) is not _WatchedPairs:
        connection._nominated = _WatchedPairs(connection._nominated)
    if "connection_lost" not in protocol.__dict__:
        lost = protocol.connection_lost

        def connection_lost(exc: Exception | None) -> None:
            _invalidate_guards()
            lost(exc)

        protocol.connection_lost = connection_lost


_FIXED_HEADER = struct.Struct("!BBHI")  # V/P/X/CC, M/PT, sequence number, timestamp


_SENDER_KEYS = tuple(f"_RTCRtpSender__{name}" for name in _SR_FIELDS)
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
        if uris & _PER_PACKET_EXTENSIONS or payload_type is None:
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
        self._srtp_ctx = session._srtp[0]
        self._srtp_cdata = session._cdata
        self._srtp_buffer = session._buffer
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
                native = _native_sender(sock, pair.remote_addr, self._srtp_ctx,
                                        self._byte0, self.payload_type, self._tail)
                if native is not None:
                    # fan_out() sends on it while these hold (checked in C, again after
                    # each change _watch_guard reports).
                    _watch_guard(self._dtls, self._connection, protocol)
                    native.guard(self._dtls, DtlsState.CONNECTED, self._connection._nominated,
                                 pair, transport, self._srtp)
                    _join_synced(self.sender, _SyncedSender, self.sync)
                    _join_synced(self._dtls, _SyncedDtlsTransport, self.sync)
                    self._native = native
                    _connect_socket(native, pair.remote_addr)
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
            if native is not None and len(payload) <= _NATIVE_MAX_PAYLOAD:
                if self._socket.is_closing():  # its socket may be closed, its fd reused
                    return False
                # Header, protect and sendto in one C call; a full socket buffer raises
                # BlockingIOError and drops the packet (late voice is no use).
                size = native.send(sequence, timestamp, marker, payload)
            else:
                packet = (
                    _FIXED_HEADER.pack(self._byte0, (marker << 7) | self.payload_type,
                                       sequence, timestamp)
                    + self._tail
                    + payload
                )
                size = len(packet)
                if size > _SRTP_MAX_PLAIN:
                    data = srtp.protect(packet)  # raises pylibsrtp's "packet is too long"
                else:
                    buffer, length = self._srtp_buffer, self._srtp_len
                    buffer[0:size] = packet
                    length[0] = size
                    status = srtp_protect(self._srtp_ctx, self._srtp_cdata, length)
                    if status:
                        raise SrtpError(f"srtp_protect failed with status {status}")
                    data = buffer[0:length[0]]
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
        dtls._RTCDtlsTransport__tx_bytes += size
        dtls._RTCDtlsTransport__tx_packets += 1
        sender: Any = self.sender
        sender._RTCRtpSender__ntp_timestamp = ntp
        sender._RTCRtpSender__rtp_timestamp = timestamp
        sender._RTCRtpSender__packet_count += 1
        sender._RTCRtpSender__octet_count += len(payload)
        return True


class PacketTrack(MediaStreamTrack):
    """An audio track of already-encoded Opus packets, fed by :meth:`push`.

    ``maxlen`` bounds the queue (8 packets = 160 ms of 20 ms audio): when full, the oldest
    packet is dropped (the listener hears a short loss instead of ever-growing delay).
    ``clock`` stamps packet departure for ``on_latency(seconds)``, called with the time from
    :meth:`push` to the moment aiortc comes back for the next packet, i.e. after it has
    packetized, encrypted and sent the previous one. ``on_latency`` may be set or cleared
    at any time (benchmarks measure CPU without it); without a ``clock`` it is never called.
    """

    kind = "audio"

    def __init__(
        self,
        *,
        maxlen: int = 8,
        clock: Callable[[], float] | None = None,
        on_latency: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__()
        self._queue: deque[tuple[int, bytes, float]] = deque(maxlen=maxlen)
        self._waiter: asyncio.Future[None] | None = None
        self._clock = clock
        self.on_latency = on_latency
        self._in_flight: float | None = None
        #: Packets handed to aiortc.
        self.sent = 0
        #: Packets dropped because the queue was full.
        self.dropped = 0

    def push(self, pts: int, payload: bytes, arrival: float = 0.0) -> bool:
        """Queue one packet; return False if the oldest queued packet had to be dropped."""
        queue = self._queue
        full = len(queue) == queue.maxlen
        if full:
            self.dropped += 1
        queue.append((pts, payload, arrival))
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return not full

    def clear(self) -> None:
        """Forget queued packets (the downlink was switched off)."""
        self._queue.clear()

    @property
    def queued(self) -> int:
        """Packets waiting. (Not ``__len__``: aiortc tests a track's truthiness.)"""
        return len(self._queue)

    async def recv(self) -> Any:
        if self._in_flight is not None:
            if self.on_latency is not None and self._clock is not None:
                self.on_latency(self._clock() - self._in_flight)
            self._in_flight = None
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self.readyState != "live":
            raise MediaStreamError
        pts, payload, arrival = self._queue.popleft()
        packet = av.Packet(payload)
        packet.pts = pts
        packet.time_base = TIME_BASE
        self.sent += 1
        if self.on_latency is not None:
            self._in_flight = arrival
        return packet

    def stop(self) -> None:
        super().stop()
        self._queue.clear()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
