"""The cluster a node belongs to: its NATS connection and the registry of live nodes.

With ``SIAGA_NATS_URL`` unset there is no cluster (``connect`` returns None) and nothing
here runs: one node on SQLite needs nothing else. With it set, every ``siaga serve`` on the
same PostgreSQL database is a node (docs/architecture.md, "Several nodes"):

1. Nodes talk only through NATS (the ``nats-py`` client): core subjects for what is
   live (events, voice), JetStream key/value buckets for what must outlive a node.
   Every subject and bucket name starts with the cluster's name (``SIAGA_CLUSTER_NAME``,
   default ``siaga``), so that several clusters can share one NATS.
2. Each node announces itself in the ``<name>_nodes`` bucket every
   :data:`HEARTBEAT_SECONDS`, under its node id, with its URL and whether it is draining.
   The bucket's entries expire after :data:`NODE_TTL_SECONDS`, so a node that died
   (kill -9, a dead VM, cut off from NATS) drops out of :meth:`Cluster.live_nodes` within
   that time without anyone having to say so.
3. A node that stops cleanly deletes its entry at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, NoKeysError
from nats.js.kv import KeyValue

from kernel.config import Settings

log = logging.getLogger("siaga.cluster")

HEARTBEAT_SECONDS = 0.5
NODE_TTL_SECONDS = 2.0


@dataclass(frozen=True)
class NodeInfo:
    """A live node: ``url`` is where the other nodes reach it, ``public_url`` where clients
    do (the same load balancer address for every node, or each node's own)."""

    node_id: str
    url: str
    public_url: str
    draining: bool = False

    def encode(self) -> bytes:
        return json.dumps({"url": self.url, "public_url": self.public_url,
                           "draining": self.draining}).encode()

    @classmethod
    def decode(cls, node_id: str, raw: bytes) -> NodeInfo:
        data = json.loads(raw)
        return cls(node_id, str(data["url"]), str(data["public_url"]),
                   bool(data.get("draining", False)))


@dataclass
class Cluster:
    """This node's membership of the cluster. Built by :func:`connect`, stopped by
    :meth:`close` (the app's lifespan does both)."""

    name: str
    node_id: str
    url: str
    public_url: str
    nc: NATS
    js: JetStreamContext
    draining: bool = False
    replicas: int = 1
    _nodes: KeyValue | None = None
    _heartbeat: asyncio.Task[None] | None = None
    _stopping: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def subject(self, *parts: str | int) -> str:
        """A subject of this cluster: ``subject("radio", 7)`` -> ``siaga.radio.7``."""
        return ".".join((self.name, *map(str, parts)))

    async def key_value(self, bucket: str, *, ttl: float | None = None,
                        history: int = 1) -> KeyValue:
        """This cluster's key/value bucket ``bucket`` (stored as ``<name>_<bucket>``),
        created on first use."""
        bucket = f"{self.name}_{bucket}"
        try:
            return await self.js.key_value(bucket)
        except BucketNotFoundError:
            return await self.js.create_key_value(bucket=bucket, ttl=ttl, history=history,
                                                  replicas=self.replicas)

    async def start(self) -> None:
        self._nodes = await self.key_value("nodes", ttl=NODE_TTL_SECONDS)
        await self._announce()
        self._heartbeat = asyncio.create_task(self._beat(), name="cluster-heartbeat")
        log.info("node joined the cluster", extra={"node": self.node_id})

    async def set_draining(self) -> None:
        """Tell the other nodes (and through them, clients) not to send anyone here."""
        self.draining = True
        await self._announce()

    async def live_nodes(self) -> list[NodeInfo]:
        """The nodes whose heartbeat has not expired, this one included, sorted by id."""
        assert self._nodes is not None, "start() first"
        try:
            keys = await self._nodes.keys()
        except NoKeysError:
            return []
        nodes = []
        for key in sorted(keys):
            with contextlib.suppress(KeyNotFoundError):
                entry = await self._nodes.get(key)
                if entry.value:
                    nodes.append(NodeInfo.decode(key, entry.value))
        return nodes

    def on_close(self, stop: Callable[[], Awaitable[None]]) -> None:
        """Run ``stop`` when the node leaves, before its NATS connection closes."""
        self._stopping.append(stop)

    async def close(self) -> None:
        for stop in reversed(self._stopping):
            try:
                await stop()
            except Exception:
                log.exception("cluster shutdown step failed")
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        if self._nodes is not None:
            with contextlib.suppress(Exception):
                await self._nodes.delete(self.node_id)
        with contextlib.suppress(Exception):
            await self.nc.drain()
        log.info("node left the cluster", extra={"node": self.node_id})

    async def _announce(self) -> None:
        assert self._nodes is not None
        await self._nodes.put(self.node_id,
                              NodeInfo(self.node_id, self.url, self.public_url,
                                       self.draining).encode())

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                await self._announce()
            except Exception as exc:  # NATS away: keep trying, the entry expires meanwhile
                log.warning("cluster heartbeat failed: %s", exc)


async def connect(settings: Settings, **options: Any) -> Cluster | None:
    """Join the cluster ``settings`` name, or return None when it names none."""
    if not settings.nats_url:
        return None
    servers = [url.strip() for url in settings.nats_url.split(",") if url.strip()]
    node_id = settings.cluster_node_id()

    async def error(exc: Exception) -> None:
        log.warning("NATS: %s", exc)

    nc = await nats.connect(servers=servers, name=f"siaga-{node_id}", error_cb=error,
                            max_reconnect_attempts=-1, reconnect_time_wait=0.5, **options)
    cluster = Cluster(settings.cluster_name, node_id, settings.cluster_node_url(),
                      settings.public_url, nc, nc.jetstream(),
                      replicas=settings.nats_replicas)
    await cluster.start()
    return cluster
