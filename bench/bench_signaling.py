"""PTT control plane: 1,000 WebSocket clients in 50 talkgroups asking for and releasing the floor.

The server runs in its own process (its CPU time from ``/proc/PID/stat``, user + system, all
threads; its RSS from ``/proc/PID/status``); this process plays every client with the
``websockets`` client library (default options, so permessage-deflate is negotiated as a
browser would; no client pings: browsers send none, the server pings every 20 s).

Modes, measured in the same run with the same clients and the same random seeds (the
traffic differs only where siaga queues a request that echo grants):

* ``siaga`` the real server (``siaga.app.create_app`` on uvicorn ``websockets-sansio``, as
  ``siaga serve`` runs it; SQLite; recording on) in a fresh database of its own: ``--groups``
  agencies, one talkgroup each, ``--per-group`` officers each (one argon2 hash shared by all
  users: hashing 1,000 passwords would take minutes). Each client connects with a token,
  joins its talkgroup, then follows the traffic below.
* ``echo``  baseline: a plain ``websockets`` server that answers every JSON text message
  with a small JSON reply (``floor_request`` -> ``floor_granted`` with the same ``ref``), no
  auth, no floor, no fan-out: what the transport alone costs.

Traffic (public-safety shape, DOMAIN.md): each talkgroup starts conversations at Poisson
times; a conversation has a geometric number of bursts (mean 8.58 / 4.69 = 1.83, the NIST
session / burst means) spoken alternately by two idle members, each burst exponential with
mean 4.69 s (capped at 55 s, under the 60 s talk limit), 0.5 s (exponential) between a
release and the answer's request. Conversations start at a rate that offers ``--load``
Erlang per talkgroup (default 0.3: busy 30% of the time; an assumption for a working group
in its busy hour). Model time runs ``--speed`` times faster than real time (default 4) so
that a 60 s run yields ~700 requests; the server's timers are not sped up, so a talker
sends one audio frame a second (real time) while it holds the floor (the no-media timer is
4 s; real talkers send 50 frames/s, which ``bench_wsaudio`` measures). A queued member takes
its grant (``floor_accept``) or withdraws after 15 s of model time.

Figures, over the measured window:

* server latency: ``floor_request`` frame handed to the app (the ASGI ``receive`` returns)
  -> the handler returned, its answers (``floor_granted`` to the requester, ``floor_taken``
  to the others) already in the outboxes: the ``Signaling.latency_probe`` hook. For ``echo``:
  message out of ``recv`` -> reply written (``send`` returned), which includes the write that
  siaga's figure leaves to its writer task.
* client latency: ``send`` of ``floor_request`` -> the answer parsed in this process.
* server CPU over the window, per request (all the server's work: fan-out, releases,
  transmission rows, recording, pings); event-loop lag (10 ms sleeps' overshoot); pauses of
  the cyclic GC (``gc.callbacks``); the time the server and this process were runnable but
  waited for a CPU (``/proc/PID/task/*/schedstat``): on a shared machine, how much of the
  tail is other people's load.
* memory per client: server RSS after N clients connected (and joined) minus RSS before any,
  / N, at N = 100, 500 and all; and the slope between the last two stages.
* connect: wall time and server CPU to connect, authenticate and join each stage.
* the CPU time of the service's membership re-scan after each command (timed by wrapping
  it in the server process); after the run, the objects the GC tracks and the cost of one
  full collection (what a gen-2 pause costs at this heap size).

``--quick``: 10 talkgroups (200 clients), 10 s. ``--no-deflate``: clients do not offer
permessage-deflate (what the server would cost without it).

Usage: ``python -m bench.bench_signaling [--quick] [--groups 50] [--per-group 20]
[--seconds 60] [--speed 4] [--load 0.3] [--modes siaga,echo] [--no-deflate]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import shutil
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GROUPS, PER_GROUP, QUICK_GROUPS = 50, 20, 10
SECONDS, QUICK_SECONDS = 60.0, 10.0
STAGES = (100, 500)  # and all clients
BURST_MEAN = 4.69  # s, NIST model of public-safety call logs (DOMAIN.md)
SESSION_MEAN = 8.58  # s, ditto: a conversation of ~1.83 bursts
TURNAROUND = 0.5  # s, assumed: release -> the answer's request
MAX_BURST = 55.0  # s, under the talkgroup's 60 s talk limit
PATIENCE = 15.0  # s of model time a queued member waits
KEEPALIVE = 1.0  # s of real time between a talker's audio frames
ANSWER_TIMEOUT = 10.0  # s real time for any answer: a lost answer is counted, not awaited
CONNECT_BATCH = 50
CLK_TCK = os.sysconf("SC_CLK_TCK")
ANSWERS = frozenset({"floor_granted", "floor_queued", "floor_denied", "error"})
TO_SELF = ANSWERS | {"floor_queue_cancelled", "floor_queue_position", "floor_revoked",
                     "joined"}


# --- servers (their own process) -------------------------------------------------------


class Probe:
    """Handling time of each text message in a server, its event loop's lag and the pauses
    of its cyclic garbage collector."""

    def __init__(self) -> None:
        self.requests: dict[int, float] = {}  # ref -> seconds
        self.by_type: dict[str, list[float]] = {}
        self.lags: list[float] = []
        self.gc_pauses: list[float] = []
        self.rescans: list[float] = []  # CPU seconds of each membership re-scan (siaga)
        self._gc_start = 0.0
        gc.callbacks.append(self._gc)

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        else:
            self.gc_pauses.append(time.perf_counter() - self._gc_start)

    def __call__(self, seconds: float, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            return
        kind = str(msg.get("type"))
        self.by_type.setdefault(kind, []).append(seconds)
        if kind == "floor_request" and isinstance(msg.get("ref"), int):
            self.requests[msg["ref"]] = seconds

    async def watch_loop(self, interval: float = 0.01) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t = loop.time()
            await asyncio.sleep(interval)
            self.lags.append(loop.time() - t - interval)

    def report(self) -> dict[str, Any]:
        return {"requests": self.requests,
                "types": {k: [len(v), _pct(v, 50) * 1e3, _pct(v, 99) * 1e3]
                          for k, v in self.by_type.items()},
                "lag": [_pct(self.lags, 50) * 1e3, _pct(self.lags, 99) * 1e3,
                        max(self.lags, default=0.0) * 1e3],
                "gc": [len(self.gc_pauses), sum(self.gc_pauses) * 1e3,
                       max(self.gc_pauses, default=0.0) * 1e3],
                "rescan": [len(self.rescans), _pct(self.rescans, 50) * 1e3,
                           _pct(self.rescans, 99) * 1e3, sum(self.rescans)]}

    def reset(self) -> dict[str, Any]:
        self.requests, self.by_type, self.lags, self.gc_pauses = {}, {}, [], []
        self.rescans = []
        return {}


def _heap() -> dict[str, Any]:
    """The size of the heap the cyclic GC walks, and what one full collection costs."""
    t0, c0 = time.perf_counter(), time.thread_time()
    gc.collect()
    return {"objects": len(gc.get_objects()), "full_gc_ms": (time.perf_counter() - t0) * 1e3,
            "full_gc_cpu_ms": (time.thread_time() - c0) * 1e3}


async def _rpc(probe: Probe) -> None:
    """Answer the orchestrator's commands (one a line on stdin) until stdin closes."""
    loop = asyncio.get_running_loop()
    commands: dict[str, Callable[[], dict[str, Any]]] = {
        "report": probe.report, "reset": probe.reset, "heap": _heap}
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        print("REPLY " + json.dumps(commands[line.strip()]()), flush=True)


