"""VoiceRelay: forwards Opus between WebRTC peers without decoding or re-encoding.

One ``RTCPeerConnection`` per client. The client opens it (its offer carries its uplink audio);
the server adds one send-only audio transceiver per talkgroup the client listens to, through
server-initiated renegotiation (:meth:`VoiceRelay.set_downlinks` returns an offer, the client's
answer comes back through :meth:`VoiceRelay.accept_answer`).

Who hears whom is decided elsewhere (floor control): :meth:`VoiceRelay.set_route` says where a
talker's packets go, :meth:`VoiceRelay.clear_route` stops them. The relay enforces it: a
packet from a client without a route is dropped and counted (``dropped_not_holder``).

Forwarding is one synchronous loop per talker packet, run inside aiortc's datagram handling
(see ``ptt.media.tap``): parse the TOC byte once, then per listener downlink re-timestamp
(``ptt.rtp.Retimer``, so each downlink is one continuous stream across talkers and bursts) and
send. Two ways to send, chosen per relay:

* ``fast_path=True`` (the default): the loop itself builds the RTP header (the Retimer's
  sequence, timestamp and marker; the negotiated payload type, SSRC and mid), SRTP-protects it
  with the downlink's DTLS transport keys and writes the datagram to the selected ICE pair's
  socket (``ptt.media.fast_sender.FastRtpSender``): no task, future or coroutine per listener
  per packet.
  Where the optional C extension ``ptt.media._rtpout`` is installed, the whole loop runs in
  C (``native_fan_out``: re-timestamp with the C twin of ``Retimer``, build, protect, send,
  count) for every downlink whose C sender is ready; a downlink not yet connected, on a new
  ICE pair or on the packet track comes back to the same loop in Python, which hands it to C
  once it has sent on it (``native_send=False`` keeps everything in Python).
  aiortc's sender keeps sending the RTCP sender reports (with our counters) and handling the
  receiver reports. A packet for a downlink whose transport is not connected yet is dropped
  and counted (``dropped_not_connected``). A downlink whose negotiation the fast path cannot
  carry (a per-packet header extension) falls back to the packet track, for good.
* ``fast_path=False``: append to the downlink's bounded queue (``PacketTrack``), which aiortc's
  sender task for that track drains (packetize, protect, send): at 100 listeners in
  ``bench/bench_webrtc.py``, about 2x the server CPU per delivered packet (3x for the
  forwarding itself, without the per-peer RTCP and ICE background both paths share).

The talker never hears itself, even if a route names it.

Networks: with ``public_ips`` every SDP the relay sends also announces those addresses
(``ptt.media.nat``, for a server behind 1:1 NAT); with ``ice_ports`` each peer's ICE host
sockets are bound in that UDP port range (``ptt.media.ports``).

Hooks: ``on_media(client_id, now)`` for every Opus packet from any client, routed or not (the
floor's no-media timer and stuck-PTT detection decide what it means); ``on_packet(UplinkPacket)``
for routed packets only, once per talker packet (recorder, WebSocket fan-out). Both run inside
the forwarding loop: keep them quick. :meth:`VoiceRelay.forward` injects the packets of a talker
on another transport (WebSocket audio) into the same loop, without calling either hook.
``on_latency(seconds)`` (benchmarks) gets, per delivered packet, the time from arrival to
the datagram having been handed to the socket (fast path) or to aiortc's sender coming back
for the next packet, i.e. after it sent this one (packet-track path). It may be set or
cleared at any time (:attr:`VoiceRelay.on_latency`): it costs a call per delivery, so
benchmarks measure CPU without it.

Errors (all ``RelayError``, under ``ptt.errors.PttError``): ``SignalingError`` the client sent
an SDP we cannot use (the peer is closed, other peers are untouched); ``UnknownPeer`` no peer
for that client id; ``RenegotiationPending`` downlinks changed while the previous server
offer still waits for its answer.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from aiortc import (
    RTCConfiguration,
    RTCDtlsTransport,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.rtp import RtpPacket

from ptt.errors import PttError, UsageError
from ptt.media.downlink import PacketTrack, create_renegotiation_offer
from ptt.media.fast_sender import FastRtpSender, ntp_time
from ptt.media.grid import wake as wake_grid
from ptt.media.hooks import check_aiortc_hooks
from ptt.media.nat import announce_public
from ptt.media.native import NativeRetimer, native_fan_out
from ptt.media.numbering import keep_numbering
from ptt.media.ports import PortRange, bind_ice_ports
from ptt.media.tap import (
    ReceiverTap,
    datagram_shortcuts,
    install_direct_rtp,
    opus_payload_types,
)
from ptt.media.timers import RTCP_INTERVAL, relax_peer_rtcp
from ptt.oggopus import InvalidOpusPacket, packet_samples
from ptt.rtp import Retimer

__all__ = [
    "RelayError",
    "RelayMetrics",
    "RenegotiationPending",
    "SignalingError",
    "UnknownPeer",
    "UplinkPacket",
    "VoiceRelay",
]

logger = logging.getLogger(__name__)

ClientId = str
TalkgroupId = int


class RelayError(PttError):
    """Root of the relay's errors."""


