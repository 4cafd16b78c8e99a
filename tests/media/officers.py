"""Real aiortc client peers ("officers") for relay tests: a tone uplink, decoded downlinks."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import math
import time
from dataclasses import dataclass, field

import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from ptt.media.relay import VoiceRelay
from tests.polling import until

from .audio import FRAME, RATE, ToneEncoder, classify

TIME_BASE = fractions.Fraction(1, RATE)


class ToneTrack(MediaStreamTrack):
    """An uplink of pre-encoded Opus tone packets, paced at 20 ms while ``talking`` is set.

    With ``flood`` set (packets per second) it sends that many instead, or with ``math.inf``
    as fast as aiortc takes them: a misbehaving client.
    """

    kind = "audio"

    def __init__(self, freq: float) -> None:
        super().__init__()
        self.encoder = ToneEncoder(freq)
        self.talking = asyncio.Event()
        self.flood: float | None = None
        self.sent = 0
        self._pts = 0
        self._next: float | None = None

    def talk(self, on: bool = True) -> None:
        if on:
            self.talking.set()
        else:
            self.talking.clear()
            self._next = None

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        await self.talking.wait()
        loop = asyncio.get_running_loop()
        if self.flood == math.inf:
            await asyncio.sleep(0)
        else:
            now = loop.time()
            interval = FRAME / RATE if self.flood is None else 1 / self.flood
            self._next = now if self._next is None else self._next + interval
            if self._next > now:
                await asyncio.sleep(self._next - now)
        packet = av.Packet(self.encoder.packet())
        packet.pts = self._pts
        packet.time_base = TIME_BASE
        self._pts += FRAME
        self.sent += 1
        return packet


@dataclass
class Heard:
    """What one downlink track delivered: per decoded 20 ms frame, arrival time, pts, tone."""

    wall: list[float] = field(default_factory=list)
    pts: list[int] = field(default_factory=list)
    tones: list[float | None] = field(default_factory=list)

    def count(self, tone: float) -> int:
        return sum(1 for t in self.tones if t == tone)

    def first(self, tone: float) -> int | None:
        return next((i for i, t in enumerate(self.tones) if t == tone), None)

    def last(self, tone: float) -> int | None:
        found = [i for i, t in enumerate(self.tones) if t == tone]
        return found[-1] if found else None


class Officer:
    """A client peer: one uplink (tone track) and the downlinks the relay offers it."""

    TONES = (440.0, 660.0, 880.0, 1100.0)

    def __init__(self, name: str, freq: float, *, browser_numbering: bool = False) -> None:
        self.name = name
        self.freq = freq
        self.browser_numbering = browser_numbering
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.uplink = ToneTrack(freq)
        self.pc.addTransceiver(self.uplink, direction="sendonly")
        self.heard: dict[str, Heard] = {}  # by mid
        self._readers: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        mid = next(t.mid for t in self.pc.getTransceivers() if t.receiver.track is track)
        heard = self.heard.setdefault(str(mid), Heard())
        self._readers.append(asyncio.create_task(self._read(track, heard)))

    async def _read(self, track: MediaStreamTrack, heard: Heard) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                pcm = frame.to_ndarray().reshape(-1, len(frame.layout.channels)).mean(axis=1)
                heard.wall.append(time.monotonic())
                heard.pts.append(int(frame.pts))
                heard.tones.append(classify(np.asarray(pcm), self.TONES))

    async def connect(self, relay: VoiceRelay) -> None:
        offer = await self.pc.createOffer()
        if self.browser_numbering:
            offer = RTCSessionDescription(sdp=browser_numbered(offer.sdp), type="offer")
        await self.pc.setLocalDescription(offer)
        answer = await relay.open_peer(self.name, self.pc.localDescription.sdp)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        await until(lambda: self.pc.connectionState == "connected", f"{self.name} connected")

    async def listen(self, relay: VoiceRelay, talkgroups: list[int]) -> None:
        offer = await relay.set_downlinks(self.name, talkgroups)
        if offer is None:
            return
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await relay.accept_answer(self.name, self.pc.localDescription.sdp)

    def on(self, relay: VoiceRelay, talkgroup: int) -> Heard:
        """What this officer heard on its downlink for ``talkgroup``."""
        mid = relay.downlink_mids(self.name)[talkgroup]
        return self.heard.setdefault(mid, Heard())

    def all_heard(self) -> Heard:
        merged = Heard()
        for h in self.heard.values():
            merged.tones += h.tones
        return merged

    async def close(self) -> None:
        self.uplink.stop()
        for task in self._readers:
            task.cancel()
        await self.pc.close()


#: The name some media tests know ``tests.polling.until`` by.
wait_for = until


def browser_numbered(sdp: str) -> str:
    """An aiortc offer numbered as Chromium numbers its own: Opus 111, audio level
    extension 1, mid extension 4 (aiortc: Opus 96, mid 1, audio level 2)."""
    out = []
    for line in sdp.split("\r\n"):
        if line.startswith("m=audio"):
            line = " ".join("111" if part == "96" else part for part in line.split(" "))
        line = line.replace("a=rtpmap:96 ", "a=rtpmap:111 ").replace("a=fmtp:96 ", "a=fmtp:111 ")
        line = line.replace("a=rtcp-fb:96 ", "a=rtcp-fb:111 ")
        line = line.replace("a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
                            "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid")
        line = line.replace("a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
                            "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level")
        out.append(line)
    return "\r\n".join(out)
