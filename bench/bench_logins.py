"""Signaling round trip of a connected radio while logins hash passwords.

What it guards: "nothing blocks the voice" (docs/architecture.md). A login verifies an
argon2id hash (hundreds of milliseconds of CPU); if that ran on the event loop, every
radio's signaling and audio would stall behind it.

Setup: the real ``siaga serve`` process (the CLI, as an operator runs it, pinned with
``taskset`` to the first CPU while this process keeps the others) over a fresh
SQLite database with the demo data, in a temporary directory. This process connects one
radio client (``satpol1``, the ``websockets`` client) and sends ``ping`` every 60 ms,
timing each ``pong`` (client send -> pong parsed).

Phases, in the same run against the same server:

* ``idle``: no other traffic, ``--seconds`` long.
* ``logins``: ``--logins`` concurrent clients (default 20) each posting correct logins of
  the demo accounts back to back for ``--seconds``.

Printed: round-trip p50/p99/max per phase, the ratio logins/idle, and the logins served
per second. Then a check of the claim the design rests on, that argon2-cffi releases the
GIL while hashing: the lag of an event loop in this process (5 ms sleeps' overshoot) while
a thread verifies hashes, next to the same for a thread running pure Python (which holds
the GIL and costs the loop up to a switch interval, 5 ms, per turn), and the wall time of
the same verifications on one thread and on two.

Usage: ``python -m bench.bench_logins [--quick] [--seconds 10] [--logins 20]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

SECONDS, QUICK_SECONDS = 10.0, 4.0
LOGINS = 20
# Under the server's flood limit of 20 messages/s per connection (ptt/flood.py).
PING_EVERY = 0.06
USERS = ("admin", "dispatcher1", "satpol1", "satpol2", "dishub1", "dishub2", "rsud-saleh")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_split() -> tuple[set[int] | None, set[int] | None]:
    """(server CPUs, client CPUs): the first CPU for the server, the rest for this process."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2 or not shutil.which("taskset"):
        return None, None
    return {cpus[0]}, set(cpus[1:])


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


