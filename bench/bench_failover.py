"""Failover of the radio: kill -9 the radio leader of a three-node cluster, again and again.

What it guards: docs/architecture.md, "Several nodes": a node's death costs at most a few
seconds of one transmission; clients resume their session on another node within 5 s and
the floor is owned again (by the next leader) soon after.

Setup: three real ``siaga serve`` nodes on the local PostgreSQL and NATS (the cluster
fixture of ``tests/cluster``), five radio users (four officers and a dispatcher) on
``gabungan``, spread over the three nodes, and one of them talking when the leader dies.
Each round: the leader is killed with SIGKILL; every client reconnects with ``resume``
through the live nodes in turn (as docs/protocol.md tells it on 4010 or a dropped socket);
the talker asks for the floor again until granted; the killed node is started again.

Printed, over the rounds (time from the kill): another node holding the radio lease (read
from NATS as the nodes do), every client resumed (the last one's ``welcome`` with
``resumed``), and the first floor granted again; p50 and max each.

Needs ``SIAGA_TEST_DATABASE_URL`` (PostgreSQL) and ``SIAGA_TEST_NATS_URL`` (``make bench``
sets both when the servers answer locally); without them it says so and measures nothing.

Usage: ``python -m bench.bench_failover [--quick] [--rounds 10]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nats
from nats.js.errors import KeyNotFoundError

from ptt.server.leadership import LEASE_TTL, RENEW_EVERY
from tests.cluster.conftest import NodeCluster, running_cluster
from tests.cluster.radio import close_all, closed, connect, radio_leader, resume
from tests.polling import until
from tests.wsaudio.helpers import AudioClient

ROUNDS, QUICK_ROUNDS = 10, 2
USERS = (("satpol1", 0), ("satpol2", 1), ("dishub1", 2), ("dishub2", 0), ("dispatcher1", 1))
TALKGROUP = "gabungan"


def cluster_servers(what: str) -> bool:
    """Whether PostgreSQL and NATS are configured for a test cluster; if not, says that
    ``what`` is not measured."""
    missing = [v for v in ("SIAGA_TEST_DATABASE_URL", "SIAGA_TEST_NATS_URL")
               if not os.environ.get(v)]
    if missing:
        print(f"{what}: not measured ({', '.join(missing)} not set: a cluster needs "
              "PostgreSQL and NATS)")
    return not missing


async def sessions_kept(cluster: NodeCluster, users: list[int]) -> None:
    """Wait until the leader has written every user's session, joined to the talkgroup, to
    the cluster's bucket (it does so just after the change, off the radio's path): a kill
    before that would measure a session that could not be resumed."""
    nc = await nats.connect(os.environ["SIAGA_TEST_NATS_URL"])
    try:
        kv = await nc.jetstream().key_value(f"{cluster.name}_radio_sessions")

        async def written() -> bool:
            for user in users:
                try:
                    entry = await kv.get(f"u{user}")
                except KeyNotFoundError:
                    return False
                if TALKGROUP not in json.loads(entry.value or b"{}").get("groups", []):
                    return False
            return True

        await until(written, "the sessions in the cluster's bucket")
    finally:
        await nc.close()


async def one_round(cluster: NodeCluster, tokens: dict[str, str]
                    ) -> tuple[float, float, float]:
    """Kill the leader once; seconds to the lease taken, to all resumed, to a floor grant."""
    leader = await radio_leader(cluster)
    clients: list[tuple[AudioClient, int]] = []
    for i, (user, offset) in enumerate(USERS):
        node = (leader + offset) % 3
        client = await connect(cluster, node, user, tokens[user])
        if TALKGROUP not in client.welcome["joined"]:
            await client.send("join", talkgroup=TALKGROUP)
            await client.expect("joined", talkgroup=TALKGROUP)
        clients.append((client, node))
        if i == 0:
            await client.send("floor_request", talkgroup=TALKGROUP)
            await client.expect("floor_granted")
    await sessions_kept(cluster, [c.welcome["user"]["user_id"] for c, _ in clients])
    survivors = [n for n in range(3) if n != leader]
    nodes = cluster.nodes
    killed_at = time.monotonic()
    await nodes[leader].kill()
    lease = asyncio.create_task(radio_leader(cluster, exclude=leader))

    async def back(client: AudioClient, node: int, user: str) -> tuple[AudioClient, float]:
        await closed(client)
        order = [node, *survivors] if node in survivors else survivors
        again = await resume(cluster, client, order, tokens[user])
        return again, time.monotonic() - killed_at

    resumed = await asyncio.gather(*(back(c, n, u) for (c, n), (u, _) in zip(clients, USERS,
                                                                               strict=True)))
    await lease
    lease_after = time.monotonic() - killed_at  # an upper bound: polled from NATS
    talker = resumed[0][0]
    while True:
        await talker.send("floor_request", talkgroup=TALKGROUP)
        msg = await talker.recv(5)
        while msg["type"] not in ("floor_granted", "floor_queued", "floor_denied", "error"):
            msg = await talker.recv(5)
        if msg["type"] == "floor_granted":
            break
        await asyncio.sleep(0.05)
    granted_after = time.monotonic() - killed_at
    await talker.send("floor_release")
    await close_all(*(c for c, _ in resumed))
    await cluster.start(leader)
    return lease_after, max(t for _, t in resumed), granted_after


async def measure(rounds: int) -> list[tuple[float, float, float]]:
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-failover-") as tmp:
        async with running_cluster(Path(tmp)) as cluster:
            tokens = {u: await cluster.token(0, u) for u, _ in USERS}
            for i in range(rounds):
                results.append(await one_round(cluster, tokens))
                lease, resumed, granted = results[-1]
                print(f"  kill {i + 1}: lease {lease:.2f} s, all resumed {resumed:.2f} s, "
                      f"floor granted {granted:.2f} s", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int)
    args = parser.parse_args(argv)
    rounds = args.rounds or (QUICK_ROUNDS if args.quick else ROUNDS)
    if not cluster_servers("failover"):
        return 0
    print(f"radio failover: 3 nodes, {len(USERS)} clients on {TALKGROUP}, one talking; "
          f"the leader killed with -9, {rounds} times (lease ttl {LEASE_TTL:g} s, "
          f"renewed every {RENEW_EVERY:g} s)",
          flush=True)
    results = asyncio.run(measure(rounds))
    print(f"{'from the kill to':<34}{'p50 s':>8}{'max s':>8}")
    for name, column in (("another node holds the lease", 0), ("every client resumed", 1),
                         ("the floor granted again", 2)):
        values = [r[column] for r in results]
        print(f"{name:<34}{statistics.median(values):>8.2f}{max(values):>8.2f}")
    print("goals: every client resumed within 5 s; the floor owned again within 2 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
