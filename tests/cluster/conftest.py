"""A cluster of real ``siaga serve`` processes on PostgreSQL and NATS.

Each test gets a fresh PostgreSQL database and its own cluster name (the prefix of every
NATS subject and bucket), so tests never see each other's nodes; the cluster's buckets
are deleted afterwards. Skipped with the reason when PostgreSQL or NATS is not configured
(``.ci/run`` sets both).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import fresh_database
from tests.polling import until
from tests.processes import ServerProcess, base_env, run
from tests.sms.counting_gateway import counting_gateway  # noqa: F401 (a fixture)

NATS_ENV = "SIAGA_TEST_NATS_URL"


@dataclass
class NodeCluster:
    name: str
    env: dict[str, str]
    nodes: list[ServerProcess]
    http: httpx.AsyncClient
    tmp_path: Path

    def add(self, **env: str) -> int:
        """One more node (not started yet): the cluster's environment, then ``env``
        (``SIAGA_NATS_URL=...``); returns its index."""
        index = len(self.nodes)
        self.nodes.append(ServerProcess(
            {**self.env, "SIAGA_NODE_ID": f"node-{index}",
             "SIAGA_DATA_DIR": str(self.tmp_path / f"var-{index}"), **env},
            log=self.tmp_path / f"node-{index}.log"))
        return index

    async def token(self, node: int, username: str, password: str = "demo") -> str:
        r = await self.http.post(f"{self.nodes[node].url}/api/auth/login",
                                 json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    async def live_nodes(self, via: int, token: str) -> list[str]:
        r = await self.http.get(f"{self.nodes[via].url}/api/cluster/nodes",
                                headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        return sorted(n["id"] for n in r.json()["nodes"])

    async def start(self, node: int) -> None:
        await self.nodes[node].start(self.http, ready="/readyz")


async def _delete_buckets(nats_url: str, name: str) -> None:
    import nats

    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for info in await js.streams_info():
            if info.config.name.startswith(f"KV_{name}_"):
                await js.delete_stream(info.config.name)
    finally:
        await nc.close()


@contextlib.asynccontextmanager
async def running_cluster(tmp_path: Path, size: int = 3, **settings: str
                          ) -> AsyncIterator[NodeCluster]:
    nats_url = os.environ.get(NATS_ENV)
    if not nats_url:
        pytest.skip(f"cluster tests need NATS with JetStream in {NATS_ENV} (set by .ci/run)")
    name = f"t{secrets.token_hex(4)}"
    async with fresh_database("postgresql", tmp_path) as database_url:
        env = base_env(database_url=database_url, nats_url=nats_url, cluster_name=name,
                       secret_key="cluster-test-" + "k" * 32, **settings)
        await run(env, "db", "upgrade")
        await run(env, "demo", "load")
        async with httpx.AsyncClient(timeout=30) as http:
            cluster = NodeCluster(name, env, [], http, tmp_path)
            nodes = cluster.nodes
            for _ in range(size):
                cluster.add()
            try:
                await asyncio.gather(*(cluster.start(i) for i in range(size)))
                yield cluster
            finally:
                await asyncio.gather(*(n.stop() for n in nodes if n.running),
                                     return_exceptions=True)
                for n in nodes:
                    n.close()
                await _delete_buckets(nats_url, name)


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[NodeCluster]:
    """Three nodes of one cluster, all ready."""
    async with running_cluster(tmp_path) as c:
        yield c


async def wait_for_nodes(cluster: NodeCluster, via: int, token: str, expected: list[str],
                         timeout: float = 10) -> None:
    async def seen() -> bool:
        return await cluster.live_nodes(via, token) == sorted(expected)
    await until(seen, f"node {via} to list {expected}", timeout=timeout)
