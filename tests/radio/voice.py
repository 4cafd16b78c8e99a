"""Radio clients with real WebRTC audio: signaling over /ws, aiortc peers, tone uplinks."""

from __future__ import annotations

from aiortc import RTCSessionDescription

from tests.conftest import LiveServer
from tests.media.officers import Heard, Officer
from tests.polling import until
from tests.radio.client import RadioClient


class VoiceClient:
    """A radio client (``RadioClient``) whose peer connection sends ``freq`` when talking."""

    def __init__(self, radio: RadioClient, freq: float) -> None:
        self.radio = radio
        self.peer = Officer(radio.name, freq)
        self.downlinks: dict[str, str] = {}  # mid -> talkgroup

    @classmethod
    async def connect(cls, server: LiveServer, username: str, freq: float,
                      join: list[str]) -> VoiceClient:
        client = cls(await RadioClient.connect(server, username), freq)
        for tg in join:
            await client.radio.send("join", talkgroup=tg)
            await client.radio.expect("joined", talkgroup=tg)
        await client.offer()
        if join:  # the server offers one downlink per joined talkgroup
            await client.answer_server()
        return client

    async def offer(self) -> None:
        pc = self.peer.pc
        await pc.setLocalDescription(await pc.createOffer())
        await self.radio.send("rtc_offer", sdp=pc.localDescription.sdp)
        answer = await self.radio.expect("rtc_answer")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        await until(lambda: pc.connectionState == "connected", f"{self.radio.name} connected")

    async def answer_server(self) -> dict[str, str]:
        """Take the server's renegotiation offer (downlinks for the joined talkgroups)."""
        offer = await self.radio.expect("rtc_offer")
        pc = self.peer.pc
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        await self.radio.send("rtc_answer", sdp=pc.localDescription.sdp)
        self.downlinks = dict(offer["downlinks"])
        return self.downlinks

    def heard_on(self, talkgroup: str) -> Heard:
        mid = next(m for m, tg in self.downlinks.items() if tg == talkgroup)
        return self.peer.heard.setdefault(mid, Heard())

    def talk(self, on: bool = True) -> None:
        self.peer.uplink.talk(on)

    async def take_floor_and_talk(self) -> None:
        """Ask for the floor of the selected group and, once granted, send the tone."""
        await self.radio.send("floor_request")
        await self.radio.expect("floor_granted")
        self.talk()

    async def close(self) -> None:
        await self.peer.close()
        await self.radio.close()
