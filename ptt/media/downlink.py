"""What a downlink's aiortc sender sends with: a track of encoded packets, and the
negotiated numbering kept across server re-offers.

* :class:`PacketTrack`, a ``MediaStreamTrack`` whose ``recv()`` returns ``av.Packet`` objects
  (``pts`` in 48 kHz samples, ``time_base = 1/48000``): aiortc's public path for pre-encoded
  media; its sender only packetizes (``OpusEncoder.pack``). The fallback of the fast sender.
* :func:`create_renegotiation_offer` relies on aiortc's ``RTCRtpTransceiver._codecs`` and
  ``_headerExtensions``: ``createOffer`` resets them to aiortc's defaults before writing the
  offer, and a sender aiortc starts after that (its start is a task scheduled by the
  previous answer) would send under the default numbering instead of the negotiated one.
  The wrapper puts the negotiated values back once the offer is written; the offer text
  itself is renumbered by ``ptt.media.numbering``.
"""

from __future__ import annotations

import asyncio
import fractions
from collections import deque
from collections.abc import Callable
from typing import Any

import av
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

__all__ = ["TIME_BASE", "PacketTrack", "create_renegotiation_offer"]


TIME_BASE = fractions.Fraction(1, 48000)


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
