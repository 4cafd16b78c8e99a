"""Chaos, CI-sized: nodes are killed with -9 and started again while officers connected to
every node keep asking for the floor of one talkgroup, talking and letting go, and each
reconnects (resuming its session) when its socket drops, as docs/protocol.md tells it to.

Counted, from a dispatcher's socket (one ordered stream of what the radio decided):

* **double talkers**: a ``floor_taken`` naming a talker while another one holds the floor,
  with no ``floor_idle`` between (every request is ``normal`` at one priority, so nothing
  may pre-empt);
* **stuck floors**: once the chaos is over, every officer lets go and each in turn asks for
  the floor: a request not granted is a stuck floor.

Both must be 0. ``SIAGA_CHAOS_ROUNDS`` sets the number of kills (``make chaos`` runs more).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets

from tests.cluster.conftest import NodeCluster, running_cluster
from tests.cluster.radio import connect, radio_leader
from tests.polling import until
from tests.wsaudio.helpers import AudioClient, tone_packets

ROUNDS = int(os.environ.get("SIAGA_CHAOS_ROUNDS", "3"))
TALKGROUP = "gabungan"
OFFICERS = ["satpol1", "satpol2", "dishub1", "dishub2"]


@dataclass
class Member:
    """One user, kept connected to some live node; its session resumed when possible."""

    cluster: NodeCluster
    name: str
    token: str
    node: int
    client: AudioClient | None = None
    session: str | None = None
    #: Every message, in order, across reconnections (None marks a new connection).
    log: list[dict[str, Any] | None] = field(default_factory=list)
    _seen: int = 0

    async def ensure(self) -> AudioClient:
        if self.client is not None and not self.client.gone:
            return self.client
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while True:
            live = [i for i, n in enumerate(self.cluster.nodes) if n.running]
            self.node = live[(live.index(self.node) + 1) % len(live)] \
                if self.node in live else live[0]
            try:
                client = await connect(self.cluster, self.node, self.name, self.token,
                                       resume=self.session)
            except (OSError, ConnectionError, websockets.exceptions.WebSocketException):
                assert loop.time() < deadline, f"{self.name} found no node to serve it"
                continue
            self.client, self.session = client, client.welcome["session"]
            self.log.append(None)
            if not client.welcome["resumed"] or TALKGROUP not in client.welcome["joined"]:
                await client.send("join", talkgroup=TALKGROUP)
            return client

    def drain(self) -> None:
        """Move what the socket received into ``log``."""
        client = self.client
        if client is None:
            return
        while not client.inbox.empty():
            self.log.append(client.inbox.get_nowait())

    def holds(self) -> bool:
        """Whether its last word from the radio is that it holds the floor."""
        self.drain()
        for msg in reversed(self.log):
            if msg is None:
                return False
            if msg["type"] == "floor_granted":
                return True
            if msg["type"] in ("floor_released", "floor_revoked", "floor_idle",
                               "floor_denied"):
                return False
        return False


def double_talkers(log: list[dict[str, Any] | None]) -> list[str]:
    """What the dispatcher saw of the floor, replayed: each taker while another held it."""
    holder: str | None = None
    doubles = []
    for msg in log:
        if msg is None:
            holder = None  # a new connection: its joined says who talks now
            continue
        if msg["type"] == "joined" and msg.get("talkgroup") == TALKGROUP:
            talker = msg.get("talker")
            holder = talker["username"] if talker else None
        elif msg["type"] == "floor_taken" and TALKGROUP in msg.get("talkgroups", []):
            taker = msg["talker"]["username"]
            if holder is not None and holder != taker:
                doubles.append(f"{taker} while {holder}")
            holder = taker
        elif msg["type"] == "floor_idle" and TALKGROUP in msg.get("talkgroups", []):
            holder = None
    return doubles


async def officer(member: Member, rng: random.Random, stop: asyncio.Event) -> int:
    """Ask, talk a little, let go, again, until ``stop``; returns the talks made."""
    talks = 0
    while not stop.is_set():
        try:
            client = await member.ensure()
            if not client.numbers:
                await client.listen()
            await client.send("floor_request", talkgroup=TALKGROUP)
            with contextlib.suppress(AssertionError):
                await until(member.holds, f"{member.name}: the floor", timeout=2)
            if member.holds():
                await client.talk(TALKGROUP, tone_packets(440.0, rng.randrange(3, 10)),
                                  pace=0.02)
                talks += 1
            await client.send("floor_release")
            await asyncio.sleep(rng.uniform(0.0, 0.3))  # an officer's pause between talks
        except (ConnectionError, websockets.exceptions.WebSocketException, TimeoutError,
                KeyError):
            continue  # the node went away mid-step: reconnect and go on
    return talks


async def test_kills_and_restarts_leave_no_double_talker_and_no_stuck_floor(
        tmp_path: Path) -> None:
    rng = random.Random(4242)
    async with running_cluster(tmp_path) as cluster:
        members = [Member(cluster, name, await cluster.token(i % 3, name), i % 3)
                   for i, name in enumerate(OFFICERS)]
        dispatcher = Member(cluster, "dispatcher1", await cluster.token(0, "dispatcher1"), 0)
        await dispatcher.ensure()
        stop = asyncio.Event()
        workers = [asyncio.create_task(officer(m, random.Random(rng.random()), stop))
                   for m in members]

        async def watch() -> None:  # the dispatcher stays connected, whatever happens
            while not stop.is_set():
                client = await dispatcher.ensure()
                dispatcher.drain()
                await until(lambda c=client: c.gone or stop.is_set(),
                            "the dispatcher's socket to drop", timeout=120)
            dispatcher.drain()

        watcher = asyncio.create_task(watch())
        kills = 0
        try:
            for _ in range(ROUNDS):
                await asyncio.sleep(rng.uniform(1.0, 3.0))  # talk goes on meanwhile
                victim = await radio_leader(cluster) if rng.random() < 0.7 \
                    else rng.randrange(3)
                await cluster.nodes[victim].kill()
                kills += 1
                await radio_leader(cluster, timeout=20, exclude=victim)
                await cluster.start(victim)
            await asyncio.sleep(2.0)
        finally:
            stop.set()
            talks = await asyncio.gather(*workers, return_exceptions=True)
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)

        # Stuck floors: everyone lets go; then each asks in turn and must be granted.
        stuck = 0
        for member in members:
            client = await member.ensure()
            await client.send("floor_release")
        for member in members:
            client = await member.ensure()
            await client.send("floor_request", talkgroup=TALKGROUP)
            try:
                await until(member.holds, f"{member.name}: the floor after the chaos",
                            timeout=10)
            except AssertionError:
                stuck += 1
            await client.send("floor_release")
            await until(lambda m=member: not m.holds(), f"{member.name} to let go")
        dispatcher.drain()
        doubles = double_talkers(dispatcher.log)
        print(f"\nchaos: {kills} kills, {sum(t for t in talks if isinstance(t, int))} "
              f"talks, {len(doubles)} double talkers, {stuck} stuck floors")
        assert all(isinstance(t, int) for t in talks), talks
        assert sum(talks) > 0  # type: ignore[arg-type]
        assert doubles == []
        assert stuck == 0
        for member in [*members, dispatcher]:
            if member.client is not None:
                await member.client.close()
