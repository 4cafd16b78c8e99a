"""WebSocket audio clients for end-to-end tests: the real ``websockets`` client speaking the
documented protocol, with binary audio frames (``ptt.audioframe``) on the same socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from ptt.audioframe import AudioFrame, decode, encode
from ptt.store.models import TransmissionRow
from tests.conftest import LiveServer
from tests.media.audio import FRAME, RATE, ToneEncoder, classify, decode_packets, windows
from tests.radio.client import RadioClient

TONES = (440.0, 660.0, 880.0, 1100.0)
#: Stream ids and first timestamps: arbitrary, and the same on every run.
_RNG = random.Random(1119)


@dataclass(frozen=True)
class Heard:
    at: float
    frame: AudioFrame


class AudioClient(RadioClient):
    """A radio client whose socket is read all the time: JSON messages wait for ``expect``,
    binary frames are collected in ``frames`` with their arrival time."""

    def __init__(self, name: str, ws: ClientConnection) -> None:
        super().__init__(name, ws)
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.frames: list[Heard] = []
        self.numbers: dict[str, int] = {}
        self.closed_with: int | None = None
        self._reader = asyncio.create_task(self._read())
        self._stream = _RNG.randrange(1 << 32)
        self._sequence = 0
        self._timestamp = _RNG.randrange(1 << 32)

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if isinstance(msg, bytes):
                    self.frames.append(Heard(time.monotonic(), decode(msg)))
                else:
                    self.inbox.put_nowait(json.loads(msg))
        except ConnectionClosed as exc:
            self.closed_with = exc.rcvd.code if exc.rcvd else None

    @property
    def gone(self) -> bool:
        """The server closed the socket (``closed_with`` holds its code, if it sent one)."""
        return self._reader.done()

    async def recv(self, timeout: float = 3.0) -> dict[str, Any]:
        if self.seen:
            return self.seen.popleft()
        return await asyncio.wait_for(self.inbox.get(), timeout)

    @classmethod
    async def joined(cls, server: LiveServer, username: str, talkgroups: list[str], *,
                     listen: bool = True) -> AudioClient:
        client = await cls.connect(server, username)
        assert isinstance(client, AudioClient)
        for tg in talkgroups:
            await client.send("join", talkgroup=tg)
            await client.expect("joined", talkgroup=tg)
        if listen:
            await client.listen()
        return client

    async def listen(self) -> dict[str, Any]:
        await self.send("audio", transport="websocket", ref="audio")
        answer = await self.expect("audio", ref="audio")
        self.numbers = dict(answer["talkgroups"])
        return answer

    async def take_floor(self, talkgroup: str | None = None) -> None:
        await self.send("floor_request", **({"talkgroup": talkgroup} if talkgroup else {}))
        await self.expect("floor_granted")
        self._stream = _RNG.randrange(1 << 32)

    def frame(self, talkgroup: str, payload: bytes, samples: int = FRAME) -> bytes:
        data = encode(AudioFrame(self.numbers[talkgroup], self._stream, self._sequence,
                                 self._timestamp, payload))
        self._sequence = (self._sequence + 1) % (1 << 32)
        self._timestamp = (self._timestamp + samples) % (1 << 32)
        return data

    async def talk(self, talkgroup: str, packets: list[bytes], *, pace: float = 0.02) -> None:
        """Send ``packets`` as frames, one every ``pace`` seconds (0: as fast as possible)."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i, packet in enumerate(packets):
            await self.ws.send(self.frame(talkgroup, packet))
            if pace:
                await asyncio.sleep(max(0.0, start + (i + 1) * pace - loop.time()))

    def heard_tones(self, talkgroup_number: int | None = None) -> list[float | None]:
        """The tone of each 20 ms of audio received (decoded with libopus)."""
        payloads = [h.frame.payload for h in self.frames
                    if talkgroup_number is None or h.frame.talkgroup_id == talkgroup_number]
        return [classify(w, TONES) for w in windows(decode_packets(payloads))]

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


def tone_packets(freq: float, count: int) -> list[bytes]:
    return ToneEncoder(freq).packets(count)


async def settle(server: LiveServer) -> None:
    """Wait until the store and the recorder have written everything (ids, files, rows)."""
    store = server.runtime.services["radio_store"]
    recorder = server.runtime.services.get("recorder")
    await store.flush()
    if recorder is not None:
        await recorder.flush()
    await store.flush()


async def transmissions(server: LiveServer) -> list[TransmissionRow]:
    await settle(server)
    async with server.runtime.sessions() as s:
        return list((await s.execute(select(TransmissionRow).order_by(TransmissionRow.id)))
                    .scalars())


def decode_file(path: Path) -> np.ndarray:
    """Decode an Ogg Opus file with FFmpeg (PyAV), independently of our reader: mono int16."""
    chunks = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            pcm = frame.to_ndarray()
            chunks.append(pcm.reshape(-1, len(frame.layout.channels)).mean(axis=1)
                          if pcm.ndim > 1 and frame.format.is_packed else pcm[0])
    samples = np.concatenate(chunks) if chunks else np.zeros(0)
    if samples.dtype.kind == "f":
        samples = samples * 32767
    return samples


def seconds(samples: np.ndarray) -> float:
    return len(samples) / RATE
