"""The radio leader of a cluster: the lease of :mod:`ptt.lease` kept in NATS key/value.

Every node runs one :class:`Leadership`. The lease is the key ``leader`` of the cluster's
``radio_leader`` bucket, whose entries expire :data:`LEASE_TTL` seconds after they were
written: ``create`` takes it (it fails while the key exists), ``update(last=revision)``
renews it (it fails once anyone else has written it), ``delete(last=revision)`` gives it
up. The value names the holder (node id and ``node_url``), so the other nodes know where
to send the radio's clients; they read it each time their own claim is refused.

This module performs the claims the core asks for and reports the answers; the rules
(when to claim, when the node holds the lease, why an old leader cannot act after another
took over) are the core's. :meth:`Leadership.holds` reads the clock each time it is asked:
the radio asks it before every decision.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from kernel.cluster import Cluster
from ptt.lease import (
    Claim,
    LeadershipGained,
    LeadershipLost,
    Lease,
    LeaseState,
    LossReason,
)

log = logging.getLogger("ptt.leadership")

BUCKET = "radio_leader"
KEY = "leader"
LEASE_TTL = 1.6
RENEW_EVERY = 0.3
GUARD = 0.4
#: A claim not answered within this many seconds has failed (the core tries again).
CLAIM_TIMEOUT = 1.0


@dataclass(frozen=True)
class Leader:
    """The node holding the radio lease, as last seen."""

    node_id: str
    url: str


class Leadership:
    """This node's side of the radio lease. ``on_gained(token)`` and ``on_lost(reason)``
    are called synchronously when the lease changes hands here; ``listeners`` are told
    (with the new leader, or None) whenever the known leader changes."""

    def __init__(self, cluster: Cluster, *, on_gained: Callable[[int], None],
                 on_lost: Callable[[LossReason], None]) -> None:
        self.cluster = cluster
        self.lease = Lease(cluster.node_id, ttl=LEASE_TTL, renew_every=RENEW_EVERY,
                           guard=GUARD)
        self.on_gained, self.on_lost = on_gained, on_lost
        self.listeners: list[Callable[[Leader | None], None]] = []
        self.leader: Leader | None = None
        self._me = Leader(cluster.node_id, cluster.url)
        self._value = json.dumps({"node": cluster.node_id, "url": cluster.url}).encode()
        self._kv: KeyValue | None = None
        self._task: asyncio.Task[None] | None = None
        self._claim: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    def holds(self) -> bool:
        """This node is the radio leader now (``ptt.lease`` rule 3)."""
        return self.lease.holds(self.loop.time())

    @property
    def token(self) -> int | None:
        return self.lease.token if self.holds() else None

    async def start(self) -> None:
        self._kv = await self.cluster.key_value(BUCKET, ttl=LEASE_TTL)
        self._task = asyncio.create_task(self._run(), name="radio-lease")

    async def leader_within(self, timeout: float) -> Leader | None:
        """The leader (this node's own :class:`Leader` when it leads), waiting up to
        ``timeout`` seconds for one to be known; None if none is."""
        deadline = self.loop.time() + timeout
        while True:
            if self.leader is not None:
                return self.leader
            self._changed.clear()
            remaining = deadline - self.loop.time()
            if remaining <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def close(self) -> None:
        """Give the lease up (the next leader need not wait for it to expire); once."""
        if self.lease.state is LeaseState.RELEASED:
            return
        self.lease.release(self.loop.time())
        for task in (self._task, self._claim):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        for claim in self.lease.claims():
            with contextlib.suppress(Exception):
                assert self._kv is not None
                await asyncio.wait_for(self._kv.delete(KEY, last=claim.last), CLAIM_TIMEOUT)
        self._tell()

    # -- the core's adapter ----------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            self.lease.handle_timer(self.loop.time())
            self._drain()
            deadline = self.lease.get_timer()
            self._wake.clear()
            timeout = None if deadline is None else max(0.0, deadline - self.loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _drain(self) -> None:
        for claim in self.lease.claims():
            self._claim = asyncio.create_task(self._perform(claim), name="radio-lease-claim")
        self._tell()

    def _tell(self) -> None:
        for event in self.lease.events():
            match event:
                case LeadershipGained(token=token):
                    log.warning("radio leader now", extra={"node": self._me.node_id,
                                                           "token": token})
                    self._see(self._me)
                    self.on_gained(token)
                case LeadershipLost(token=token, reason=reason):
                    log.warning("radio leadership lost", extra={
                        "node": self._me.node_id, "token": token, "reason": reason.value})
                    self._see(None)
                    self.on_lost(reason)

    async def _perform(self, claim: Claim) -> None:
        assert self._kv is not None
        try:
            if claim.last is None:
                call = self._kv.create(KEY, self._value)
            else:
                call = self._kv.update(KEY, self._value, last=claim.last)
            revision = await asyncio.wait_for(call, CLAIM_TIMEOUT)
        except KeyWrongLastSequenceError:
            holder, revision_seen = await self._read()
            self.lease.refused(claim, None if holder is None else holder.node_id,
                               revision_seen, self.loop.time())
            if holder is None or holder.node_id != self._me.node_id:
                self._see(holder)
        except Exception as exc:
            log.info("radio lease claim failed: %r", exc)
            self.lease.failed(claim, self.loop.time())
        else:
            self.lease.claimed(claim, revision, self.loop.time())
        self._drain()
        self._wake.set()

    async def _read(self) -> tuple[Leader | None, int | None]:
        assert self._kv is not None
        try:
            entry = await asyncio.wait_for(self._kv.get(KEY), CLAIM_TIMEOUT)
            data = json.loads(entry.value or b"")
            return Leader(str(data["node"]), str(data["url"])), entry.revision
        except (KeyNotFoundError, ValueError, KeyError, TypeError):
            return None, None
        except Exception:
            return self.leader, None

    def _see(self, leader: Leader | None) -> None:
        if leader == self.leader:
            return
        self.leader = leader
        self._changed.set()
        for listener in list(self.listeners):
            listener(leader)
