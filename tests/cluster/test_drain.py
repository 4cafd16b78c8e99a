"""SIGTERM drains a node (docs/protocol.md, close code 4010): clients that are not talking
are told ``move`` and closed at once, a transmission in progress is let end, new sockets
are turned away, load balancers see 503 on /readyz, and then the process exits."""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.cluster.conftest import NodeCluster
from tests.cluster.radio import close_all, closed, joined, radio_leader, resume
from tests.conformance.client import Client
from tests.polling import until
from tests.processes import ServerProcess, base_env, run
from tests.wsaudio.helpers import tone_packets

A = 440.0


@dataclass
class Endpoint:
    """What the protocol client needs of a server: its addresses."""

    http_url: str

    @property
    def ws_url(self) -> str:
        return self.http_url.replace("http", "ws", 1)


async def test_a_drain_moves_listeners_at_once_and_lets_the_talker_finish(
        tmp_path: Path) -> None:
    env = base_env(database_url=f"sqlite+aiosqlite:///{tmp_path / 'siaga.db'}",
                   data_dir=str(tmp_path / "var"))
    await run(env, "db", "upgrade")
    await run(env, "demo", "load")
    node = ServerProcess(env, log=tmp_path / "node.log")
    async with httpx.AsyncClient(timeout=30) as http:
        await node.start(http)
        server = Endpoint(node.url)
        try:
            talker = await Client.connect(server, "satpol1")
            listener = await Client.connect(server, "satpol2")
            for client in (talker, listener):
                await client.expect("welcome")
                await client.join("satpolpp")
            await talker.send("floor_request", talkgroup="satpolpp")
            await talker.expect("floor_granted")
            await listener.expect("floor_taken")

            assert node.proc is not None
            node.proc.send_signal(signal.SIGTERM)
            move = await listener.expect("move")
            assert move["nodes"] == []  # one node: nowhere else to go but the same address
            await until(lambda: listener.closed, "the listener to be closed")
            assert listener.ws.close_code == 4010

            # Load balancers stop sending anyone here; newcomers are turned away.
            ready = await http.get(f"{node.url}/readyz")
            assert ready.status_code == 503 and ready.json()["error"]["code"] == "draining"
            late = await Client.connect(server, "dishub1")
            await late.expect("move")
            await until(lambda: late.closed, "the newcomer to be turned away")
            assert late.ws.close_code == 4010

            # The talker finishes its transmission, and only then is moved on.
            assert not talker.closed and node.running
            await talker.send("floor_release")
            await talker.expect("move")
            await until(lambda: talker.closed, "the talker to be closed")
            assert talker.ws.close_code == 4010
            assert await node.stop() == -signal.SIGTERM
        finally:
            node.close()


async def test_a_node_that_passes_clients_on_lets_its_talker_finish_when_drained(
        cluster: NodeCluster) -> None:
    """A node that is not the radio leader drains like the leader does: its clients are
    moved at once, a talker once its transmission is over, and the voice carries on to the
    listeners on other nodes meanwhile."""
    leader = await radio_leader(cluster)
    follower = (leader + 1) % 3
    tokens = {u: await cluster.token(leader, u) for u in ("satpol1", "satpol2", "dishub1")}
    talker = await joined(cluster, follower, "satpol1", tokens["satpol1"], ["satpolpp"])
    idle = await joined(cluster, follower, "dishub1", tokens["dishub1"], ["gabungan"])
    listener = await joined(cluster, leader, "satpol2", tokens["satpol2"], ["satpolpp"])
    try:
        await talker.take_floor()
        await listener.expect("floor_taken", talker__username="satpol1")
        stopping = asyncio.create_task(cluster.nodes[follower].stop())
        move = await idle.expect("move")
        assert cluster.nodes[leader].url in move["nodes"]
        assert await closed(idle) == 4010

        # The transmission goes on through the draining node, to the end.
        assert not talker.gone
        await talker.talk("satpolpp", tone_packets(A, 20), pace=0.005)
        await until(lambda: len(listener.frames) == 20, "the talk through the draining node")
        await talker.send("floor_release")
        await listener.expect("floor_idle")
        await talker.expect("move")
        assert await closed(talker) == 4010
        assert await stopping in (0, -signal.SIGTERM)

        # Its session lives on at the leader: the talker resumes elsewhere.
        again = await resume(cluster, talker, [leader], tokens["satpol1"])
        assert again.welcome["joined"] == ["satpolpp"]
        await close_all(again)
    finally:
        await close_all(talker, idle, listener)
