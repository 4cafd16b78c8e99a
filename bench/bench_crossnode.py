"""Voice across nodes: a listener connected to another node than the talker's, against one
connected to the talker's node, in the same transmission.

What it guards: docs/architecture.md, "Several nodes": the radio leader serves every radio
client; a client connected to another node reaches it through that node (``/ws`` passed
on, ``ptt/server/proxy.py``), so WebSocket voice to such a listener takes one more hop.
WebRTC media does not: it flows between the client and the leader directly, so only the
WebSocket transport is measured here.

Setup: three real ``siaga serve`` nodes on the local PostgreSQL and NATS (the cluster
fixture of ``tests/cluster``); a talker and one listener on the radio leader, one listener
on another node, all on ``gabungan`` with WebSocket audio. The talker sends ``--packets``
20 ms Opus frames at 50 per second.

Printed: latency (talker's send -> listener's receipt, both in this process, so one clock)
p50/p99/max for each listener and the difference; packets each received; the CPU seconds
the leader and the passing node spent per packet delivered to their listener. The three
nodes and this process share the machine's cores (no pinning is possible for four
processes on two cores): read the difference, not the absolute figures.

Needs ``SIAGA_TEST_DATABASE_URL`` (PostgreSQL) and ``SIAGA_TEST_NATS_URL``; without them it
says so and measures nothing.

Usage: ``python -m bench.bench_crossnode [--quick] [--packets 500]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_failover import cluster_servers
from bench.bench_logins import _pct
from bench.bench_wsaudio import cpu_seconds
from ptt.audioframe import decode
from tests.cluster.conftest import NodeCluster, running_cluster
from tests.cluster.radio import close_all, joined, radio_leader
from tests.polling import until
from tests.wsaudio.helpers import AudioClient, tone_packets

PACKETS, QUICK_PACKETS = 500, 100
TALKGROUP = "gabungan"


async def measure(cluster: NodeCluster, packets: int) -> dict[str, object]:
    leader = await radio_leader(cluster)
    other = (leader + 1) % 3
    token = {u: await cluster.token(leader, u) for u in ("satpol1", "satpol2", "dishub1")}
    talker = await joined(cluster, leader, "satpol1", token["satpol1"], [TALKGROUP])
    near = await joined(cluster, leader, "satpol2", token["satpol2"], [TALKGROUP])
    far = await joined(cluster, other, "dishub1", token["dishub1"], [TALKGROUP])
    try:
        await talker.take_floor(TALKGROUP)
        await far.expect("floor_taken", talker__username="satpol1")
        sent: dict[int, float] = {}
        pids = [node.proc.pid for node in (cluster.nodes[leader], cluster.nodes[other])
                if node.proc is not None]
        cpu_before = [cpu_seconds(pid) for pid in pids]
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i, packet in enumerate(tone_packets(440.0, packets)):
            frame = talker.frame(TALKGROUP, packet)
            sent[decode(frame).sequence] = time.monotonic()
            await talker.ws.send(frame)
            await asyncio.sleep(max(0.0, start + (i + 1) * 0.02 - loop.time()))
        await until(lambda: len(near.frames) >= packets and len(far.frames) >= packets,
                    "every packet at both listeners", timeout=10)
        cpu_after = [cpu_seconds(pid) for pid in pids]
    except AssertionError:  # packets lost: report what arrived
        cpu_after = [cpu_seconds(pid) for pid in pids]
    finally:
        await close_all(talker, near, far)

    def latencies(client: AudioClient) -> list[float]:
        return [h.at - sent[h.frame.sequence] for h in client.frames
                if h.frame.sequence in sent]

    return {"near": latencies(near), "far": latencies(far),
            "cpu": [a - b for a, b in zip(cpu_after, cpu_before, strict=True)]}


async def run(packets: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-crossnode-") as tmp:
        async with running_cluster(Path(tmp)) as cluster:
            return await measure(cluster, packets)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--packets", type=int)
    args = parser.parse_args(argv)
    packets = args.packets or (QUICK_PACKETS if args.quick else PACKETS)
    if not cluster_servers("cross-node voice"):
        return 0
    r = asyncio.run(run(packets))
    near, far = r["near"], r["far"]
    assert isinstance(near, list) and isinstance(far, list)
    cpu = r["cpu"]
    assert isinstance(cpu, list)
    print(f"WebSocket voice, 3 nodes, talker on the radio leader, {packets} packets of 20 ms")
    print(f"{'listener':<34}{'packets':>8}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}")
    for name, values in (("on the talker's node", near), ("on another node (passed on)", far)):
        top = max(values) * 1000 if values else float("nan")
        print(f"{name:<34}{len(values):>8}{_pct(values, 0.5) * 1000:>8.1f}"
              f"{_pct(values, 0.99) * 1000:>8.1f}{top:>8.1f}")
    print(f"another node adds: p50 {(_pct(far, 0.5) - _pct(near, 0.5)) * 1000:+.1f} ms, "
          f"p99 {(_pct(far, 0.99) - _pct(near, 0.99)) * 1000:+.1f} ms (goal: p99 at most "
          "+5 ms)")
    if near and far:
        print(f"CPU per packet delivered: leader {cpu[0] / (2 * len(near)) * 1e6:.0f} us "
              f"(two listeners: one here, one through the other node), the passing node "
              f"{cpu[1] / len(far) * 1e6:.0f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