class SignalingError(RelayError):
    """A client's SDP offer or answer could not be used."""


class UnknownPeer(RelayError, UsageError):
    """No peer connection for this client id (a caller's bug or a race with a disconnect)."""


class RenegotiationPending(RelayError):
    """The previous server offer to this client has not been answered yet."""


@dataclass(slots=True)
class RelayMetrics:
    """Plain counters, read by the metrics exporter."""

    #: Packet deliveries queued to a listener's downlink.
    forwarded: int = 0
    #: Packets from a client that had no route (does not hold any floor).
    dropped_not_holder: int = 0
    #: Deliveries that pushed the oldest packet out of a full downlink queue.
    dropped_backpressure: int = 0
    #: Deliveries dropped as duplicate/late by the re-timestamping.
    dropped_late: int = 0
    #: Routed packets whose Opus TOC was invalid.
    dropped_invalid: int = 0
    #: Fast path: deliveries not sent because the downlink's transport was not connected yet
    #: (or any more), or the send failed (logged once per downlink).
    dropped_not_connected: int = 0
    peers_opened: int = 0
    peers_failed: int = 0


@dataclass(frozen=True, slots=True)
class UplinkPacket:
    """A routed talker packet, as given to ``on_packet`` (recorder, WebSocket fan-out)."""

    client_id: ClientId
    payload: bytes
    sequence: int
    timestamp: int
    samples: int
    arrival: float


@dataclass(eq=False, slots=True)
class _Downlink:
    listener: ClientId
    talkgroup_id: TalkgroupId
    transceiver: RTCRtpTransceiver
    track: PacketTrack
    retimer: Retimer | NativeRetimer
    #: The fast path's sender, None on the packet-track path (or after falling back to it).
    fast: FastRtpSender | None = None
    #: True once the client's answer including this downlink has been applied.
    active: bool = False
    #: ``fast.native_out`` once the Python loop has sent on it: from then on the C fan-out
    #: serves this downlink while its guard holds (read by ``native_fan_out``).
    native: object = None


@dataclass(eq=False)
class _Peer:
    client_id: ClientId
    pc: RTCPeerConnection
    taps: list[ReceiverTap] = field(default_factory=list)
    downlinks: dict[TalkgroupId, _Downlink] = field(default_factory=dict)
    #: Downlinks switched off, kept to be reused (same transceiver, same RTP stream).
    spare: list[_Downlink] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _descriptions(pc: RTCPeerConnection) -> list[str]:
    """The session's current SDPs, the client's first (its numbering wins)."""
    return [d.sdp for d in (pc.remoteDescription, pc.localDescription) if d is not None]


def _opus_capabilities() -> list[object]:
    return [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType == "audio/opus"]


