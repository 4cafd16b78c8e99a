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
from collections import deque
from collections.abc import Callable
from typing import Any

import av
from aiortc import RTCRtpReceiver
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtp import RtpPacket

from ptt.errors import PttError

__all__ = [
    "TIME_BASE",
    "AiortcHookError",
    "PacketTrack",
    "ReceiverTap",
    "check_aiortc_hooks",
    "opus_payload_types",
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
    sample = RtpPacket()
    for name in ("payload_type", "sequence_number", "timestamp", "marker", "payload"):
        if not hasattr(sample, name):
            raise AiortcHookError(f"aiortc {aiortc.__version__}: RtpPacket.{name} is gone")


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

    async def _handle_rtp_packet(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        if packet.payload_type != self.payload_type or not packet.payload:
            self.dropped_payload_type += 1
            return
        self.received += 1
        try:
            self.on_packet(packet)
        except Exception:  # never let a bug here kill aiortc's receive loop
            logger.exception("RTP tap callback failed")


class PacketTrack(MediaStreamTrack):
    """An audio track of already-encoded Opus packets, fed by :meth:`push`.

    ``maxlen`` bounds the queue (8 packets = 160 ms of 20 ms audio): when full, the oldest
    packet is dropped (the listener hears a short loss instead of ever-growing delay).
    ``clock`` stamps packet departure for ``on_latency(seconds)``, called with the time from
    :meth:`push` to the moment aiortc comes back for the next packet, i.e. after it has
    packetized, encrypted and sent the previous one.
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
        self._on_latency = on_latency if clock is not None else None
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
        if self._on_latency is not None and self._in_flight is not None:
            assert self._clock is not None
            self._on_latency(self._clock() - self._in_flight)
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
        if self._on_latency is not None:
            self._in_flight = arrival
        return packet

    def stop(self) -> None:
        super().stop()
        self._queue.clear()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
