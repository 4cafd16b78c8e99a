"""Claims on PostgreSQL: two nodes' outboxes on one database never send one row twice, a
row left ``sending`` by a node that stopped answering is taken over only after its lease,
and a crew's replies stored by two nodes are applied in order.

Two :class:`Outbox` es (and inboxes) stand for two nodes (``claimed_by`` "a" and "b") on a
real PostgreSQL database, each with its own console gateway on the shared dedup rows, and
one clock the test steps by hand.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from dispatch.service import DispatchService
from dispatch.service.stream import StreamHub
from dispatch.sms.console import ConsoleGateway
from dispatch.sms.gateway import InboundSms, MessageStatus, SendResult
from dispatch.sms.inbox import Inbox
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
    inbox: Inbox

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
        """Every row, by dedup key (outbound) or provider id (inbound)."""
        async with self.a.outbox._sessions() as s:
            rows = (await s.execute(select(SmsMessageRow))).scalars()
            return {r.dedup_key or r.provider_id or "": r for r in rows}


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
            outbox = Outbox(sessions, gateway, StreamHub(), config, lambda: clock[0])
            service = DispatchService(sessions, clock=lambda: clock[0])
            return Node(outbox, gateway, Inbox(sessions, service, outbox, lambda: clock[0]))

        pair = Nodes(node("a"), node("b"), clock)
        try:
            yield pair
        finally:
            await pair.a.inbox.close()
            await pair.b.inbox.close()
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


async def test_a_crews_replies_stored_by_two_nodes_are_applied_in_order(nodes: Nodes) -> None:
    await nodes.a.inbox.start()
    await nodes.b.inbox.start()

    def sms(sid: str, body: str) -> InboundSms:
        return InboundSms(sid, PHONE, "console", body, nodes.clock[0])

    first = await nodes.a.inbox.accept(sms("SM1", "1"), "console", queue=False)
    second = await nodes.b.inbox.accept(sms("SM2", "2"), "console")
    await nodes.b.inbox.drain()  # b's worker met the reply: it waits for the earlier one
    rows = await nodes.rows()
    assert {r.provider_id: r.state for r in rows.values()} == {"SM1": "received",
                                                               "SM2": "received"}
    assert first is not None and second is not None and first < second
    await nodes.a.inbox.process(first)  # applying the first queues the second, here
    await nodes.a.inbox.drain()
    done = {r.provider_id: r for r in (await nodes.rows()).values()}
    assert done["SM1"].state == done["SM2"].state == "done"
    assert done["SM2"].claimed_by == "a"