def _loopback_socket() -> socket.socket:
    """Bound to a port the OS picks and kept bound until the server takes it (closing it and
    binding again would let another process take the port in between)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


async def serve_siaga(directory: Path, groups: int, per_group: int) -> None:
    """The real server over a fresh database of ``groups`` x ``per_group`` officers; the
    clients' tokens and talkgroups go to ``plan.json``."""
    import uvicorn

    from kernel.config import Settings
    from kernel.identity import Agency, AgencyKind, Role, User, hash_password
    from kernel.runtime import Runtime
    from ptt.server.signaling import Signaling
    from ptt.store.models import TalkgroupRow
    from siaga.app import create_app
    from siaga.migrate import upgrade_async
    from siaga.server import uvicorn_config

    sock = _loopback_socket()
    port = int(sock.getsockname()[1])
    settings = Settings(database_url=f"sqlite+aiosqlite:///{directory}/bench.db",
                        data_dir=directory, secret_key="bench-" + "k" * 40, port=port,
                        log_level="WARNING", log_format="text")
    await upgrade_async(settings.database_url)
    runtime = Runtime.build(settings)
    password = hash_password("bench-password")
    now = time.time()
    plan: list[dict[str, Any]] = []
    async with runtime.sessions() as s, s.begin():
        agencies = [Agency(code=f"unit{g:02d}", name=f"Regu {g:02d}", kind=AgencyKind.SATPOLPP)
                    for g in range(groups)]
        s.add_all(agencies)
        await s.flush()
        rows = [TalkgroupRow(code=f"tg{g:02d}", name=f"Kanal {g:02d}", agencies=[a.code])
                for g, a in enumerate(agencies)]
        users = [[User(username=f"officer{g:02d}-{i:02d}", display_name=f"Petugas {g:02d}-{i:02d}",
                       password_hash=password, role=Role.OFFICER, agency_id=a.id,
                       unit_callsign=f"R{g:02d}-{i:02d}", token_version=0)
                  for i in range(per_group)] for g, a in enumerate(agencies)]
        s.add_all(rows)
        s.add_all(u for members in users for u in members)
        await s.flush()
        for row, members in zip(rows, users, strict=True):
            plan.append({"talkgroup": row.code, "number": row.id,
                         "members": [[u.id, runtime.tokens.issue(u, now)] for u in members]})
    (directory / "plan.json").write_text(json.dumps(plan))
    config = uvicorn_config(create_app(runtime=runtime), "127.0.0.1", port, backlog=4096)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    probe = Probe()
    signaling: Signaling = runtime.services["signaling"]
    signaling.latency_probe = probe
    # The service re-scans every client's membership after each command and connection; its
    # CPU time is the cause this benchmark found for most of a floor request's handling, so
    # it is timed here (a private method: after a refactoring the figure is just missing).
    rescan = getattr(signaling.service, "_sync_membership", None)
    if rescan is not None:
        def timed_rescan() -> None:
            c0 = time.thread_time()
            rescan()
            probe.rescans.append(time.thread_time() - c0)
        setattr(signaling.service, "_sync_membership", timed_rescan)  # noqa: B010

    watcher = asyncio.create_task(probe.watch_loop())
    print(f"READY {port}", flush=True)
    await _rpc(probe)
    watcher.cancel()
    server.should_exit = True
    await task


