"""Crew SMS and lifecycle timers on three nodes: each SMS sent once, each escalation raised
once, and a node killed mid-send leaves its SMS to the others, none sent twice, none lost.

Counted where the messages leave: the console gateway's journals (one per node's data
directory, counted across all three), or a counting provider on the HTTP gateway protocol
(tests/sms/counting_gateway.py) that can hold its answers while a node is killed.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

from tests.cluster.conftest import NodeCluster, running_cluster
from tests.cluster.test_dispatch_stream import stream_at
from tests.dispatch_api.console import CALL
from tests.polling import until
from tests.sms.counting_gateway import CountingGateway

A, B, C = 0, 1, 2


async def free_units(cluster: NodeCluster, token: str, count: int) -> list[dict[str, Any]]:
    r = await cluster.http.get(f"{cluster.nodes[A].url}/api/units",
                               headers={"Authorization": f"Bearer {token}"})
    free = [u for u in r.json() if u["crew_phones"] and u["status"] == "available"]
    assert len(free) >= count, f"only {len(free)} units with a crew phone are free"
    return free[:count]


async def dispatch(cluster: NodeCluster, node: int, token: str,
                   unit: dict[str, Any]) -> tuple[int, list[str]]:
    """Record a call and send ``unit`` through ``node``: the assignment's dispatch keys."""
    url, auth = cluster.nodes[node].url, {"Authorization": f"Bearer {token}"}
    incident = (await cluster.http.post(f"{url}/api/incidents", json=CALL,
                                        headers=auth)).json()
    r = await cluster.http.post(f"{url}/api/incidents/{incident['id']}/assignments",
                                json={"unit_id": unit["id"]}, headers=auth)
    assert r.status_code == 201, r.text
    assignment = r.json()["id"]
    return incident["id"], [f"dispatch:{assignment}:{phone}" for phone in unit["crew_phones"]]


def journaled(tmp_path: Path) -> Counter[str]:
    """Every console gateway send of every node, by dedup key."""
    counts: Counter[str] = Counter()
    for journal in tmp_path.glob("var-*/sms-console.jsonl"):
        for line in journal.read_text().splitlines():
            if line.strip():
                counts[json.loads(line)["dedup_key"]] += 1
    return counts


async def test_each_dispatch_sms_is_sent_once_and_each_escalation_raised_once(
        tmp_path: Path) -> None:
    async with running_cluster(tmp_path, sms_ack_timeout_seconds="10") as cluster:
        token = await cluster.token(A, "dispatcher1")
        units = await free_units(cluster, token, 9)
        async with stream_at(cluster, C, token) as at_c:
            made = await asyncio.gather(*(dispatch(cluster, i % 3, token, unit)
                                          for i, unit in enumerate(units)))
            expected = {key for _, keys in made for key in keys}
            await until(lambda: expected <= set(journaled(tmp_path)),
                        "every dispatch SMS to be sent", timeout=30)
            sends = journaled(tmp_path)
            assert set(sends) == expected
            assert all(n == 1 for n in sends.values()), sends
            # Nobody acknowledges: every node holds the timer, one of them escalates each.
            await until(lambda: len({m["assignment_id"] for m in at_c.of("escalation")})
                        == len(made), "every assignment to be escalated", timeout=60)
        auth = {"Authorization": f"Bearer {token}"}
        for incident_id, _ in made:
            r = await cluster.http.get(f"{cluster.nodes[B].url}/api/incidents/"
                                       f"{incident_id}/audit", headers=auth)
            escalated = [e for e in r.json() if e["action"] == "escalated"]
            assert len(escalated) == 1, escalated
        assert len(at_c.of("escalation")) == len(made)


async def test_a_node_killed_mid_send_leaves_its_sms_to_the_others(
        tmp_path: Path, counting_gateway: tuple[CountingGateway, str]) -> None:
    gateway, url = counting_gateway
    async with running_cluster(tmp_path, sms_gateway="http", http_gateway_url=url,
                               http_gateway_secret="s" * 32, sms_lease_seconds="6"
                               ) as cluster:
        token = await cluster.token(B, "dispatcher1")
        units = await free_units(cluster, token, 6)
        gateway.answers.clear()  # the provider takes each message but holds its answer
        made = await asyncio.gather(*(dispatch(cluster, (A, A, A, B, C, B)[i], token, unit)
                                      for i, unit in enumerate(units)))
        through_a = {key for _, keys in made[:3] for key in keys}
        expected = {key for _, keys in made for key in keys}
        await until(lambda: through_a <= {k for k, n in gateway.in_flight.items() if n},
                    "node A's sends to be in flight")
        await cluster.nodes[A].kill()
        gateway.answers.set()
        # A's rows stay `sending` until their lease ends; B or C then reconciles each
        # (the HTTP gateway de-duplicates on the key) and the others were never A's.
        await until(lambda: expected <= set(gateway.sent), "every SMS to be taken",
                    timeout=30)
        auth = {"Authorization": f"Bearer {token}"}

        async def settled() -> list[dict[str, Any]]:
            r = await cluster.http.get(f"{cluster.nodes[B].url}/api/sms?limit=50",
                                       headers=auth)
            rows = [m for m in r.json() if m["kind"] == "dispatch"]
            return rows if len(rows) == len(expected) and all(
                m["state"] == "sent" for m in rows) else []
        rows = await until(settled, "every dispatch SMS to be recorded sent", timeout=30)
        assert set(gateway.sent) == expected  # none lost, each taken once
        assert gateway.overlaps == []  # never two nodes sending one message at once
        # What A had in flight was asked again by a survivor (A was dead), once; nothing
        # else was asked twice.
        assert {key: n for key, n in gateway.requests.items() if n > 1} == dict.fromkeys(
            through_a, 2)
        attempts = {f"dispatch:{m['assignment_id']}:{m['phone']}": m["attempts"] for m in rows}
        assert attempts == {key: 2 if key in through_a else 1 for key in expected}