class Siaga:
    """``siaga serve`` in a temporary directory, demo data loaded."""

    def __init__(self, directory: Path, cpus: set[int] | None = None,
                 log: Path | None = None) -> None:
        self.directory = directory
        #: CPUs the server process is pinned to (``taskset``), or None: anywhere.
        self.cpus = cpus
        #: Where the server's log (standard error) goes, or None: this process's.
        self.log = log
        self.port = _free_port()
        self.env = {**os.environ,
                    "SIAGA_DATABASE_URL": f"sqlite+aiosqlite:///{directory}/bench.db",
                    "SIAGA_DATA_DIR": str(directory), "SIAGA_PORT": str(self.port),
                    "SIAGA_PUBLIC_URL": f"http://127.0.0.1:{self.port}",
                    "SIAGA_SECRET_KEY": "bench-" + "k" * 40, "SIAGA_LOG_LEVEL": "WARNING",
                    "SIAGA_LOG_FORMAT": "text", "SIAGA_RECORD_TRANSMISSIONS": "false"}
        self.siaga = str(Path(sys.executable).with_name("siaga"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        await self.prepare()
        await self.serve()

    async def prepare(self) -> None:
        """The schema and the demo data, with the CLI."""
        for command in (["db", "upgrade"], ["demo", "load"]):
            subprocess.run([self.siaga, *command], env=self.env, cwd=self.directory, check=True,
                           stdout=subprocess.DEVNULL)

    async def serve(self) -> None:
        """``siaga serve``, until it answers ``/healthz``."""
        import httpx

        pinned = ["taskset", "-c", ",".join(map(str, sorted(self.cpus)))] if self.cpus else []
        stderr = open(self.log, "ab") if self.log else None  # the child keeps its own copy
        self.proc = subprocess.Popen([*pinned, self.siaga, "serve", "--no-migrate"],
                                     env=self.env, cwd=self.directory,
                                     stdout=subprocess.DEVNULL, stderr=stderr)
        if stderr is not None:
            stderr.close()
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(base_url=self.url) as client:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError("siaga serve ended during start-up")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/healthz")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError("siaga serve did not answer /healthz within 60 s")
                await asyncio.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def _token(url: str, username: str) -> str:
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        r = await client.post("/api/auth/login", json={"username": username, "password": "demo"})
        r.raise_for_status()
        return str(r.json()["access_token"])


async def _pings(ws: Any, seconds: float) -> list[float]:
    """Round trips of ``ping`` -> ``pong``, one at a time, every ``PING_EVERY`` seconds."""
    rtts: list[float] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    ref = 0
    while loop.time() < end:
        ref += 1
        sent = time.perf_counter()
        await ws.send(json.dumps({"v": 1, "type": "ping", "ref": ref}))
        while True:
            msg = json.loads(await ws.recv())
            if msg.get("type") == "pong":
                break
            if msg.get("type") == "error":
                raise RuntimeError(f"server refused a ping: {msg}")
        rtts.append(time.perf_counter() - sent)
        await asyncio.sleep(max(0.0, PING_EVERY - (time.perf_counter() - sent)))
    return rtts


async def _login_load(client: Any, workers: int, stop: asyncio.Event) -> int:
    done = 0

    async def worker(i: int) -> None:
        nonlocal done
        n = i
        while not stop.is_set():
            r = await client.post("/api/auth/login", json={
                "username": USERS[n % len(USERS)], "password": "demo"})
            if r.status_code == 200:
                done += 1
            n += 1

    await asyncio.gather(*(worker(i) for i in range(workers)))
    return done


async def measure_server(seconds: float, logins: int,
                         cpus: set[int] | None = None) -> dict[str, Any]:
    import httpx
    import websockets

    directory = Path(tempfile.mkdtemp(prefix="bench-logins-"))
    server = Siaga(directory, cpus)
    try:
        await server.start()
        token = await _token(server.url, "satpol1")
        # The HTTP client is made before measuring: making one loads the CA bundle, which
        # would stall this process's loop (and the pings) for a moment.
        limits = httpx.Limits(max_connections=logins)
        async with websockets.connect(f"ws://127.0.0.1:{server.port}/ws?token={token}") as ws, \
                httpx.AsyncClient(base_url=server.url, timeout=120, limits=limits) as http:
            while json.loads(await ws.recv()).get("type") != "welcome":
                pass
            await _pings(ws, 1.0)  # warm-up
            idle = await _pings(ws, seconds)
            stop = asyncio.Event()
            load = asyncio.create_task(_login_load(http, logins, stop))
            started = time.perf_counter()
            busy = await _pings(ws, seconds)
            stop.set()
            served = await load
            elapsed = time.perf_counter() - started
        return {"idle": idle, "logins": busy, "served": served, "elapsed": elapsed}
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


def _spin() -> None:
    x = 0
    for i in range(3_000_000):
        x += i


async def _loop_lag(work: Callable[[], None], jobs: int,
                    workers: int) -> tuple[float, float, float]:
    """Wall seconds and loop lag p50, p99 (ms) of ``jobs`` calls of ``work`` on ``workers``
    threads."""
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    stop = asyncio.Event()

    async def watch() -> None:
        while not stop.is_set():
            t = loop.time()
            await asyncio.sleep(0.005)
            lags.append(loop.time() - t - 0.005)

    watcher = asyncio.create_task(watch())
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        await asyncio.gather(*(loop.run_in_executor(pool, work) for _ in range(jobs)))
    wall = time.perf_counter() - started
    stop.set()
    await watcher
    return wall, _pct(lags, 0.5) * 1000, _pct(lags, 0.99) * 1000


async def measure_gil(jobs: int) -> dict[str, tuple[float, float, float]]:
    from argon2 import PasswordHasher

    hasher = PasswordHasher()
    digest = hasher.hash("demo")

    def verify() -> None:
        hasher.verify(digest, "demo")

    return {
        "argon2 verify, 1 thread": await _loop_lag(verify, jobs, 1),
        "argon2 verify, 2 threads": await _loop_lag(verify, jobs, 2),
        "pure Python, 1 thread": await _loop_lag(_spin, jobs, 1),
        "pure Python, 2 threads": await _loop_lag(_spin, jobs, 2),
    }


def _ms(values: list[float], p: float) -> str:
    return f"{_pct(values, p) * 1000:8.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--logins", type=int, default=LOGINS)
    args = parser.parse_args(argv)
    seconds = args.seconds or (QUICK_SECONDS if args.quick else SECONDS)

    server_cpus, client_cpus = cpu_split()
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)
    r = asyncio.run(measure_server(seconds, args.logins, server_cpus))
    idle, busy = r["idle"], r["logins"]
    where = (f"server on CPU {sorted(server_cpus)}, client on CPUs {sorted(client_cpus)}"
             if server_cpus and client_cpus else "not pinned (fewer than 2 CPUs or no taskset)")
    print(f"signaling ping -> pong of one radio, siaga serve, {seconds:.0f} s per phase; "
          f"{where}")
    print(f"{'phase':<28}{'pings':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    print(f"{'idle':<28}{len(idle):>8}{_ms(idle, 0.5)} {_ms(idle, 0.99)} {max(idle) * 1000:8.1f}")
    label = f"{args.logins} concurrent logins"
    print(f"{label:<28}{len(busy):>8}{_ms(busy, 0.5)} {_ms(busy, 0.99)} {max(busy) * 1000:8.1f}")
    print(f"ratio logins / idle: p50 {statistics.median(busy) / statistics.median(idle):.2f}x, "
          f"p99 {_pct(busy, 0.99) / _pct(idle, 0.99):.2f}x")
    print(f"logins served: {r['served']} in {r['elapsed']:.1f} s "
          f"({r['served'] / r['elapsed']:.1f}/s)")

    gil = asyncio.run(measure_gil(4 if args.quick else 8))
    print("\ndoes argon2-cffi release the GIL? this process's loop lag while threads work")
    print(f"{'work':<28}{'wall s':>8}{'lag p50 ms':>12}{'lag p99 ms':>12}")
    for name, (wall, p50, p99) in gil.items():
        print(f"{name:<28}{wall:>8.2f}{p50:>12.1f}{p99:>12.1f}")
    print("(argon2 releases it when two threads take less wall time than one and the "
          "loop's median lag stays well under the 5 ms switch interval that a thread "
          "running pure Python imposes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
