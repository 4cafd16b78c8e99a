"""A radio client written from ``docs/protocol.md`` alone: the ``websockets`` client and JSON,
nothing of the server's code nor of ``siaga_radio``. Frames are kept in arrival order, so a
test can check what came first."""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import LiveServer
from tests.polling import until

#: A valid Opus packet (TOC 0xF8: CELT fullband 20 ms, one frame), as docs/protocol.md asks.
OPUS_20MS = bytes([0xF8, 0xFF, 0xFE])


async def token_for(server: LiveServer, username: str) -> str:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        r = await http.post("/api/auth/login", json={"username": username, "password": "demo"})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


class Client:
    def __init__(self, name: str, ws: ClientConnection) -> None:
        self.name = name
        self.ws = ws
        self.frames: list[dict[str, Any]] = []  # every text frame, in order
        self.read = 0  # frames[:read] were taken by next() or expect()
        self.closed = False
        self._reader = asyncio.create_task(self._read())
        self._ref = 0
        self.numbers: dict[str, int] = {}
        self._sequence = 0

    @classmethod
    async def connect(cls, server: LiveServer, username: str, *, resume: str | None = None,
                      token: str | None = None) -> Client:
        token = token or await token_for(server, username)
        ws = await connect(f"{server.ws_url}/ws")
        hello: dict[str, Any] = {"v": 1, "type": "hello", "token": token}
        if resume is not None:
            hello["resume"] = resume
        await ws.send(json.dumps(hello))
        return cls(username, ws)

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                if isinstance(raw, str):
                    self.frames.append(json.loads(raw))
        self.closed = True

    async def send(self, type_: str, **fields: Any) -> Any:
        """Send one message with a fresh ``ref``; returns the ref."""
        self._ref += 1
        ref = f"{self.name}-{self._ref}"
        await self.ws.send(json.dumps({"v": 1, "type": type_, "ref": ref, **fields}))
        return ref

    async def next(self, timeout: float = 5.0) -> dict[str, Any]:
        await until(lambda: len(self.frames) > self.read, f"{self.name}: a message", timeout)
        self.read += 1
        return self.frames[self.read - 1]

    async def expect(self, type_: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        """The next message of ``type_`` (with ``match`` fields); those before are skipped."""
        while True:
            msg = await self.next(timeout)
            if msg["type"] == type_ and all(msg.get(k) == v for k, v in match.items()):
                return msg

    async def answer(self, type_: str, **fields: Any) -> dict[str, Any]:
        """Send a message and return its direct answer: the message carrying its ref."""
        ref = await self.send(type_, **fields)
        while True:
            msg = await self.next()
            if msg.get("ref") == ref:
                return msg

    async def join(self, talkgroup: str) -> dict[str, Any]:
        joined = await self.answer("join", talkgroup=talkgroup)
        assert joined["type"] == "joined", joined
        return joined

    async def opt_in_audio(self) -> None:
        msg = await self.answer("audio", transport="websocket")
        assert msg["type"] == "audio", msg
        self.numbers = msg["talkgroups"]

    async def send_audio(self, talkgroup: str, packets: int = 3, stream: int = 1) -> None:
        """Binary frames as in "Voice over WebSocket": header, then one Opus packet."""
        for _ in range(packets):
            header = struct.pack(">BIIII", 0x11, self.numbers[talkgroup], stream,
                                 self._sequence, self._sequence * 960)
            self._sequence += 1
            await self.ws.send(header + OPUS_20MS)

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
