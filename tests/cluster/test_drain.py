"""SIGTERM drains a node (docs/protocol.md, close code 4010): clients that are not talking
are told ``move`` and closed at once, a transmission in progress is let end, new sockets
are turned away, load balancers see 503 on /readyz, and then the process exits."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conformance.client import Client
from tests.polling import until
from tests.processes import ServerProcess, base_env, run


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
