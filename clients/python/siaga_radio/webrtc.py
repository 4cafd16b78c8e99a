"""Voice over WebRTC (``docs/protocol.md``, "Voice over WebRTC") with aiortc.

One ``RTCPeerConnection`` per socket: our offer carries one send-only uplink; the server's
offers add one receive-only downlink per joined talkgroup (``downlinks``: mid -> talkgroup).
Sent audio is pre-encoded Opus (aiortc only packetizes an ``av.Packet``). Received audio is
taken as Opus packets, before aiortc's jitter buffer and decoder, with the server's receive
tap (``ptt.media.tap.ReceiverTap``): no 80 ms delay, no burst tail stuck in the
buffer, and the packets can be saved as they came. That tap uses aiortc internals, which is
why it lives in one place (the server package) with a test that fails if aiortc changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

import av
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from siaga_radio.errors import ConnectionLost, TransportUnavailable
from siaga_radio.ogg import packet_samples

if TYPE_CHECKING:
    from siaga_radio.client import Message, RadioClient

log = logging.getLogger("siaga_radio.webrtc")
TIME_BASE = fractions.Fraction(1, 48000)


class UplinkTrack(MediaStreamTrack):
    """Opus packets pushed by the talker, handed to aiortc as they come; ``recv`` blocks
    while nobody talks, so nothing at all is sent between transmissions."""

    kind = "audio"

    def __init__(self, maxlen: int = 25) -> None:
        super().__init__()
        self._queue: deque[bytes] = deque(maxlen=maxlen)
        self._ready = asyncio.Event()
        self._pts = 0

    def push(self, packet: bytes) -> None:
        self._queue.append(packet)
        self._ready.set()

    async def recv(self) -> Any:
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        if self.readyState != "live":
            raise MediaStreamError
        payload = self._queue.popleft()
        packet = av.Packet(payload)
        packet.pts = self._pts
        packet.time_base = TIME_BASE
        self._pts += packet_samples(payload)
        return packet

    def stop(self) -> None:
        super().stop()
        self._ready.set()


def _ice_servers(welcome: Message) -> list[RTCIceServer]:
    return [RTCIceServer(urls=s["urls"], username=s.get("username"),
                         credential=s.get("credential"))
            for s in welcome.get("ice_servers") or []]


class WebRtcVoice:
    def __init__(self, client: RadioClient) -> None:
        self.client = client
        self.pc: RTCPeerConnection | None = None
        self.uplink: UplinkTrack | None = None
        self.downlinks: dict[str, str] = {}  # mid -> talkgroup
        self._taps: dict[str, Any] = {}  # mid -> ReceiverTap
        self._lock = asyncio.Lock()
        self._answer: asyncio.Future[Message] | None = None
        self._offers: list[asyncio.Task[None]] = []
        self._connected = asyncio.Event()
        self._tap_module: Any = None
        if client.receive:
            try:
                from ptt.media import hooks, tap
            except ImportError as exc:
                raise TransportUnavailable(
                    f"receiving over WebRTC needs the siaga package's receive tap ({exc}); "
                    "use --transport websocket") from None
            hooks.check_aiortc_hooks()
            self._tap_module = tap

    async def start(self) -> None:
        """A new peer connection for a new socket: our offer, the server's answer."""
        async with self._lock:
            await self._close_pc()
            self._connected.clear()
            pc = RTCPeerConnection(RTCConfiguration(iceServers=_ice_servers(
                self.client.welcome)))
            self.pc = pc
            self.uplink = UplinkTrack()
            pc.addTransceiver(self.uplink, direction="sendonly")

            @pc.on("connectionstatechange")
            def _state() -> None:
                if pc is self.pc and pc.connectionState == "connected":
                    self._connected.set()

            await pc.setLocalDescription(await pc.createOffer())
            self._answer = self.client.waiter(lambda m: m.get("type") == "rtc_answer")
            await self.client.send("rtc_offer", sdp=pc.localDescription.sdp)
            answer = await asyncio.wait_for(self._answer, 10)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"],
                                                                type="answer"))

    def on_message(self, msg: Message) -> None:
        if msg["type"] == "rtc_offer":
            task = asyncio.create_task(self._server_offer(msg))
            self._offers.append(task)
            task.add_done_callback(self._offers.remove)

    async def _server_offer(self, msg: Message) -> None:
        async with self._lock:
            pc = self.pc
            if pc is None:
                return
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=msg["sdp"],
                                                                    type="offer"))
                await pc.setLocalDescription(await pc.createAnswer())
                await self.client.send("rtc_answer", sdp=pc.localDescription.sdp)
            except ConnectionLost:
                return
            except Exception:
                log.exception("server offer refused")
                return
            self.downlinks = dict(msg.get("downlinks") or {})
            if self._tap_module is not None:
                self._tap(pc, msg["sdp"])

    def _tap(self, pc: RTCPeerConnection, offer_sdp: str) -> None:
        types = self._tap_module.opus_payload_types(offer_sdp)
        transceiver: RTCRtpTransceiver
        for transceiver in pc.getTransceivers():
            mid = transceiver.mid
            if mid not in self.downlinks or mid not in types:
                continue
            tap = self._taps.get(mid)
            if tap is not None and tap.receiver is transceiver.receiver:
                tap.payload_type = types[mid]
                continue
            self._taps[mid] = self._tap_module.ReceiverTap(
                transceiver.receiver, types[mid], lambda packet, mid=mid: self._heard(mid, packet))

    def _heard(self, mid: str, packet: Any) -> None:
        talkgroup = self.downlinks.get(mid)
        if talkgroup is not None:
            self.client._audio(talkgroup, bytes(packet.payload), packet.sequence_number, None)

    def on_binary(self, data: bytes) -> None:
        pass  # binary frames only come to a socket that opted in to WebSocket audio

    async def ready(self, timeout: float = 10.0) -> None:
        """Wait until media can flow (ICE and DTLS done)."""
        await asyncio.wait_for(self._connected.wait(), timeout)

    def begin_burst(self, talkgroup: str) -> None:
        pass  # aiortc keeps one continuous RTP stream; the server retimes bursts anyway

    async def send(self, talkgroup: str, packet: bytes) -> None:
        if self.uplink is not None:
            self.uplink.push(packet)

    async def _close_pc(self) -> None:
        pc, self.pc = self.pc, None
        self._taps.clear()
        self.downlinks = {}
        if self.uplink is not None:
            self.uplink.stop()
        if pc is not None:
            with contextlib.suppress(Exception):
                await pc.close()

    async def stop(self) -> None:
        """The socket dropped: the server has closed its end of the peer connection."""
        self._connected.clear()
        for task in list(self._offers):
            task.cancel()
        await self._close_pc()

    async def close(self) -> None:
        await self.stop()