async def serve_echo() -> None:
    import websockets
    from websockets.asyncio.server import ServerConnection, serve

    probe = Probe()
    replies = {"floor_request": "floor_granted", "floor_release": "floor_idle"}

    async def handler(ws: ServerConnection) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(websockets.ConnectionClosed):
            async for message in ws:
                received = loop.time()
                if isinstance(message, bytes):
                    continue  # the talkers' audio keepalives
                msg = json.loads(message)
                reply: dict[str, Any] = {"v": 1, "type": replies.get(msg.get("type"), "ack")}
                if "ref" in msg:
                    reply["ref"] = msg["ref"]
                await ws.send(json.dumps(reply))
                probe(loop.time() - received, message)

    async with serve(handler, "127.0.0.1", 0, backlog=4096) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        watcher = asyncio.create_task(probe.watch_loop())
        print(f"READY {port}", flush=True)
        await _rpc(probe)
        watcher.cancel()


# --- clients ----------------------------------------------------------------------------


@dataclass
class Tally:
    """What the clients saw; requests are counted while ``measuring``."""

    measuring: bool = False
    outcomes: Counter[str] = field(default_factory=Counter)  # of each floor_request
    after_queue: Counter[str] = field(default_factory=Counter)
    revoked: Counter[str] = field(default_factory=Counter)
    received: Counter[str] = field(default_factory=Counter)
    latency: dict[int, tuple[str, float]] = field(default_factory=dict)  # ref -> (answer, s)
    held: float = 0.0  # real seconds of floor held, all groups
    refs: int = 0

    def next_ref(self) -> int:
        self.refs += 1
        return self.refs


