"""Radio clients of a cluster for tests: the real ``websockets`` client speaking
docs/protocol.md to any node, with WebSocket audio (``tests.wsaudio.helpers.AudioClient``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os

import nats
import websockets
from nats.js.errors import KeyNotFoundError

from tests.cluster.conftest import NATS_ENV, NodeCluster
from tests.polling import until
from tests.wsaudio.helpers import AudioClient


async def radio_leader(cluster: NodeCluster, timeout: float = 15) -> int:
    """The index of the node holding the radio lease, read from NATS as the nodes do."""
    nc = await nats.connect(os.environ[NATS_ENV])

    async def holder() -> int | None:
        try:
            kv = await nc.jetstream().key_value(f"{cluster.name}_radio_leader")
            entry = await kv.get("leader")
        except (KeyNotFoundError, nats.js.errors.BucketNotFoundError):
            return None
        node = str(json.loads(entry.value or b"{}").get("node", ""))
        index = int(node.removeprefix("node-"))
        return index if cluster.nodes[index].running else None

    try:
        return await until(holder, "a radio leader", timeout=timeout) or 0
    finally:
        await nc.close()


def ws_url(cluster: NodeCluster, node: int, token: str, resume: str | None = None) -> str:
    url = f"ws://127.0.0.1:{cluster.nodes[node].port}/ws?token={token}"
    return url + (f"&resume={resume}" if resume else "")


async def connect(cluster: NodeCluster, node: int, username: str, token: str, *,
                  resume: str | None = None) -> AudioClient:
    """A client on ``node``, welcomed; ConnectionError if the node closes it first."""
    client = AudioClient(username, await websockets.connect(
        ws_url(cluster, node, token, resume), open_timeout=15))
    await until(lambda: not client.inbox.empty() or client._reader.done(),
                f"{username}: a welcome or a close", timeout=15)
    if client.inbox.empty():
        raise ConnectionError(f"{username}: closed with {client.closed_with}")
    client.welcome = await client.expect("welcome")
    return client


async def joined(cluster: NodeCluster, node: int, username: str, token: str,
                 talkgroups: list[str]) -> AudioClient:
    client = await connect(cluster, node, username, token)
    for tg in talkgroups:
        await client.send("join", talkgroup=tg)
        await client.expect("joined", talkgroup=tg, timeout=5)
    await client.listen()
    return client


async def closed(client: AudioClient, timeout: float = 10) -> int | None:
    """Wait for the server to drop ``client``; its close code (None: no close frame)."""
    await until(lambda: client._reader.done(), f"{client.name}'s socket to close",
                timeout=timeout)
    return client.closed_with


async def resume(cluster: NodeCluster, client: AudioClient, nodes: list[int], token: str,
                 timeout: float = 20) -> AudioClient:
    """Reconnect ``client``'s session through ``nodes`` in turn, as docs/protocol.md tells
    a client to on close code 4010, until a welcome says it resumed."""
    session = client.welcome["session"]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    attempt = 0
    while True:
        node = nodes[attempt % len(nodes)]
        attempt += 1
        try:
            again = await connect(cluster, node, client.name, token, resume=session)
        except (OSError, websockets.exceptions.WebSocketException):
            if loop.time() > deadline:
                raise
            continue
        assert again.welcome["resumed"], again.welcome
        return again


async def answer(client: AudioClient, *types: str, timeout: float = 5) -> str:
    """The type of the next message of one of ``types`` (others are kept for later)."""
    skipped = []
    try:
        while True:
            msg = await client.recv(timeout)
            if msg["type"] in types:
                return str(msg["type"])
            skipped.append(msg)
    finally:
        client.seen.extendleft(reversed(skipped))


async def close_all(*clients: AudioClient) -> None:
    for client in clients:
        with contextlib.suppress(Exception):
            await client.close()
