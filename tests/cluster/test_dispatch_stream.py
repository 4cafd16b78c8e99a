"""Consoles on every node see every dispatch event, whichever node the change came through;
webhooks and status links work on any node.

Three real nodes on PostgreSQL and NATS page crews through the real ``twilio`` library to
the fake Twilio, all with one public URL (``https://siaga.example.id``, the load balancer);
the fake signs its webhooks for that URL with ``RequestValidator`` and the simulated proxy
delivers them to node A; the crew's status link is used on node C. A console stream is
open on node C (and one on node B, where the dispatcher works, to check it sees each of its
own messages once).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.cluster.conftest import NodeCluster, running_cluster
from tests.dispatch_api.console import CALL
from tests.polling import until
from tests.sms.fake_twilio import FakeTwilio
from tests.sms.servers import Servers

PUBLIC_URL = "https://siaga.example.id"
CREW = "+6281200010008"  # AMB-KANIGARAN's crew phone in the demo data
A, B, C = 0, 1, 2


@dataclass
class Stream:
    """A console's live feed: every message it received, in order."""

    messages: list[dict[str, Any]] = field(default_factory=list)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]


@contextlib.asynccontextmanager
async def stream_at(cluster: NodeCluster, node: int, token: str) -> AsyncIterator[Stream]:
    url = cluster.nodes[node].url.replace("http://", "ws://")
    stream = Stream()
    async with websockets.connect(f"{url}/api/dispatch/stream?token={token}") as ws:
        assert json.loads(await ws.recv())["type"] == "welcome"

        async def read() -> None:
            async for raw in ws:
                stream.messages.append(json.loads(raw))

        reader = asyncio.create_task(read())
        try:
            yield stream
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


@pytest.fixture
async def twilio_cluster(tmp_path: Path) -> AsyncIterator[tuple[NodeCluster, FakeTwilio]]:
    async with Servers() as servers:
        fake = await FakeTwilio().start(servers)
        async with running_cluster(
                tmp_path, public_url=PUBLIC_URL, sms_gateway="twilio",
                twilio_account_sid=fake.account_sid, twilio_auth_token=fake.auth_token,
                twilio_from_number=fake.numbers[0], twilio_api_base=fake.base_url) as cluster:
            fake.route(PUBLIC_URL, cluster.nodes[A].url)  # the load balancer sends it to A
            yield cluster, fake


async def test_a_console_on_c_sees_what_is_done_through_b_a_reply_at_a_and_a_tap_at_c(
        twilio_cluster: tuple[NodeCluster, FakeTwilio]) -> None:
    cluster, fake = twilio_cluster
    token = await cluster.token(B, "dispatcher1")
    auth = {"Authorization": f"Bearer {token}"}
    b = cluster.nodes[B].url
    async with stream_at(cluster, C, token) as at_c, stream_at(cluster, B, token) as at_b:
        incident = (await cluster.http.post(f"{b}/api/incidents", json=CALL,
                                            headers=auth)).json()
        await until(lambda: at_c.of("incident.created"), "node C to see the incident")
        assert at_c.of("incident.created")[0]["incident"]["number"] == incident["number"]

        units = (await cluster.http.get(f"{b}/api/units", headers=auth)).json()
        unit = next(u for u in units if u["callsign"] == "AMB-KANIGARAN")
        r = await cluster.http.post(f"{b}/api/incidents/{incident['id']}/assignments",
                                    json={"unit_id": unit["id"]}, headers=auth)
        assert r.status_code == 201, r.text
        assignment = r.json()
        await until(lambda: at_c.of("assignment.created"), "node C to see the assignment")
        assert at_c.of("assignment.created")[0]["assignment"]["id"] == assignment["id"]

        # The dispatch SMS went out once (from B, where the unit was sent), and C saw it.
        def sent_sms() -> list[dict[str, Any]]:
            return [m for m in at_c.of("sms.message")
                    if m["message"]["kind"] == "dispatch" and m["message"]["state"] == "sent"]
        await until(sent_sms, "node C to see the dispatch SMS sent")
        assert [m.to for m in fake.outbound()] == [CREW]

        # The crew answers by SMS; Twilio's signed webhook reaches node A.
        _, answer = await fake.deliver_inbound(f"{PUBLIC_URL}/sms/twilio/inbound", from_=CREW,
                                               to=fake.numbers[0], body="1")
        assert answer.status_code == 200, answer.text

        def departed() -> list[dict[str, Any]]:
            return [m for m in at_c.of("assignment.updated")
                    if m["assignment"]["id"] == assignment["id"]
                    and m["assignment"]["status"] == "en_route"]
        await until(departed, "node C to see the crew's SMS applied", timeout=10)
        await until(lambda: [m for m in at_c.of("sms.message")
                             if m["message"]["direction"] == "in"
                             and m["message"]["result"] == "applied"],
                    "node C to see the crew's SMS", timeout=10)
        # The status link in the SMS (signed by node B) works on node C: one secret key.
        [sms] = fake.outbound()
        link = re.search(r"Lapor: (\S+)$", sms.body)
        assert link is not None and link[1].startswith(f"{PUBLIC_URL}/t/")
        tap = await cluster.http.post(link[1].replace(PUBLIC_URL, cluster.nodes[C].url),
                                      data={"status": "tiba"})
        assert tap.status_code == 200 and "Tercatat: Tiba" in tap.text, tap.text
        await until(lambda: [m for m in at_c.of("assignment.updated")
                             if m["assignment"]["status"] == "on_scene"],
                    "node C to see the crew on scene")
        detail = (await cluster.http.get(f"{b}/api/incidents/{incident['id']}",
                                         headers=auth)).json()
        [stored] = detail["assignments"]
        assert stored["status"] == "on_scene"
        actors = [e["actor"] for e in detail["audit"] if e["entity_type"] == "assignment"]
        assert f"sms:{CREW}" in actors and "link:AMB-KANIGARAN" in actors

        # Node B's own console had each of these once, as one node always did.
        await until(lambda: len(at_b.messages) >= len(at_c.messages),
                    "node B's console to catch up")
        assert len(at_b.of("incident.created")) == 1
        assert len(at_b.of("assignment.created")) == 1
        assert at_b.messages == at_c.messages


async def test_messages_of_one_node_arrive_at_the_others_in_order(
        twilio_cluster: tuple[NodeCluster, FakeTwilio]) -> None:
    cluster, _ = twilio_cluster
    token = await cluster.token(A, "dispatcher1")
    auth = {"Authorization": f"Bearer {token}"}
    async with stream_at(cluster, B, token) as at_b, stream_at(cluster, C, token) as at_c:
        numbers = []
        for _ in range(8):
            r = await cluster.http.post(f"{cluster.nodes[A].url}/api/incidents", json=CALL,
                                        headers=auth)
            numbers.append(r.json()["number"])
        for stream in (at_b, at_c):
            await until(lambda s=stream: len(s.of("incident.created")) == len(numbers),
                        "every incident on the other nodes")
            assert [m["incident"]["number"] for m in stream.of("incident.created")] == numbers
