"""Claims on PostgreSQL: two nodes' outboxes on one database never send one row twice, and
a row left ``sending`` by a node that stopped answering is taken over only after its lease.

Two :class:`Outbox` es stand for two nodes (``claimed_by`` "a" and "b") on a real
PostgreSQL database, each with its own console gateway on the shared dedup rows, and one
clock the test steps by hand.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from dispatch.service.stream import StreamHub
from dispatch.sms.console import ConsoleGateway
from dispatch.sms.gateway import MessageStatus, SendResult
from dispatch.sms.outbox import Outbox, OutboxConfig, Planned, SqlDedupStore
from dispatch.store.models import SmsMessageRow
from kernel.db import create_engine, session_factory
from siaga.migrate import upgrade
from tests.conftest import fresh_database

pytestmark = pytest.mark.postgres
LEASE = timedelta(seconds=30)
PHONE = "+6281200010001"


@dataclass
class Node:
    outbox: Outbox
    gateway: ConsoleGateway

    def sent(self) -> list[str]:
        return [m.dedup_key for m in self.gateway.recent()]


@dataclass
class Nodes:
    a: Node
    b: Node
    clock: list[datetime]

    def step(self, by: timedelta) -> None:
        self.clock[0] += by

    async def rows(self) -> dict[str, SmsMessageRow]:
        async with self.a.outbox._sessions() as s:
            rows = (await s.execute(select(SmsMessageRow))).scalars()
            return {r.dedup_key or "": r for r in rows}


@pytest.fixture
async def nodes(tmp_path: Path) -> AsyncIterator[Nodes]:
    async with fresh_database("postgresql", tmp_path) as url:
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(url)
        sessions = session_factory(engine)
        clock = [datetime(2026, 12, 7, 12, 0, tzinfo=UTC)]

        def node(name: str) -> Node:
            gateway = ConsoleGateway(store=SqlDedupStore(sessions), clock=lambda: clock[0])
            config = OutboxConfig(public_url="https://siaga.example.id", token_secret="k" * 32,
                                  status_callback=None, node_id=name, lease=LEASE,
                                  cluster=True)
            return Node(Outbox(sessions, gateway, StreamHub(), config, lambda: clock[0]),
                        gateway)

        pair = Nodes(node("a"), node("b"), clock)
        try:
            yield pair
        finally:
            await pair.a.outbox.close()
            await pair.b.outbox.close()
            await engine.dispose()


async def queue(outbox: Outbox, count: int) -> list[str]:
    keys = [f"claim-test:{i}" for i in range(count)]
    await outbox.queue([Planned("reply", key, PHONE, f"pesan {i}") for i, key in
                        enumerate(keys)], incident_id=None, assignment_id=None, unit_id=None)
    return keys


async def test_two_nodes_picking_up_together_send_each_row_once(nodes: Nodes) -> None:
    keys = await queue(nodes.a.outbox, 60)
    cutoff = nodes.clock[0]
    claimed = await asyncio.gather(nodes.a.outbox.pick_up(cutoff),
                                   nodes.b.outbox.pick_up(cutoff),
                                   nodes.a.outbox.pick_up(cutoff),
                                   nodes.b.outbox.pick_up(cutoff))
    sent = nodes.a.sent() + nodes.b.sent()
    assert sorted(sent) == sorted(keys) and sum(claimed) == len(keys)
    rows = await nodes.rows()
    for key in keys:
        assert rows[key].state == "sent" and rows[key].attempts == 1
        assert key in (nodes.a.sent() if rows[key].claimed_by == "a" else nodes.b.sent())
        assert rows[key].lease_until is None


async def test_a_held_row_is_taken_over_only_when_its_lease_expires(nodes: Nodes) -> None:
    [key] = await queue(nodes.a.outbox, 1)
    [claim] = await nodes.a.outbox._claim(SmsMessageRow.dedup_key == key)  # then a stalls

    await nodes.b.outbox.sweep()
    row = (await nodes.rows())[key]
    assert (row.state, row.claimed_by, nodes.b.sent()) == ("sending", "a", [])

    nodes.step(LEASE + timedelta(seconds=1))
    await nodes.b.outbox.sweep()
    row = (await nodes.rows())[key]
    assert (row.state, row.claimed_by, row.attempts) == ("sent", "b", 2)
    assert nodes.b.sent() == [key] and nodes.a.sent() == []

    # Node a wakes up and settles what it no longer holds: nothing changes.
    await nodes.a.outbox._settle(claim.row_id, SendResult.sent("CNlate", MessageStatus.SENT))
    after = (await nodes.rows())[key]
    assert (after.state, after.claimed_by, after.provider_id) == ("sent", "b", row.provider_id)
