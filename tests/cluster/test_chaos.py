"""Chaos, CI-sized: nodes are killed with -9 and started again while officers connected to
every node keep asking for the floor of one talkgroup, talking and letting go, and each
reconnects (resuming its session) when its socket drops, as docs/protocol.md tells it to.

Counted:

* **double talkers**: every 20 ms, the officers whose open socket last said
  ``floor_granted`` (an officer stops counting itself before it sends ``floor_release``, and
  a floor ends with its socket); two at once is a double talker (every request is
  ``normal`` at one priority, so nothing may pre-empt);
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
        """Copy what the socket received into ``log``."""
        client = self.client
        if client is None:
            return
        while not client.inbox.empty():
            msg = client.inbox.get_nowait()
            self.log.append(msg)
            client.seen.append(msg)  # still there for expect() (listen's answer)

    def holds(self) -> bool:
        """Whether its open socket's last word is that it holds the floor."""
        if self.client is None or self.client.gone:
            return False
        self.drain()
        for msg in reversed(self.log):
            if msg is None:
                return False
            if msg["type"] == "floor_granted":
                return True
            if msg["type"] in ("floor_released", "floor_revoked", "floor_idle",
                               "floor_denied", "let_go"):
                return False
            if msg["type"] == "error" and msg.get("code") == "not_holder":
                return False
        return False


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
            member.log.append({"type": "let_go"})  # it holds nothing from now on
            await client.send("floor_release")
            await asyncio.sleep(rng.uniform(0.0, 0.3))  # an officer's pause between talks
        except (ConnectionError, websockets.exceptions.WebSocketException, TimeoutError,
                KeyError, AssertionError):  # AssertionError: an answer that never came
            # The node went away mid-step, or the new session has no audio numbers yet:
            # reconnect (or ask for them) and go on, after a breath.
            if member.client is not None:
                member.client.numbers = {}
            await asyncio.sleep(0.1)
    return talks


async def test_kills_and_restarts_leave_no_double_talker_and_no_stuck_floor(
        tmp_path: Path) -> None:
    rng = random.Random(4242)
    async with running_cluster(tmp_path) as cluster:
        members = [Member(cluster, name, await cluster.token(i % 3, name), i % 3)
                   for i, name in enumerate(OFFICERS)]
        stop = asyncio.Event()
        workers = [asyncio.create_task(officer(m, random.Random(rng.random()), stop))
                   for m in members]
        doubles: list[str] = []

        async def watch() -> None:
            while not stop.is_set():
                holders = [m.name for m in members if m.holds()]
                if len(holders) > 1:
                    doubles.append(" and ".join(holders))
                await asyncio.sleep(0.02)

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
            member.log.append({"type": "let_go"})
            await client.send("floor_release")
        for member in members:
            client = await member.ensure()
            await client.send("floor_request", talkgroup=TALKGROUP)
            try:
                await until(member.holds, f"{member.name}: the floor after the chaos",
                            timeout=10)
            except AssertionError:
                stuck += 1
            member.log.append({"type": "let_go"})
            await client.send("floor_release")
        print(f"\nchaos: {kills} kills, {sum(t for t in talks if isinstance(t, int))} "
              f"talks, {len(doubles)} double talkers, {stuck} stuck floors")
        assert all(isinstance(t, int) for t in talks), talks
        assert sum(talks) > 0  # type: ignore[arg-type]
        assert doubles == []
        assert stuck == 0
        for member in members:
            if member.client is not None:
                await member.client.close()