@dataclass(frozen=True)
class MediaHooks:
    """Which of the private hooks into aiortc and aioice the relay installs (all, in
    service). ``make bench`` (``bench_webrtc``'s ``fast-no-*`` modes) turns one off at a
    time, interleaved with runs with all of them, to print what each saves. Off is for
    measurement only: without ``direct_rtp`` an empty datagram can again hang up a call."""

    #: RTP from aioice's socket callback straight to the tap (``tap.install_direct_rtp``).
    direct_rtp: bool = True
    #: RFC 7983 demultiplexing and consent-check answers (``tap.datagram_shortcuts``).
    datagram_shortcuts: bool = True
    #: RTCP every ~5 s and timers on a 100 ms grid (``timers.relax_peer_rtcp``).
    relaxed_timers: bool = True


class VoiceRelay:
    """See the module docstring. ``clock`` must be monotonic (seconds)."""

    def __init__(
        self,
        *,
        ice_servers: Sequence[RTCIceServer] = (),
        queue_size: int = 8,
        on_media: Callable[[ClientId, float], None] | None = None,
        on_packet: Callable[[UplinkPacket], None] | None = None,
        on_latency: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        setup_timeout: float = 10.0,
        fast_path: bool = True,
        native_send: bool = True,
        rtcp_interval: float = RTCP_INTERVAL,
        hooks: MediaHooks = MediaHooks(),
        public_ips: Sequence[str] = (),
        ice_ports: PortRange | None = None,
    ) -> None:
        check_aiortc_hooks()
        self.hooks = hooks
        self.fast_path = fast_path
        #: Fast path only: run the per-listener loop (re-timestamp, build, protect, send) in
        #: the C extension where it is installed (``ptt.media.native.NATIVE_SEND``); False runs the
        #: same loop in Python. Read when downlinks are created (their Retimer) and per packet.
        self.native_send = native_send
        #: Seconds between RTCP reports of peers opened from now on (``relax_rtcp``).
        self.rtcp_interval = rtcp_interval
        # Always an explicit list: with None, aiortc would add a public STUN server.
        self._ice_servers = list(ice_servers)
        #: Behind 1:1 NAT: the addresses every SDP sent also announces (``ptt.media.nat``).
        self.public_ips = list(public_ips)
        #: The UDP ports ICE binds in (``ptt.media.ports``); None: any the kernel picks.
        self.ice_ports = ice_ports
        self._queue_size = queue_size
        self.on_media = on_media
        self.on_packet = on_packet
        self._on_latency = on_latency
        self._clock = clock
        self._setup_timeout = setup_timeout
        self._peers: dict[ClientId, _Peer] = {}
        self._routes: dict[ClientId, list[tuple[ClientId, TalkgroupId]]] = {}
        self._resolved: dict[ClientId, list[_Downlink]] = {}
        self.metrics = RelayMetrics()

    @property
    def on_latency(self) -> Callable[[float], None] | None:
        return self._on_latency

    @on_latency.setter
    def on_latency(self, hook: Callable[[float], None] | None) -> None:
        """Switch the latency hook for every downlink, existing ones too."""
        self._on_latency = hook
        for peer in self._peers.values():
            for downlink in [*peer.downlinks.values(), *peer.spare]:
                downlink.track.on_latency = hook

    # --- peers -------------------------------------------------------------------------

    @property
    def clients(self) -> list[ClientId]:
        return list(self._peers)

    def peer_connection(self, client_id: ClientId) -> RTCPeerConnection:
        return self._peer(client_id).pc

    def _peer(self, client_id: ClientId) -> _Peer:
        try:
            return self._peers[client_id]
        except KeyError:
            raise UnknownPeer(f"no peer connection for client {client_id!r}") from None

    async def open_peer(self, client_id: ClientId, offer_sdp: str) -> str:
        """Answer a client's offer; its audio m-lines the client sends on become uplinks.

        A client that already had a peer (reconnect) gets a new one; the old one is closed.
        Returns the answer SDP with all ICE candidates (no trickle needed).
        """
        if client_id in self._peers:
            await self.close_peer(client_id)
        try:
            if not offer_sdp.startswith("v=0"):
                raise ValueError("it does not start with 'v=0'")
            uplink_pts = opus_payload_types(offer_sdp)
            if not uplink_pts:
                raise ValueError("no audio m-line offers Opus")
        except Exception as exc:
            self.metrics.peers_failed += 1
            raise SignalingError(f"client {client_id!r}: unusable SDP offer: {exc}") from exc
        pc = RTCPeerConnection(RTCConfiguration(iceServers=list(self._ice_servers)))
        peer = _Peer(client_id, pc)
        self._peers[client_id] = peer

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState == "failed" and self._peers.get(client_id) is peer:
                logger.info("peer %s failed; closing", client_id)
                await self.close_peer(client_id)

        try:
            await asyncio.wait_for(
                self._answer(peer, offer_sdp, uplink_pts), timeout=self._setup_timeout
            )
        except Exception as exc:
            self.metrics.peers_failed += 1
            if self._peers.get(client_id) is peer:
                del self._peers[client_id]
            await pc.close()
            if isinstance(exc, RelayError):
                raise
            raise SignalingError(f"client {client_id!r}: cannot use SDP offer: {exc}") from exc
        self.metrics.peers_opened += 1
        return announce_public(pc.localDescription.sdp, self.public_ips)

    async def _answer(self, peer: _Peer, offer_sdp: str, uplink_pts: dict[str, int]) -> None:
        pc = peer.pc
        on_packet = functools.partial(self._on_uplink, peer.client_id)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        self._relax(pc)
        for transceiver in pc.getTransceivers():
            if self.ice_ports is not None:  # before setLocalDescription gathers
                bind_ice_ports(transceiver.receiver.transport, self.ice_ports)
            self._direct(transceiver.receiver.transport)  # also guards the port
            pt = uplink_pts.get(transceiver.mid or "")
            if transceiver.kind != "audio" or transceiver.receiver.track is None:
                continue
            if pt is None:
                raise SignalingError(
                    f"client {peer.client_id!r}: audio m-line {transceiver.mid} has no Opus"
                )
            peer.taps.append(ReceiverTap(transceiver.receiver, pt, on_packet,
                                         direct=self.hooks.direct_rtp,
                                         shortcuts=self.hooks.datagram_shortcuts))
        await pc.setLocalDescription(await pc.createAnswer())
        for transceiver in pc.getTransceivers():
            self._direct(transceiver.receiver.transport)  # the sockets just gathered

    def _relax(self, pc: RTCPeerConnection) -> None:
        if self.hooks.relaxed_timers:
            relax_peer_rtcp(pc, self.rtcp_interval)

    def _direct(self, dtls: RTCDtlsTransport) -> None:
        if self.hooks.direct_rtp:
            install_direct_rtp(dtls, shortcuts=self.hooks.datagram_shortcuts)
        elif self.hooks.datagram_shortcuts:
            datagram_shortcuts(dtls.transport._connection)

    async def close_peer(self, client_id: ClientId) -> None:
        """Close a client's peer connection; its routes as talker stay until cleared."""
        peer = self._peers.pop(client_id, None)
        if peer is None:
            return
        for downlink in [*peer.downlinks.values(), *peer.spare]:
            downlink.track.stop()
        self._resolve_all()
        await peer.pc.close()

    async def close(self) -> None:
        for client_id in list(self._peers):
            await self.close_peer(client_id)

    # --- downlinks (server-initiated renegotiation) -------------------------------------

    async def set_downlinks(
        self, client_id: ClientId, talkgroup_ids: Iterable[TalkgroupId]
    ) -> str | None:
        """Give the client one receive track per talkgroup; return an offer, or None if same.

        Existing downlinks keep flowing during the renegotiation; a removed one is made
        inactive and kept for reuse, so adding a talkgroup later reuses its m-line (and its
        RTP stream) instead of growing the SDP. The new downlinks carry audio once the
        answer is accepted (:meth:`accept_answer`). :meth:`downlink_mids` tells the client
        which m-line is which talkgroup.
        """
        peer = self._peer(client_id)
        async with peer.lock:
            if peer.pc.signalingState != "stable":
                raise RenegotiationPending(f"client {client_id!r}: previous offer not answered yet")
            wanted = list(dict.fromkeys(talkgroup_ids))
            if set(wanted) == set(peer.downlinks):
                return None
            for tg in [tg for tg in peer.downlinks if tg not in wanted]:
                downlink = peer.downlinks.pop(tg)
                downlink.active = False
                downlink.track.clear()
                downlink.transceiver.direction = "inactive"
                peer.spare.append(downlink)
            for tg in wanted:
                if tg in peer.downlinks:
                    continue
                if peer.spare:
                    downlink = peer.spare.pop()
                    downlink.talkgroup_id = tg
                    downlink.transceiver.direction = "sendonly"
                    downlink.retimer.start_burst()
                else:
                    downlink = self._new_downlink(peer, tg)
                peer.downlinks[tg] = downlink
            self._resolve_all()
            offer = await create_renegotiation_offer(peer.pc)
            # aiortc numbers each offer from its defaults: keep what the client agreed to.
            sdp = keep_numbering(offer.sdp, _descriptions(peer.pc))
            await peer.pc.setLocalDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            return announce_public(peer.pc.localDescription.sdp, self.public_ips)

    def _new_downlink(self, peer: _Peer, talkgroup_id: TalkgroupId) -> _Downlink:
        track = PacketTrack(
            maxlen=self._queue_size,
            clock=self._clock,
            on_latency=self._on_latency,
        )
        transceiver = peer.pc.addTransceiver(track, direction="sendonly")
        self._relax(peer.pc)
        transceiver.setCodecPreferences(_opus_capabilities())  # type: ignore[arg-type]
        # The C twin where the C fan-out will run this downlink (see _fan_out).
        retimer_class = NativeRetimer if self._native_fan_out() else Retimer
        retimer = retimer_class(
            # Lower half, as aiortc does: some receivers' SRTP mishandle an early wraparound.
            initial_sequence=random.randrange(1 << 15),
            initial_timestamp=random.randrange(1 << 32),
        )
        fast = (FastRtpSender(transceiver.sender, native=self.native_send) if self.fast_path
                else None)
        return _Downlink(peer.client_id, talkgroup_id, transceiver, track, retimer, fast)

    async def accept_answer(self, client_id: ClientId, answer_sdp: str) -> None:
        """Apply the client's answer to the last :meth:`set_downlinks` offer.

        aiortc cannot roll an offer back: if the answer is refused (``SignalingError``) the
        peer stays waiting for an answer, and the signaling layer should close it and let
        the client reconnect.
        """
        peer = self._peer(client_id)
        async with peer.lock:
            if peer.pc.signalingState != "have-local-offer":
                raise SignalingError(f"client {client_id!r}: answer without a pending offer")
            try:
                await peer.pc.setRemoteDescription(
                    RTCSessionDescription(sdp=answer_sdp, type="answer")
                )
            except Exception as exc:
                raise SignalingError(f"client {client_id!r}: cannot use SDP answer: {exc}") from exc
            for downlink in peer.downlinks.values():
                downlink.active = True
            self._resolve_all()

    def downlink_mids(self, client_id: ClientId) -> dict[TalkgroupId, str]:
        """Which m-line (mid) of the client's SDP carries which talkgroup."""
        peer = self._peer(client_id)
        return {tg: d.transceiver.mid for tg, d in peer.downlinks.items() if d.transceiver.mid}

    # --- routing ------------------------------------------------------------------------

    def set_route(
        self, talker: ClientId, deliveries: Iterable[tuple[ClientId, TalkgroupId]]
    ) -> None:
        """From now on, ``talker``'s packets go to each (listener, talkgroup) downlink.

        Replaces the talker's previous route. Deliveries to a listener without that downlink
        (yet) are skipped until it exists; to the talker itself, always.
        """
        self._routes[talker] = list(deliveries)
        self._resolve(talker)

    def clear_route(self, talker: ClientId) -> None:
        """The talker no longer holds a floor: its packets are dropped from now on."""
        self._routes.pop(talker, None)
        self._resolved.pop(talker, None)

    def _resolve(self, talker: ClientId) -> None:
        downlinks: list[_Downlink] = []
        for listener, tg in self._routes[talker]:
            if listener == talker:
                continue
            peer = self._peers.get(listener)
            downlink = peer.downlinks.get(tg) if peer is not None else None
            if downlink is not None and downlink.active and downlink not in downlinks:
                downlinks.append(downlink)
        self._resolved[talker] = downlinks

    def _resolve_all(self) -> None:
        for talker in self._routes:
            self._resolve(talker)

    # --- the forwarding path ------------------------------------------------------------

    def _on_uplink(self, client_id: ClientId, packet: RtpPacket) -> None:
        now = self._clock()
        if self.on_media is not None:
            self.on_media(client_id, now)
        downlinks = self._resolved.get(client_id)
        metrics = self.metrics
        if downlinks is None:
            metrics.dropped_not_holder += 1
            return
        payload = packet.payload
        try:
            samples = packet_samples(payload)
        except InvalidOpusPacket:
            metrics.dropped_invalid += 1
            return
        sequence, timestamp = packet.sequence_number, packet.timestamp
        self._fan_out(client_id, downlinks, payload, sequence, timestamp, bool(packet.marker),
                      samples, now)
        if self.on_packet is not None:
            self.on_packet(UplinkPacket(client_id, payload, sequence, timestamp, samples, now))

    def forward(
        self, talker: ClientId, payload: bytes, sequence: int, timestamp: int, samples: int
    ) -> int:
        """Send a packet of a talker on another transport (WebSocket audio) to its route's
        WebRTC listeners, through the same loop as a WebRTC talker's; return the deliveries.

        The caller has checked the floor and the Opus TOC (``samples``); ``sequence`` is
        taken modulo 2**16. Neither ``on_media`` nor ``on_packet`` is called: the caller is
        the one that feeds the floor and the recorder. A talker without a route (no WebRTC
        listener was ever routed) delivers nothing and is not counted as a drop.
        """
        downlinks = self._resolved.get(talker)
        if not downlinks:
            return 0
        return self._fan_out(talker, downlinks, payload, sequence & 0xFFFF, timestamp, False,
                             samples, self._clock())

    def _native_fan_out(self) -> bool:
        """True when the C extension runs the per-listener loop (fast path, C installed)."""
        return self.fast_path and self.native_send and native_fan_out is not None

    def _fan_out(self, talker: ClientId, downlinks: list[_Downlink], payload: bytes,
                 sequence: int, timestamp: int, marker: bool, samples: int, now: float) -> int:
        wake_grid()  # awake anyway: the RTCP and consent waits whose time has come
        metrics = self.metrics
        delivered = 0
        ntp = ntp_time() if self.fast_path else 0
        on_latency = self._on_latency
        clock = self._clock
        if self._native_fan_out():
            # The C loop serves every downlink whose C sender is ready; the rest (not yet
            # connected, a new ICE pair, the packet track) come back to the loop below.
            offsets: list[float] | None = None
            if on_latency is not None:
                offsets, lag = [], clock() - now
            delivered, late, pending, failed = native_fan_out(
                downlinks, talker, sequence, timestamp, marker, samples, now, payload, ntp,
                offsets)
            metrics.forwarded += delivered
            metrics.dropped_late += late
            for downlink, error in failed or ():
                metrics.dropped_not_connected += 1
                if downlink.fast is not None:
                    downlink.fast.native_failed(error)
            if offsets and on_latency is not None:
                for offset in offsets:
                    on_latency(lag + offset)
            if not pending:
                return delivered
            downlinks = pending
        for downlink in downlinks:
            out = downlink.retimer.rewrite(
                talker, sequence, timestamp, now, marker=marker, samples=samples
            )
            if out is None:
                metrics.dropped_late += 1
                continue
            fast = downlink.fast
            if fast is not None:
                if fast.send(out.sequence, out.timestamp, out.marker, payload, ntp):
                    downlink.native = fast.native_out
                    metrics.forwarded += 1
                    delivered += 1
                    if on_latency is not None:
                        on_latency(clock() - now)
                    continue
                if fast.usable is not False:
                    metrics.dropped_not_connected += 1
                    continue
                # The negotiation needs what the fast path cannot build: the track, for good.
                downlink.fast = None
                downlink.retimer.start_burst()
            if not downlink.track.push(out.pts, payload, now):
                metrics.dropped_backpressure += 1
            metrics.forwarded += 1
            delivered += 1
        return delivered
