"""The console stream on several nodes: this node's messages out to NATS, the others' in.

Every message this node's :class:`~dispatch.service.stream.StreamHub` publishes is put, in
an envelope numbered by :class:`dispatch.relay.Sequencer`, on the cluster's subject
``<cluster>.dispatch.stream`` (core NATS: live consoles need no replay; a console that
connects later loads the REST API first). Every node subscribes to it and hands the
others' messages to its own hub's subscribers, in order per origin, never its own a second
time. When envelopes of an origin went missing (rule 3 of :mod:`dispatch.relay`) the
node's consoles are dropped (close code 4009): they reconnect and reload.

One publishing task sends in the order the hub published (NATS keeps one connection's
order); the hub never waits for it. ``on_remote`` is told of every message from another
node: the service re-arms its lifecycle timer from it (an assignment made elsewhere has
deadlines here too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dispatch.relay import Sequencer, Verdict
from dispatch.service.stream import Audience, StreamHub

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription

    from kernel.cluster import Cluster

log = logging.getLogger("dispatch.relay")

#: Messages waiting for the publishing task; beyond, they are dropped (and the other
#: nodes see the gap).
MAX_OUTGOING = 10_000


class StreamRelay:
    def __init__(self, cluster: Cluster, hub: StreamHub,
                 on_remote: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.cluster = cluster
        self.hub = hub
        self.on_remote = on_remote
        self.subject = cluster.subject("dispatch", "stream")
        self.sequencer = Sequencer(cluster.node_id, secrets.token_hex(8))
        self.gaps = 0
        self._outgoing: asyncio.Queue[bytes] = asyncio.Queue(MAX_OUTGOING)
        self._sub: Subscription | None = None
        self._pump: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._sub = await self.cluster.nc.subscribe(self.subject, cb=self._received)
        self._pump = asyncio.create_task(self._publish(), name="dispatch-stream-relay")
        self.hub.forward = self._forward

    async def close(self) -> None:
        """Stop forwarding; what was published before is sent first."""
        self.hub.forward = None
        if self._pump is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._outgoing.join(), 2.0)
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()

    def _forward(self, message: dict[str, Any], text: str, audience: Audience) -> None:
        to = (audience.dispatch, audience.hospital_id)
        data = self.sequencer.envelope(message, to).encode(text)
        try:
            self._outgoing.put_nowait(data)
        except asyncio.QueueFull:
            log.error("stream message not sent to the other nodes: NATS too slow")

    async def _publish(self) -> None:
        while True:
            data = await self._outgoing.get()
            try:
                await self.cluster.nc.publish(self.subject, data)
            except Exception as exc:  # NATS closed or draining: the others see a gap
                log.warning("stream message not sent to the other nodes: %s", exc)
            finally:
                self._outgoing.task_done()

    async def _received(self, msg: Msg) -> None:
        verdict, envelope = self.sequencer.receive(msg.data)
        if verdict is Verdict.MALFORMED:
            log.warning("malformed stream envelope ignored", extra={"bytes": len(msg.data)})
            return
        if verdict in (Verdict.OWN, Verdict.REPEAT):
            return
        assert envelope is not None
        if verdict is Verdict.GAP:
            self.gaps += 1
            log.warning("stream messages of another node were lost; consoles reload",
                        extra={"origin": envelope.origin, "seq": envelope.seq})
            self.hub.drop_all()
        self.hub.deliver(StreamHub.encode(envelope.message), Audience(*envelope.to))
        if self.on_remote is not None:
            self.on_remote(envelope.message)
