"""Radio clients of a cluster for tests: the real ``websockets`` client speaking
docs/protocol.md to any node, with WebSocket audio (``tests.wsaudio.helpers.AudioClient``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from urllib.parse import urlsplit

import nats
import websockets
from nats.js.errors import KeyNotFoundError

from tests.cluster.conftest import NATS_ENV, NodeCluster
from tests.polling import until
from tests.wsaudio.helpers import AudioClient


async def radio_leader(cluster: NodeCluster, timeout: float = 15,
                       exclude: int | None = None) -> int:
    """The index of the node holding the radio lease (other than ``exclude``), read from
    NATS as the nodes do."""
    nc = await nats.connect(os.environ[NATS_ENV])

    async def holder() -> tuple[int] | None:  # a tuple: node 0 is a leader too
        try:
            kv = await nc.jetstream().key_value(f"{cluster.name}_radio_leader")
            entry = await kv.get("leader")
        except (KeyNotFoundError, nats.js.errors.BucketNotFoundError):
            return None
        node = str(json.loads(entry.value or b"{}").get("node", ""))
        index = int(node.removeprefix("node-"))
        return (index,) if cluster.nodes[index].running and index != exclude else None

    try:
        (index,) = await until(holder, "a radio leader", timeout=timeout)
        return index
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
    await until(lambda: not client.inbox.empty() or client.gone,
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
    await until(lambda: client.gone, f"{client.name}'s socket to close",
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


class NatsLink:
    """A TCP relay between one node and NATS that the test can cut, as a network would."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.server: asyncio.Server | None = None
        self.pipes: set[asyncio.StreamWriter] = set()

    @classmethod
    async def open(cls, nats_url: str) -> NatsLink:
        address = urlsplit(nats_url)
        link = cls((address.hostname or "127.0.0.1", address.port or 4222))
        link.server = await asyncio.start_server(link._pipe, "127.0.0.1", 0)
        return link

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"nats://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.pipes.update((writer, up_writer))

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))

    def cut(self) -> None:
        """Refuse new connections and drop the open ones."""
        assert self.server is not None
        self.server.close()
        for writer in self.pipes:
            writer.transport.abort()


async def close_all(*clients: AudioClient) -> None:
    for client in clients:
        with contextlib.suppress(Exception):
            await client.close()
