"""The radio lease's adapter (``ptt.server.leadership``) on a real NATS, in one process:
two nodes compete, one leads and keeps renewing, the other takes over when it leaves."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator

import nats
import pytest

from kernel.cluster import Cluster
from ptt.lease import LossReason
from ptt.server.leadership import Leader, Leadership
from tests.cluster.conftest import NATS_ENV, _delete_buckets
from tests.polling import until


@pytest.fixture
async def nodes() -> AsyncIterator[list[tuple[Leadership, list[object]]]]:
    url = os.environ.get(NATS_ENV)
    if not url:
        pytest.skip(f"cluster tests need NATS with JetStream in {NATS_ENV} (set by .ci/run)")
    name = f"t{secrets.token_hex(4)}"
    out: list[tuple[Leadership, list[object]]] = []
    connections = []
    for i in range(2):
        nc = await nats.connect(url)
        connections.append(nc)
        told: list[object] = []
        cluster = Cluster(name, f"node-{i}", f"http://node-{i}", f"http://node-{i}", nc,
                          nc.jetstream())
        out.append((Leadership(cluster, on_gained=told.append, on_lost=told.append), told))
    try:
        yield out
    finally:
        for leadership, _ in out:
            await leadership.close()
        for nc in connections:
            await nc.close()
        await _delete_buckets(url, name)


async def test_one_node_leads_renews_and_hands_over_when_it_leaves(
        nodes: list[tuple[Leadership, list[object]]]) -> None:
    for leadership, _ in nodes:
        await leadership.start()
    await until(lambda: sum(n.holds() for n, _ in nodes) == 1, "one leader")
    first = next(i for i, (n, _) in enumerate(nodes) if n.holds())
    leader, leader_told = nodes[first]
    follower, follower_told = nodes[1 - first]
    expected = Leader(f"node-{first}", f"http://node-{first}")
    await until(lambda: follower.leader == expected, "the follower to know the leader")
    assert leader.leader == expected and follower.token is None
    token = leader.token
    assert token is not None and leader_told == [token]
    await until(lambda: (leader.token or 0) > token, "a renewal: a newer fencing token")
    assert not follower.holds() and follower_told == []

    seen: list[Leader | None] = []
    follower.listeners.append(seen.append)
    last = leader.token or 0
    await leader.close()
    assert leader_told[-1] is LossReason.RELEASED and not leader.holds()
    await until(follower.holds, "the follower to take the lease given up")
    assert (follower.token or 0) > last and follower_told == [follower.token]
    assert seen[-1] == Leader(f"node-{1 - first}", f"http://node-{1 - first}")