class Member:
    """One client: a connection, its reader task, and the floor messages addressed to it."""

    def __init__(self, ws: Any, group: Group, tally: Tally) -> None:
        self.ws = ws
        self.group = group
        self.tally = tally
        self.busy = False
        self.inbox: asyncio.Queue[tuple[str, int, dict[str, Any]]] = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        import websockets

        received = self.tally.received
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                if isinstance(raw, bytes):
                    continue
                at = time.perf_counter_ns()
                msg = json.loads(raw)
                kind = msg.get("type")
                received[kind] += 1
                if kind in TO_SELF:
                    self.inbox.put_nowait((kind, at, msg))

    async def send(self, type_: str, **fields: Any) -> None:
        await self.ws.send(json.dumps({"v": 1, "type": type_, **fields}))

    async def next(self, timeout: float) -> tuple[str, int, dict[str, Any]] | None:
        try:
            return await asyncio.wait_for(self.inbox.get(), max(0.0, timeout))
        except TimeoutError:
            return None

    def forget(self) -> None:
        while not self.inbox.empty():
            self.inbox.get_nowait()


@dataclass
class Group:
    talkgroup: str
    number: int
    members: list[Member] = field(default_factory=list)


async def connect(mode: str, port: int, token: str, deflate: bool) -> Any:
    """Open one client's socket; for siaga, authenticated (``welcome`` read)."""
    import websockets

    options: dict[str, Any] = {"ping_interval": None, "open_timeout": 120,
                               "compression": "deflate" if deflate else None}
    if mode == "echo":
        return await websockets.connect(f"ws://127.0.0.1:{port}/", **options)
    ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws?token={token}", **options)
    welcome = json.loads(await asyncio.wait_for(ws.recv(), 120))
    if welcome.get("type") != "welcome":
        raise RuntimeError(f"expected welcome, got {welcome}")
    return ws


# --- traffic ----------------------------------------------------------------------------


@dataclass
class Traffic:
    mode: str
    speed: float
    load: float
    stop_at: float
    tally: Tally

    @property
    def stopping(self) -> bool:
        return asyncio.get_running_loop().time() >= self.stop_at

    async def group(self, group: Group, rng: random.Random) -> None:
        """Start conversations at Poisson times until the window closes."""
        bursts = SESSION_MEAN / BURST_MEAN
        busy = bursts * BURST_MEAN + (bursts - 1) * TURNAROUND  # model s per conversation
        rate = self.load / busy
        loop = asyncio.get_running_loop()
        talks: set[asyncio.Task[None]] = set()
        at = loop.time()
        while (at := at + rng.expovariate(rate) / self.speed) < self.stop_at:
            await asyncio.sleep(at - loop.time())
            idle = [m for m in group.members if not m.busy]
            if len(idle) < 2:
                continue
            pair = rng.sample(idle, 2)
            count = 1
            while rng.random() > 1 / bursts:
                count += 1
            durations = [min(rng.expovariate(1 / BURST_MEAN), MAX_BURST) / self.speed
                         for _ in range(count)]
            gaps = [rng.expovariate(1 / TURNAROUND) / self.speed for _ in range(count)]
            task = asyncio.create_task(self.conversation(group, pair, durations, gaps))
            talks.add(task)
            task.add_done_callback(talks.discard)
        if talks:
            await asyncio.gather(*talks)

    async def conversation(self, group: Group, pair: list[Member], durations: list[float],
                           gaps: list[float]) -> None:
        for m in pair:
            m.busy = True
        try:
            for i, (duration, gap) in enumerate(zip(durations, gaps, strict=True)):
                if i:
                    await asyncio.sleep(gap)
                if self.stopping or not await self.burst(group, pair[i % 2], duration):
                    return
        finally:
            for m in pair:
                m.busy = False

    async def burst(self, group: Group, m: Member, duration: float) -> bool:
        """One press of the PTT button; True if the member got to talk."""
        tally, ref = self.tally, self.tally.next_ref()
        measured = tally.measuring
        m.forget()
        t0 = time.perf_counter_ns()
        await m.send("floor_request", ref=ref)
        kind = await self._answer(m)
        if kind is None:
            if measured:
                tally.outcomes["no answer"] += 1
            return False
        answer, at, msg = kind
        outcome = answer if answer != "floor_denied" else f"denied {msg.get('reason')}"
        if answer == "error":
            outcome = f"error {msg.get('code')}"
        if measured:
            tally.outcomes[outcome] += 1
            tally.latency[ref] = (answer, (at - t0) / 1e9)
        if answer == "floor_queued":
            if not await self._wait_turn(m, measured):
                return False
        elif answer != "floor_granted":
            return False
        await self._talk(group, m, duration, measured)
        return True

    async def _answer(self, m: Member) -> tuple[str, int, dict[str, Any]] | None:
        deadline = time.monotonic() + ANSWER_TIMEOUT
        while (got := await m.next(deadline - time.monotonic())) is not None:
            if got[0] in ANSWERS:
                return got
        return None

    async def _wait_turn(self, m: Member, measured: bool) -> bool:
        deadline = time.monotonic() + PATIENCE / self.speed
        while True:
            got = await m.next(deadline - time.monotonic())
            if got is None or self.stopping:
                await m.send("floor_release")  # give up: withdraw the request
                if measured:
                    self.tally.after_queue["window closed" if self.stopping else "gave up"] += 1
                return False
            kind, _, msg = got
            if kind == "floor_granted":
                await m.send("floor_accept")
                if measured:
                    self.tally.after_queue["granted"] += 1
                return True
            if kind == "floor_queue_cancelled":
                if measured:
                    self.tally.after_queue[f"cancelled {msg.get('reason')}"] += 1
                return False

    async def _talk(self, group: Group, m: Member, duration: float, measured: bool) -> None:
        from ptt.audioframe import AudioFrame, encode

        loop = asyncio.get_running_loop()
        start = loop.time()
        end, seq, stream = start + duration, 0, random.getrandbits(31)
        payload = b"\xf8" + bytes(59)  # TOC: one 20 ms CELT frame
        while True:
            if self.mode == "siaga":
                await m.ws.send(encode(AudioFrame(group.number, stream, seq, seq * 960,
                                                  payload)))
            seq += 1
            wait = min(KEEPALIVE, end - loop.time(), self.stop_at + 1 - loop.time())
            got = await m.next(wait) if wait > 0 else None
            if got is not None and got[0] == "floor_revoked":
                if measured:
                    self.tally.revoked[str(got[2].get("reason"))] += 1
                break
            if loop.time() >= min(end, self.stop_at + 1):
                await m.send("floor_release")
                break
        if measured:
            self.tally.held += loop.time() - start


