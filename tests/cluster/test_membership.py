"""Nodes find each other through NATS, and a node that dies drops out by itself."""

from __future__ import annotations

from tests.cluster.conftest import NodeCluster, wait_for_nodes


async def test_every_node_lists_every_node(cluster: NodeCluster) -> None:
    token = await cluster.token(0, "dispatcher1")
    everyone = ["node-0", "node-1", "node-2"]
    for via in range(3):
        await wait_for_nodes(cluster, via, token, everyone)
        r = await cluster.http.get(f"{cluster.nodes[via].url}/readyz")
        assert r.json() == {"status": "ready", "node": f"node-{via}"}


async def test_a_killed_node_drops_out_and_a_restarted_one_comes_back(
        cluster: NodeCluster) -> None:
    token = await cluster.token(0, "dispatcher1")
    await cluster.nodes[2].kill()
    # Nobody told the others: the node's heartbeat entry expires.
    await wait_for_nodes(cluster, 0, token, ["node-0", "node-1"], timeout=10)
    await cluster.nodes[1].stop()
    await wait_for_nodes(cluster, 0, token, ["node-0"], timeout=10)
    await cluster.start(2)
    await wait_for_nodes(cluster, 0, token, ["node-0", "node-2"])


async def test_a_token_from_one_node_is_good_on_every_node(cluster: NodeCluster) -> None:
    token = await cluster.token(1, "satpol1")
    for node in cluster.nodes:
        r = await cluster.http.get(f"{node.url}/api/me",
                                   headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["username"] == "satpol1"
