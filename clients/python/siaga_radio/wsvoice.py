"""Voice over WebSocket (``docs/protocol.md``, "Voice over WebSocket"): Opus packets as
binary frames on the signaling socket itself, for networks that block UDP.

After every ``welcome`` the client sends ``audio``: ``websocket`` to receive frames, or
``webrtc`` when it only talks (the answer carries the talkgroup numbers frames use either
way). Each talk is a new burst: a random stream id, the sequence and the 48 kHz timestamp
counting from random values.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING

from siaga_radio.errors import ServerRefused
from siaga_radio.frames import BadFrame, decode_frame, encode_frame
from siaga_radio.ogg import packet_samples

if TYPE_CHECKING:
    from siaga_radio.client import Message, RadioClient

log = logging.getLogger("siaga_radio.wsvoice")


class WebSocketVoice:
    def __init__(self, client: RadioClient) -> None:
        self.client = client
        self.numbers: dict[str, int] = {}
        self.codes: dict[int, str] = {}
        self.bad_frames = 0
        self._stream = 0
        self._sequence = 0
        self._timestamp = 0

    async def start(self) -> None:
        mode = "websocket" if self.client.receive else "webrtc"
        try:
            answer = await self.client.request(
                "audio", lambda m: m.get("type") == "audio", transport=mode)
        except ServerRefused as exc:
            raise ServerRefused(exc.code, "the server does not serve WebSocket audio: "
                                + exc.message, exc.msg) from None
        self._learn(answer)

    def _learn(self, msg: Message) -> None:
        self.numbers = {str(k): int(v) for k, v in msg["talkgroups"].items()}
        self.codes = {v: k for k, v in self.numbers.items()}

    def on_message(self, msg: Message) -> None:
        if msg["type"] == "audio" and "talkgroups" in msg:
            self._learn(msg)  # also the unsolicited map after a dynamic talkgroup opened

    def on_binary(self, data: bytes) -> None:
        try:
            frame = decode_frame(data)
        except BadFrame as exc:
            self.bad_frames += 1
            log.warning("bad audio frame: %s", exc)
            return
        talkgroup = self.codes.get(frame.talkgroup)
        if talkgroup is not None:
            self.client._audio(talkgroup, frame.payload, frame.sequence, frame.stream)

    async def ready(self, timeout: float = 10.0) -> None:
        return None

    def begin_burst(self, talkgroup: str) -> None:
        self._stream = random.randrange(1 << 32)
        self._sequence = random.randrange(1 << 32)
        self._timestamp = random.randrange(1 << 32)

    async def send(self, talkgroup: str, packet: bytes) -> None:
        number = self.numbers.get(talkgroup)
        if number is None:
            raise ServerRefused("not_joined", f"no WebSocket audio number for {talkgroup}")
        await self.client.send_bytes(encode_frame(number, self._stream, self._sequence,
                                                  self._timestamp, packet))
        self._sequence = (self._sequence + 1) & 0xFFFFFFFF
        self._timestamp = (self._timestamp + packet_samples(packet)) & 0xFFFFFFFF

    async def stop(self) -> None:
        pass

    async def close(self) -> None:
        pass