# --- one scenario -----------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def runqueue_wait(pid: int) -> float:
    """Seconds the threads of ``pid`` spent runnable but waiting for a CPU (schedstat):
    how much the other load on this machine held the process back."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/schedstat") as f:
            total += int(f.read().split()[1])
    return total / 1e9


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


@dataclass
class Stage:
    clients: int
    seconds: float
    server_cpu: float
    rss_kib: int
    connect_p99: float


@dataclass
class Result:
    mode: str
    clients: int
    seconds: float
    rss0: int
    stages: list[Stage]
    tally: Tally
    server: dict[str, Any]
    server_cpu: float
    client_cpu: float
    rss_end: int
    connecting: dict[str, Any]  # the server's probe report over the connect stages
    waits: tuple[float, float]  # run-queue wait of the server and of this process, seconds
    heap: dict[str, Any]  # the server's GC heap after the run (see _heap)

    def server_ms(self, answer: str, p: float) -> float:
        return _pct([s * 1e3 for ref, s in self.server["requests"].items()
                     if self.tally.latency.get(int(ref), ("",))[0] == answer], p)

    def client_ms(self, answer: str, p: float) -> float:
        return _pct([s * 1e3 for a, s in self.tally.latency.values() if a == answer], p)

    def kib_per_client(self, stage: Stage) -> float:
        return (stage.rss_kib - self.rss0) / stage.clients

    @property
    def requests(self) -> int:
        return sum(self.tally.outcomes.values())


class Server:
    """A server subprocess and its line protocol."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc, self.port = proc, port

    @classmethod
    async def start(cls, args: list[str]) -> Server:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.bench_signaling", *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        server = cls(proc, 0)
        line = await server._line("READY", 600)
        server.port = int(line.split()[1])
        return server

    async def _line(self, prefix: str, timeout: float) -> str:
        assert self.proc.stdout is not None
        while True:
            raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
            if not raw:
                raise RuntimeError("the server process ended")
            line = raw.decode()
            if line.startswith(prefix):
                return line

    async def call(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        return dict(json.loads((await self._line("REPLY ", 60))[6:]))

    async def stop(self) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(Exception):
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


async def run_scenario(mode: str, groups: int, per_group: int, seconds: float, speed: float,
                       load: float, seed: int, deflate: bool) -> Result:
    directory = Path(tempfile.mkdtemp(prefix="bench-signaling-"))
    server = await Server.start(
        ["--serve", "echo"] if mode == "echo" else
        ["--serve", "siaga", "--dir", str(directory), "--groups", str(groups),
         "--per-group", str(per_group)])
    tally = Tally()
    members: list[Member] = []
    try:
        plan: list[dict[str, Any]]
        if mode == "echo":
            plan = [{"talkgroup": f"tg{g:02d}", "number": g,
                     "members": [[g * per_group + i, ""] for i in range(per_group)]}
                    for g in range(groups)]
        else:
            plan = json.loads((directory / "plan.json").read_text())
        group_list = [Group(p["talkgroup"], p["number"]) for p in plan]
        todo = [(group_list[g], token) for g, p in enumerate(plan) for _, token in p["members"]]
        total = len(todo)
        pid = server.proc.pid
        await asyncio.sleep(0.5)
        rss0 = rss_kib(pid)
        stages = []
        for goal in [n for n in STAGES if n < total] + [total]:
            cpu0, t0 = cpu_seconds(pid), time.perf_counter()
            times: list[float] = []
            while len(members) < goal:
                batch = todo[len(members):min(goal, len(members) + CONNECT_BATCH)]
                opened = await asyncio.gather(*(_open(mode, server.port, g, token, tally,
                                                      deflate) for g, token in batch))
                for member, elapsed in opened:
                    members.append(member)
                    member.group.members.append(member)
                    times.append(elapsed)
            wall = time.perf_counter() - t0
            await asyncio.sleep(1.0)  # let the last member_joined messages go out
            stages.append(Stage(goal, wall, cpu_seconds(pid) - cpu0, rss_kib(pid),
                                _pct(times, 99)))
            print(f"  {mode}: {goal} clients connected in {wall:.1f} s", flush=True)
        connecting = await server.call("report")
        await server.call("reset")
        traffic = Traffic(mode, speed, load, asyncio.get_running_loop().time() + seconds, tally)
        cpu0, client0 = cpu_seconds(pid), time.process_time()
        wait0, client_wait0 = runqueue_wait(pid), runqueue_wait(os.getpid())
        tally.measuring = True
        runs = [asyncio.create_task(traffic.group(g, random.Random(seed * 1000 + i)))
                for i, g in enumerate(group_list)]
        await asyncio.sleep(seconds)
        tally.measuring = False
        server_cpu, client_cpu = cpu_seconds(pid) - cpu0, time.process_time() - client0
        waits = (runqueue_wait(pid) - wait0, runqueue_wait(os.getpid()) - client_wait0)
        report = await server.call("report")
        await asyncio.wait_for(asyncio.gather(*runs), PATIENCE + ANSWER_TIMEOUT + 30)
        rss_end = rss_kib(pid)
        heap = await server.call("heap")
        return Result(mode, total, seconds, rss0, stages, tally, report, server_cpu,
                      client_cpu, rss_end, connecting, waits, heap)
    finally:
        await asyncio.gather(*(m.ws.close() for m in members), return_exceptions=True)
        for m in members:
            m.reader.cancel()
        await server.stop()
        shutil.rmtree(directory, ignore_errors=True)


async def _open(mode: str, port: int, group: Group, token: str, tally: Tally,
                deflate: bool) -> tuple[Member, float]:
    """Connect one client and join its talkgroup: (member, seconds to ``joined``)."""
    t0 = time.perf_counter()
    member = Member(await connect(mode, port, token, deflate), group, tally)
    if mode == "siaga":
        await member.send("join", talkgroup=group.talkgroup)
        while (got := await member.next(120)) is None or got[0] != "joined":
            if got is None or got[0] == "error":
                raise RuntimeError(f"join failed: {got}")
    return member, time.perf_counter() - t0


# --- report -----------------------------------------------------------------------------


def _f(value: float, digits: int = 2) -> str:
    return "-" if value != value else f"{value:.{digits}f}"


def print_table(results: dict[str, Result], groups: int) -> None:
    siaga, echo = results.get("siaga"), results.get("echo")
    head = f"{'':<46}{'siaga':>10}{'echo':>10}{'siaga/echo':>12}{'goal':>9}"
    print(head)
    print("-" * len(head))

    def row(label: str, get: Callable[[Result], float], digits: int = 2,
            goal: str = "", ratio: bool = True) -> None:
        a = get(siaga) if siaga else float("nan")
        b = get(echo) if echo else float("nan")
        ratio = ratio and bool(digits) and a == a and b == b and b != 0
        text = f"{a / b:.1f}x" if ratio else ""
        print(f"{label:<46}{_f(a, digits):>10}{_f(b, digits):>10}{text:>12}{goal:>9}")

    def count(r: Result, prefix: str) -> float:
        return sum(v for k, v in r.tally.outcomes.items() if k.startswith(prefix))

    row("floor requests in the window", lambda r: r.requests, 0)
    row("  answered floor_granted at once", lambda r: r.tally.outcomes["floor_granted"], 0)
    row("  answered floor_queued", lambda r: r.tally.outcomes["floor_queued"], 0)
    row("  answered floor_denied (any reason)", lambda r: count(r, "denied"), 0)
    row("  no answer in 10 s, or error",
        lambda r: count(r, "no answer") + count(r, "error"), 0)
    row("  queued, then granted", lambda r: r.tally.after_queue["granted"], 0)
    row("  queued, then gave up or cancelled",
        lambda r: r.tally.after_queue.total() - r.tally.after_queue["granted"], 0)
    row("  grants revoked by the server", lambda r: r.tally.revoked.total(), 0)
    row("floor busy, share of time per group", lambda r: r.tally.held / (groups * r.seconds))
    row("server: request -> granted p50 ms", lambda r: r.server_ms("floor_granted", 50), 3)
    row("server: request -> granted p99 ms", lambda r: r.server_ms("floor_granted", 99), 3,
        "<= 5")
    row("server: request -> queued p99 ms", lambda r: r.server_ms("floor_queued", 99), 3)
    row("client: send -> floor_granted p50 ms", lambda r: r.client_ms("floor_granted", 50))
    row("client: send -> floor_granted p99 ms", lambda r: r.client_ms("floor_granted", 99), 2,
        "<= 20")
    row("client: send -> floor_queued p99 ms", lambda r: r.client_ms("floor_queued", 99))
    row("server event-loop lag p99 ms", lambda r: float(r.server["lag"][1]))
    row("server event-loop lag max ms", lambda r: float(r.server["lag"][2]))
    row("server GC pauses in the window", lambda r: float(r.server["gc"][0]), 0)
    row("server GC pause max ms", lambda r: float(r.server["gc"][2]), ratio=False)
    row("server CPU in the window, % of a core", lambda r: 100 * r.server_cpu / r.seconds, 1)
    row("server CPU per floor request (all work) ms",
        lambda r: 1e3 * r.server_cpu / r.requests if r.requests else float("nan"))
    row("load generator CPU, % of a core", lambda r: 100 * r.client_cpu / r.seconds, 1)
    row("server waited for a CPU, % of the window", lambda r: 100 * r.waits[0] / r.seconds, 1,
        ratio=False)
    row("load generator waited for a CPU, %", lambda r: 100 * r.waits[1] / r.seconds, 1,
        ratio=False)
    reference = siaga or echo
    assert reference is not None
    last = len(reference.stages) - 1
    for i, stage in enumerate(reference.stages):
        row(f"server memory KiB/client at N={stage.clients}", _per_stage(i, "kib"), 1,
            "<= 48.8" if i == last else "")
    if last:
        row("  slope between the last two N, KiB/client", _slope, 1)
    row("server RSS growth during traffic, KiB", lambda r: r.rss_end - r.stages[-1].rss_kib, 0)
    for i, stage in enumerate(reference.stages):
        row(f"connect+join to N={stage.clients}: wall s", _per_stage(i, "wall"), 1)
        row("  server CPU ms per client connected", _per_stage(i, "cpu"))
        row("  one client connect -> joined p99 ms", _per_stage(i, "p99"), 0)
    row("while connecting: server loop lag max ms", lambda r: float(r.connecting["lag"][2]))
    row("while connecting: server GC pause max ms", lambda r: float(r.connecting["gc"][2]))
    row("after the run: objects the GC tracks", lambda r: float(r.heap["objects"]), 0)
    row("  one full collection, wall ms", lambda r: float(r.heap["full_gc_ms"]), 1)
    row("  one full collection, CPU ms", lambda r: float(r.heap["full_gc_cpu_ms"]), 1)
    row("membership re-scan after a command, CPU p50 ms", _rescan("server", 1), 3)
    row("  re-scans in the window", _rescan("server", 0), 0)
    row("  ... their CPU s, all together", _rescan("server", 3), 2)
    row("while connecting: re-scans' CPU s", _rescan("connecting", 3), 2)
    if siaga:
        print("\nsiaga server handling time by message type (count, p50 ms, p99 ms):")
        for kind, (n, p50, p99) in sorted(siaga.server["types"].items()):
            print(f"  {kind:<16}{n:>7}{p50:>10.3f}{p99:>10.3f}")
        print(f"siaga answers: {dict(siaga.tally.outcomes)}; after queue: "
              f"{dict(siaga.tally.after_queue)}; revoked: {dict(siaga.tally.revoked)}")
        print(f"messages received by all siaga clients: "
              f"{dict(siaga.tally.received.most_common())}")


def _per_stage(i: int, what: str) -> Callable[[Result], float]:
    def get(r: Result) -> float:
        stage = r.stages[i]
        if what == "kib":
            return r.kib_per_client(stage)
        if what == "wall":
            return stage.seconds
        if what == "cpu":
            return 1e3 * stage.server_cpu / (stage.clients - (r.stages[i - 1].clients if i else 0))
        return 1e3 * stage.connect_p99
    return get


def _rescan(report: str, field: int) -> Callable[[Result], float]:
    def get(r: Result) -> float:
        figures = getattr(r, report).get("rescan")
        return float(figures[field]) if figures and figures[0] else float("nan")
    return get


def _slope(r: Result) -> float:
    a, b = r.stages[-2], r.stages[-1]
    return (b.rss_kib - a.rss_kib) / (b.clients - a.clients)


async def run_all(args: argparse.Namespace) -> None:
    groups = args.groups or (QUICK_GROUPS if args.quick else GROUPS)
    seconds = args.seconds or (QUICK_SECONDS if args.quick else SECONDS)
    modes = args.modes.split(",") if args.modes else ["siaga", "echo"]
    print(f"{groups * args.per_group} WebSocket clients in {groups} talkgroups of "
          f"{args.per_group}; bursts mean {BURST_MEAN} s, {args.load:.2f} Erlang offered per "
          f"group, time x{args.speed:g} (model s / real s); {seconds:.0f} s measured per mode; "
          f"permessage-deflate {'off' if args.no_deflate else 'on'}; "
          f"servers in their own process; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} (shared machine)", flush=True)
    results = {}
    for mode in modes:
        t0 = time.monotonic()
        results[mode] = await run_scenario(mode, groups, args.per_group, seconds, args.speed,
                                           args.load, args.seed, not args.no_deflate)
        print(f"  {mode} done in {time.monotonic() - t0:.1f} s; load average "
              f"{os.getloadavg()[0]:.1f}", flush=True)
    print()
    print_table(results, groups)
    print("\nserver latency: siaga, the floor_request frame out of ASGI receive -> handled, "
          "answers in\nthe outboxes (Signaling.latency_probe); echo, out of recv -> reply "
          "written. client latency:\nsend -> answer parsed in this process (includes its "
          "own scheduling). KiB/client: (server RSS\nafter N clients joined - RSS before "
          "any) / N. Goal 50 KB = 48.8 KiB.")
    for mode, r in results.items():
        if r.requests == 0 or r.tally.outcomes["floor_granted"] == 0:
            raise SystemExit(f"{mode}: no floor was granted")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--groups", type=int, help=f"talkgroups (default {GROUPS}, "
                        f"{QUICK_GROUPS} with --quick)")
    parser.add_argument("--per-group", type=int, default=PER_GROUP)
    parser.add_argument("--seconds", type=float, help="measured seconds per mode")
    parser.add_argument("--speed", type=float, default=4.0, help="model time / real time")
    parser.add_argument("--load", type=float, default=0.3, help="Erlang offered per group")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--modes", help="comma-separated: siaga, echo")
    parser.add_argument("--no-deflate", action="store_true",
                        help="clients do not offer permessage-deflate")
    parser.add_argument("--serve", choices=["siaga", "echo"], help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve == "siaga":
        asyncio.run(serve_siaga(Path(args.dir), args.groups, args.per_group))
    elif args.serve == "echo":
        asyncio.run(serve_echo())
    else:
        asyncio.run(run_all(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
