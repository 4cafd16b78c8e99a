"""A minimal radio client for end-to-end tests: the real ``websockets`` client speaking
the documented protocol to the real server."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import deque
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from tests.conftest import LiveServer
from tests.polling import until

_barriers = itertools.count(1)


class RadioClient:
    def __init__(self, name: str, ws: ClientConnection) -> None:
        self.name = name
        self.ws = ws
        self.seen: deque[dict[str, Any]] = deque()
        self.welcome: dict[str, Any] = {}

    @classmethod
    async def connect(cls, server: LiveServer, username: str, *, resume: str | None = None,
                      token: str | None = None) -> RadioClient:
        token = token or await server.login(username)
        url = f"{server.ws_url}/ws?token={token}"
        if resume:
            url += f"&resume={resume}"
        client = cls(username, await websockets.connect(url))
        client.welcome = await client.expect("welcome")
        return client

    async def send(self, type_: str, **fields: Any) -> None:
        await self.ws.send(json.dumps({"v": 1, "type": type_, **fields}))

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def recv(self, timeout: float = 3.0) -> dict[str, Any]:
        if self.seen:
            return self.seen.popleft()
        return dict(json.loads(await asyncio.wait_for(self.ws.recv(), timeout)))

    async def expect(self, type_: str, timeout: float = 3.0, **match: Any) -> dict[str, Any]:
        """The next message of ``type_`` (matching ``match``); others seen meanwhile are
        kept for later ``expect`` calls."""
        skipped: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise AssertionError(f"{self.name}: no {type_} {match or ''}; got {skipped}")
                try:
                    msg = await self.recv(remaining)
                except TimeoutError:
                    raise AssertionError(
                        f"{self.name}: no {type_} {match or ''}; got {skipped}") from None
                if msg.get("type") == type_ and all(
                        _get(msg, k) == v for k, v in match.items()):
                    return msg
                skipped.append(msg)
        finally:
            self.seen.extendleft(reversed(skipped))

    async def expect_nothing(self, type_: str, timeout: float = 3.0) -> None:
        """No ``type_`` message came after the last one ``expect`` returned, up to now.

        "Now" is a ``pong``: the server writes a connection's messages in the order it
        makes them, so whatever it sent this client before it handled our ``ping`` arrives
        before the ``pong``. Messages read on the way are kept for later ``expect`` calls
        (those already kept came before the last expected message, and are not looked at).
        """
        ref = f"barrier-{next(_barriers)}"
        await self.send("ping", ref=ref)
        fresh: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                msg = dict(json.loads(await asyncio.wait_for(
                    self.ws.recv(), max(0.0, deadline - loop.time()))))
            except TimeoutError:
                raise AssertionError(f"{self.name}: no pong to {ref}; got {fresh}") from None
            if msg.get("type") == "pong" and msg.get("ref") == ref:
                break
            fresh.append(msg)
        self.seen.extend(fresh)
        unexpected = [msg for msg in fresh if msg.get("type") == type_]
        if unexpected:
            raise AssertionError(f"{self.name}: unexpected {unexpected}")

    async def close(self) -> None:
        await self.ws.close()


async def first_radio_alert(server: LiveServer) -> dict[str, Any]:
    """The newest radio alert on dispatch (``GET /api/alerts`` as ``dispatcher1``), once
    there is one: the officer's emergency reaches dispatch through the bus."""
    token = await server.login("dispatcher1")
    async with httpx.AsyncClient(base_url=server.http_url,
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        async def alerts() -> list[dict[str, Any]]:
            return list((await http.get("/api/alerts")).json())

        return (await until(alerts, "the radio alert"))[0]


def _get(msg: dict[str, Any], dotted: str) -> Any:
    value: Any = msg
    for part in dotted.split("__"):
        value = value.get(part) if isinstance(value, dict) else None
    return value
