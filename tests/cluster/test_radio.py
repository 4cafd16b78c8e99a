"""The radio in a cluster: one leader serves it, every node passes its clients on, and when
the leader dies (kill -9) another takes over, the clients resume their sessions, and the
emergencies and patches are in force again."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from ptt.server.leadership import LEASE_TTL, RENEW_EVERY
from tests.cluster.conftest import NATS_ENV, NodeCluster, running_cluster
from tests.cluster.radio import (
    NatsLink,
    answer,
    close_all,
    closed,
    joined,
    radio_leader,
    resume,
)
from tests.polling import until
from tests.wsaudio.helpers import tone_packets

A = 440.0


async def test_a_listener_on_another_node_hears_the_talker(cluster: NodeCluster) -> None:
    leader = await radio_leader(cluster)
    other = (leader + 1) % 3
    talker = await joined(cluster, leader, "satpol1", await cluster.token(leader, "satpol1"),
                          ["satpolpp"])
    listener = await joined(cluster, other, "satpol2", await cluster.token(other, "satpol2"),
                            ["satpolpp"])
    try:
        await talker.take_floor()
        await listener.expect("floor_taken", talkgroup="satpolpp")
        await talker.talk("satpolpp", tone_packets(A, 50))
        await until(lambda: len(listener.frames) == 50, "50 frames through the proxy")
        tones = listener.heard_tones(listener.numbers["satpolpp"])
        assert tones.count(A) >= 45, tones
        # The radio's REST answers come from the leader, whichever node is asked.
        third = 3 - leader - other
        auth = {"Authorization": f"Bearer {await cluster.token(third, 'dispatcher1')}"}
        r = await cluster.http.get(f"{cluster.nodes[third].url}/api/talkgroups",
                                   headers=auth)
        live = {tg["id"]: tg for tg in r.json()}
        assert live["satpolpp"]["talker"]["username"] == "satpol1", r.text
        assert live["satpolpp"]["online"] == 2
        r = await cluster.http.post(f"{cluster.nodes[third].url}/api/talkgroups",
                                    headers=auth, json={"name": "Banjir Mayangan",
                                                        "members": ["satpol1", "satpol2"]})
        assert r.status_code == 201, r.text
        await talker.expect("talkgroup_added", talkgroup__id="banjir-mayangan")
        await listener.expect("talkgroup_added", talkgroup__id="banjir-mayangan")
        # The listener's own talk passes through its node too, after the floor changes.
        await talker.send("floor_release")
        await listener.expect("floor_idle")
        await listener.take_floor()
        await listener.talk("satpolpp", tone_packets(660.0, 20), pace=0.005)
        await until(lambda: len(talker.frames) == 20, "20 frames from the proxied talker")
    finally:
        await close_all(talker, listener)


async def test_floor_contention_across_nodes_has_one_holder(cluster: NodeCluster) -> None:
    users = ["satpol1", "satpol2", "dishub1"]
    clients = [await joined(cluster, node, user, await cluster.token(node, user),
                            ["gabungan"]) for node, user in enumerate(users)]
    try:
        await asyncio.gather(*(c.send("floor_request") for c in clients))
        answers = [await answer(c, "floor_granted", "floor_queued", "floor_denied")
                   for c in clients]
        assert answers.count("floor_granted") == 1, answers
        holder = clients[answers.index("floor_granted")]
        for c in clients:
            if c is not holder:
                await c.expect("floor_taken", talker__username=holder.name)
    finally:
        await close_all(*clients)


async def test_the_leader_killed_mid_transmission_is_replaced_and_sessions_resume(
        cluster: NodeCluster) -> None:
    leader = await radio_leader(cluster)
    f1, f2 = [n for n in range(3) if n != leader]
    tokens = {u: await cluster.token(f1, u) for u in ("satpol1", "satpol2", "dispatcher1")}
    talker = await joined(cluster, f1, "satpol1", tokens["satpol1"], ["satpolpp"])
    listener = await joined(cluster, f2, "satpol2", tokens["satpol2"], ["satpolpp"])
    console = await joined(cluster, leader, "dispatcher1", tokens["dispatcher1"],
                           ["satpolpp", "gabungan"])
    await console.send("patch", talkgroups=["satpolpp", "gabungan"])
    await listener.expect("patched", talkgroups=["gabungan", "satpolpp"])
    await listener.send("emergency_raise")
    await console.expect("emergency_alert", talkgroup="satpolpp")
    await listener.expect("floor_granted", call_type="emergency")
    await listener.send("floor_release")
    await talker.expect("floor_idle")
    await talker.take_floor()
    talking = asyncio.create_task(talker.talk("satpolpp", tone_packets(A, 250)))
    try:
        await until(lambda: len(listener.frames) >= 10, "the transmission under way")
        killed_at = time.monotonic()
        await cluster.nodes[leader].kill()
        # Clients on the survivors are told to reconnect; the leader's own see the drop.
        assert await closed(talker) == 4010
        assert await closed(listener) == 4010
        assert await closed(console) is None
        await asyncio.gather(talking, return_exceptions=True)
        talker, listener, console = await asyncio.gather(
            resume(cluster, talker, [f1, f2], tokens["satpol1"]),
            resume(cluster, listener, [f2, f1], tokens["satpol2"]),
            resume(cluster, console, [f1, f2], tokens["dispatcher1"]))
        resumed_after = time.monotonic() - killed_at
        assert talker.welcome["joined"] == ["satpolpp"]
        assert talker.welcome["selected"] == "satpolpp"
        assert listener.welcome["joined"] == ["satpolpp"]
        assert console.welcome["joined"] == ["satpolpp", "gabungan"]
        await talker.expect("joined", talkgroup="satpolpp", emergency=True,
                            patched_with=["gabungan"])  # the patch outlived its leader too
        # The emergency outlived its leader: the dispatcher is alerted again.
        await console.expect("emergency_alert", talkgroup="satpolpp", count=1)
        await listener.listen()
        await talker.listen()
        await talker.take_floor()
        granted_after = time.monotonic() - killed_at
        await listener.expect("floor_taken", talkgroup="satpolpp")
        await talker.talk("satpolpp", tone_packets(A, 20), pace=0.005)
        await until(lambda: len(listener.frames) == 20, "voice after the takeover")
        print(f"\nleader killed: sessions resumed after {resumed_after:.2f} s, "
              f"floor granted again after {granted_after:.2f} s "
              f"(lease ttl {LEASE_TTL:g} s, renewed every {RENEW_EVERY:g} s)")
        new_leader = await radio_leader(cluster)
        assert new_leader in (f1, f2)
    finally:
        talking.cancel()
        await close_all(talker, listener, console)


async def test_a_leader_stopped_cleanly_hands_the_radio_over_at_once(
        cluster: NodeCluster) -> None:
    leader = await radio_leader(cluster)
    f1, f2 = [n for n in range(3) if n != leader]
    tokens = {u: await cluster.token(f1, u) for u in ("satpol1", "satpol2")}
    talker = await joined(cluster, f1, "satpol1", tokens["satpol1"], ["satpolpp"])
    listener = await joined(cluster, f2, "satpol2", tokens["satpol2"], ["satpolpp"])
    try:
        stopped_at = time.monotonic()
        assert await cluster.nodes[leader].stop() in (0, -15)
        for client in (talker, listener):
            assert await closed(client) not in (None, 4001, 4002)
        talker, listener = await asyncio.gather(
            resume(cluster, talker, [f1, f2], tokens["satpol1"]),
            resume(cluster, listener, [f2, f1], tokens["satpol2"]))
        assert talker.welcome["joined"] == listener.welcome["joined"] == ["satpolpp"]
        await listener.expect("joined", talkgroup="satpolpp")
        await talker.listen()
        await talker.take_floor()
        await listener.expect("floor_taken", talker__username="satpol1")
        print(f"\nleader stopped: floor granted again after "
              f"{time.monotonic() - stopped_at:.2f} s (the lease was given up, not expired)")
        assert await radio_leader(cluster) in (f1, f2)
    finally:
        await close_all(talker, listener)


async def test_a_leader_cut_off_from_nats_steps_down_before_another_can_take_over(
        tmp_path: Path) -> None:
    link = await NatsLink.open(os.environ[NATS_ENV])
    async with running_cluster(tmp_path, size=0) as cluster:
        cut = cluster.add(SIAGA_NATS_URL=link.url)
        await cluster.start(cut)
        assert await radio_leader(cluster) == cut
        others = [cluster.add(), cluster.add()]
        await asyncio.gather(*(cluster.start(i) for i in others))
        token = await cluster.token(cut, "satpol1")
        client = await joined(cluster, cut, "satpol1", token, ["satpolpp"])
        proxied = await joined(cluster, others[0], "satpol2",
                               await cluster.token(others[0], "satpol2"), ["satpolpp"])
        cut_at = time.monotonic()
        link.cut()
        seen: dict[str, float] = {}

        async def new_leader() -> None:
            await radio_leader(cluster, exclude=cut)
            seen["taken"] = time.monotonic() - cut_at

        async def stepped_down() -> None:
            assert await closed(client) == 4010
            seen["closed"] = time.monotonic() - cut_at

        try:
            await asyncio.gather(new_leader(), stepped_down())
            print(f"\ncut off from NATS: the old leader closed its clients after "
                  f"{seen['closed']:.2f} s, another node took the lease after "
                  f"{seen['taken']:.2f} s")
            assert seen["closed"] < seen["taken"]
            assert await closed(proxied) == 4010
            again = await resume(cluster, proxied, others, await cluster.token(
                others[0], "satpol2"))
            assert again.welcome["joined"] == ["satpolpp"]
            await close_all(again)
        finally:
            await close_all(client, proxied)
