"""WebSocket audio fan-out: 1 talker -> N listeners, server CPU per delivered frame, latency.

The server runs in its own process; its CPU time is read from ``/proc/PID/stat`` (user +
system, all threads) around the measured window. This process plays every client with a
minimal WebSocket client (raw asyncio protocol: handshake, unmasked server frames, pings
answered), so that N = 1,000 listeners on one core still read in time.

Modes, measured in the same run:

* ``siaga``      the real server (``siaga`` app on uvicorn ``websockets-sansio``, SQLite,
  floor control, recording on): the talker holds the floor of ``satpolpp`` and sends frames
  on ``/ws``; N officers joined ``satpolpp`` listen over WebSocket (``audio`` message).
  Frames are built once per talkgroup and written straight to each connection's transport.
* ``siaga-asgi`` the same server with ``fast_path`` off: one ASGI ``send_bytes`` per
  listener (bounded queue + writer task per listener), what a plain ASGI app would do.
* ``broadcast``  baseline: a ``websockets`` library server that passes each talker message
  to ``websockets.broadcast(listeners, message)``; no auth, no floor, no recording.

Frames are 20 ms apart (50/s), 17-byte header + 90-byte payload whose first bytes carry the
talker's send time (CLOCK_MONOTONIC, shared by both processes): latency is talker send ->
listener receive, both in this process, so it includes this process's own scheduling.

Usage: ``python -m bench.bench_wsaudio [--quick] [--n 100,500] [--seconds 5]
[--modes siaga,broadcast]``; ``SIAGA_BENCH_MAX_N`` caps N.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import statistics
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_N = (100, 500, 1000)
QUICK_N = (20,)
PAYLOAD = 90
FRAME_INTERVAL = 0.02
CLK_TCK = os.sysconf("SC_CLK_TCK")
_TIME = struct.Struct("!Q")


# --- servers (their own process) -------------------------------------------------------


async def serve_siaga(n: int, directory: Path, asgi: bool) -> None:
    """The real server with ``n`` extra officers of Satpol PP; tokens go to tokens.json."""
    import socket

    import uvicorn
    from sqlalchemy import select

    from kernel.config import Settings
    from kernel.identity import Agency, Role, User, _hasher
    from kernel.runtime import Runtime
    from siaga.app import create_app
    from siaga.demo.loader import load_demo
    from siaga.migrate import upgrade_async
    from siaga.server import uvicorn_config

    sock = socket.socket()  # kept bound until the server takes it: no one else can take the port
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = Settings(database_url=f"sqlite+aiosqlite:///{directory}/bench.db",
                        data_dir=directory, secret_key="bench-" + "k" * 40, port=port,
                        log_level="WARNING", log_format="text")
    await upgrade_async(settings.database_url)
    runtime = Runtime.build(settings)
    await load_demo(runtime.sessions)
    password = _hasher.hash("bench")
    async with runtime.sessions() as s, s.begin():
        agency = (await s.execute(select(Agency).where(Agency.code == "satpolpp"))).scalar_one()
        s.add_all(User(username=f"bench{i}", display_name=f"Bench {i}", password_hash=password,
                       role=Role.OFFICER, agency_id=agency.id) for i in range(n))
    async with runtime.sessions() as s:
        users = {u.username: u for u in (await s.execute(select(User))).scalars()}
    now = time.time()
    tokens = {"talker": runtime.tokens.issue(users["satpol1"], now),
              "listeners": [runtime.tokens.issue(users[f"bench{i}"], now) for i in range(n)]}
    (directory / "tokens.json").write_text(json.dumps(tokens))
    config = uvicorn_config(create_app(runtime=runtime), "127.0.0.1", port, backlog=4096)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    runtime.services["wsaudio"].fast_path = not asgi
    print(f"READY {port}", flush=True)
    await _until_stdin_closes()
    server.should_exit = True
    await task


async def serve_broadcast() -> None:
    import websockets
    from websockets.asyncio.server import ServerConnection, serve

    listeners: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        role = await ws.recv()
        if role == "listen":
            listeners.add(ws)
            try:
                await ws.wait_closed()
            finally:
                listeners.discard(ws)
            return
        with contextlib.suppress(websockets.ConnectionClosed):
            async for message in ws:
                websockets.broadcast(listeners, message)

    async with serve(handler, "127.0.0.1", 0, compression=None, backlog=4096,
                     max_queue=64) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"READY {port}", flush=True)
        await _until_stdin_closes()


async def _until_stdin_closes() -> None:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)


# --- a minimal WebSocket client ---------------------------------------------------------


class RawClient(asyncio.Protocol):
    """Just enough RFC 6455 for the benchmark: cheap enough to run 1,000 in one process."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.open = asyncio.get_running_loop().create_future()
        self.handshaken = False
        self.texts: asyncio.Queue[dict[str, Any]] | None = None
        self.closed = False

    @classmethod
    async def connect(cls, port: int, path: str, stats: Stats,
                      *, keep_text: bool = True) -> RawClient:
        loop = asyncio.get_running_loop()
        _, client = await loop.create_connection(lambda: cls(stats), "127.0.0.1", port)
        client.texts = asyncio.Queue() if keep_text else None
        key = base64.b64encode(os.urandom(16)).decode()
        assert client.transport is not None
        client.transport.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        await asyncio.wait_for(client.open, 30)
        return client

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.open.done():
            self.open.set_exception(ConnectionError("closed during the handshake"))

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        if not self.handshaken:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.open.set_exception(ConnectionError(bytes(buf[:end]).decode()))
                return
            del buf[:end + 4]
            self.handshaken = True
            self.open.set_result(None)
        pos, size = 0, len(buf)
        stats = self.stats
        while size - pos >= 2:
            opcode, length = buf[pos] & 0x0F, buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            if size - pos < head + length:
                break
            start = pos + head
            if opcode == 2:
                stats.frame(buf, start + 18)
            elif opcode == 1 and self.texts is not None:
                self.texts.put_nowait(json.loads(bytes(buf[start:start + length])))
            elif opcode == 9:
                self.send(0xA, bytes(buf[start:start + length]))
            elif opcode == 8:
                self.closed = True
            pos = start + length
        del buf[:pos]

    def send(self, opcode: int, payload: bytes) -> None:
        """A masked client frame (mask key 0: the payload goes as it is)."""
        n = len(payload)
        head = (bytes((0x80 | opcode, 0x80 | n)) if n < 126
                else bytes((0x80 | opcode, 0xFE)) + n.to_bytes(2, "big"))
        assert self.transport is not None
        self.transport.write(head + b"\0\0\0\0" + payload)

    def send_json(self, type_: str, **fields: Any) -> None:
        self.send(1, json.dumps({"v": 1, "type": type_, **fields}).encode())

    async def expect(self, type_: str, timeout: float = 60) -> dict[str, Any]:
        assert self.texts is not None
        while True:
            msg = await asyncio.wait_for(self.texts.get(), timeout)
            if msg.get("type") == type_:
                return msg
            if msg.get("type") == "error":
                raise RuntimeError(f"server error: {msg}")

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()


@dataclass
class Stats:
    measuring: bool = False
    frames: int = 0
    latencies: list[int] = field(default_factory=list)

    def frame(self, buf: bytearray, offset: int) -> None:
        if self.measuring:
            self.frames += 1
            self.latencies.append(time.monotonic_ns() - _TIME.unpack_from(buf, offset)[0])


# --- scenarios --------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@dataclass
class Result:
    mode: str
    n: int
    delivered: int
    seconds: float
    cpu: float
    client_cpu: float
    lat_p50: float
    lat_p99: float
    setup: float
    warmup: float
    kib_per_conn: float
    drops: int | None

    @property
    def us_per_frame(self) -> float:
        return self.cpu / self.delivered * 1e6 if self.delivered else float("nan")

    @property
    def frames_per_core(self) -> float:
        return self.delivered / self.cpu if self.cpu else float("nan")


async def _gather_batched(factories: list[Any], batch: int = 50) -> list[Any]:
    out: list[Any] = []
    for i in range(0, len(factories), batch):
        out += await asyncio.gather(*(f() for f in factories[i:i + batch]))
    return out


async def run_scenario(mode: str, n: int, seconds: float) -> Result:
    directory = Path(tempfile.mkdtemp(prefix="bench-wsaudio-"))
    args = ["--serve", "broadcast"] if mode == "broadcast" else [
        "--serve", "siaga", "--n", str(n), "--dir", str(directory),
        *(["--asgi"] if mode == "siaga-asgi" else [])]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.bench_wsaudio", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None and proc.stdin is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 300)).decode()
    if not line.startswith("READY"):
        raise RuntimeError(f"server did not start: {line!r}")
    port = int(line.split()[1])
    stats = Stats()
    clients: list[RawClient] = []
    try:
        rss0 = rss_kib(proc.pid)
        t0 = time.perf_counter()
        if mode == "broadcast":
            async def listener() -> RawClient:
                c = await RawClient.connect(port, "/", stats, keep_text=False)
                c.send(1, b"listen")
                return c

            clients += await _gather_batched([listener] * n)
            talker = await RawClient.connect(port, "/", Stats(), keep_text=False)
            talker.send(1, b"talk")
            number = 1
            await asyncio.sleep(0.5)  # let the server register the last listeners
        else:
            tokens = json.loads((directory / "tokens.json").read_text())

            def listener_for(token: str) -> Any:
                async def make() -> RawClient:
                    c = await RawClient.connect(port, f"/ws?token={token}", stats)
                    await c.expect("welcome")
                    c.send_json("join", talkgroup="satpolpp")
                    await c.expect("joined")
                    c.send_json("audio", transport="websocket")
                    await c.expect("audio")
                    c.texts = None  # from now on only audio matters
                    return c
                return make

            clients += await _gather_batched([listener_for(t) for t in tokens["listeners"]])
            talker = await RawClient.connect(port, f"/ws?token={tokens['talker']}", Stats())
            await talker.expect("welcome")
            talker.send_json("join", talkgroup="satpolpp")
            await talker.expect("joined")
            talker.send_json("audio", transport="webrtc")
            number = (await talker.expect("audio"))["talkgroups"]["satpolpp"]
            talker.send_json("floor_request")
            await talker.expect("floor_granted")
        setup = time.perf_counter() - t0
        rss1 = rss_kib(proc.pid)
        clients.append(talker)
        sender = asyncio.create_task(_talk(talker, number))
        warmup = await _settle(stats)
        cpu0, client0, wall0 = cpu_seconds(proc.pid), time.process_time(), time.monotonic()
        stats.measuring = True
        await asyncio.sleep(seconds)
        stats.measuring = False
        cpu, wall = cpu_seconds(proc.pid) - cpu0, time.monotonic() - wall0
        client_cpu = time.process_time() - client0
        sender.cancel()
        drops = await _siaga_drops(port) if mode != "broadcast" else None
        lat = sorted(stats.latencies)
        return Result(mode, n, stats.frames, wall, cpu, client_cpu / wall,
                      lat[len(lat) // 2] / 1e6 if lat else float("nan"),
                      lat[min(len(lat) - 1, int(len(lat) * 0.99))] / 1e6 if lat else float("nan"),
                      setup, warmup, (rss1 - rss0) / max(1, n), drops)
    finally:
        for c in clients:
            c.close()
        with contextlib.suppress(Exception):
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def _settle(stats: Stats, *, least: float = 1.0, most: float = 30.0) -> float:
    """Warm up until the backlog of set-up (join and presence messages to every listener:
    O(N^2)) has drained: the median latency of the last half second is under 20 ms."""
    t0 = time.monotonic()
    await asyncio.sleep(least)
    while time.monotonic() - t0 < most:
        stats.measuring, stats.latencies = True, []
        await asyncio.sleep(0.5)
        stats.measuring = False
        lat = sorted(stats.latencies)
        if lat and lat[len(lat) // 2] < 20e6:
            break
    stats.frames, stats.latencies = 0, []
    return time.monotonic() - t0


async def _talk(talker: RawClient, number: int) -> None:
    """50 frames/s on an absolute schedule; each payload starts with a TOC byte (20 ms CELT)
    and the send time."""
    from ptt.audioframe import AudioFrame, encode

    loop = asyncio.get_running_loop()
    start, i, pad = loop.time(), 0, bytes(PAYLOAD - 9)
    while True:
        payload = b"\xf8" + _TIME.pack(time.monotonic_ns()) + pad
        talker.send(2, encode(AudioFrame(number, 7, i, (i * 960) % (1 << 32), payload)))
        i += 1
        await asyncio.sleep(max(0.0, start + i * FRAME_INTERVAL - loop.time()))


async def _siaga_drops(port: int) -> int | None:
    import httpx

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        text = (await http.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith("siaga_wsaudio_dropped_backpressure_total"):
            return int(float(line.split()[1]))
    return None


def print_table(results: list[Result]) -> None:
    head = (f"{'mode':<11}{'N':>6}{'out fr/s':>10}{'CPU us/fr':>11}{'fr/s/core':>11}"
            f"{'lat p50':>9}{'p99 ms':>8}{'client CPU':>11}{'setup s':>9}{'warm s':>8}"
            f"{'KiB/conn':>10}"
            f"{'drops':>7}")
    print(head)
    print("-" * len(head))
    for r in results:
        print(f"{r.mode:<11}{r.n:>6}{r.delivered / r.seconds:>10.0f}{r.us_per_frame:>11.1f}"
              f"{r.frames_per_core:>11.0f}{r.lat_p50:>9.1f}{r.lat_p99:>8.1f}"
              f"{r.client_cpu:>10.0%}{r.setup:>9.1f}{r.warmup:>8.1f}{r.kib_per_conn:>10.1f}"
              f"{'-' if r.drops is None else r.drops:>7}")


def print_ratios(results: list[Result]) -> None:
    by = {(r.mode, r.n): r for r in results}
    print("\nCPU per delivered frame, ratios at equal N (lower is better for siaga):")
    for (mode, n), r in sorted(by.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if mode == "siaga":
            for other in ("broadcast", "siaga-asgi"):
                if (other, n) in by:
                    ratio = r.us_per_frame / by[(other, n)].us_per_frame
                    print(f"  siaga / {other:<10} at N={n:<5} {ratio:5.2f}x")


async def run_all(args: argparse.Namespace) -> None:
    ns = [int(x) for x in args.n.split(",")] if args.n else list(
        QUICK_N if args.quick else DEFAULT_N)
    cap = int(os.environ.get("SIAGA_BENCH_MAX_N", "0") or 0)
    if cap:
        ns = [n for n in ns if n <= cap] or [cap]
    modes = args.modes.split(",") if args.modes else ["siaga", "broadcast", "siaga-asgi"]
    seconds = args.seconds or (1.5 if args.quick else 5.0)
    plan = [(m, n) for n in ns for m in modes
            if not (m == "siaga-asgi" and n > 500 and not args.modes)]
    print(f"1 talker -> N WebSocket listeners, {PAYLOAD}-byte Opus payloads at 50 frames/s, "
          f"{seconds:.1f} s measured per run; server in its own process; "
          f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}", flush=True)
    results = []
    for mode, n in plan:
        t0 = time.monotonic()
        results.append(await run_scenario(mode, n, seconds))
        print(f"  {mode} N={n} done in {time.monotonic() - t0:.1f} s", flush=True)
    print()
    print_table(results)
    print_ratios(results)
    failed = [f"{r.mode} N={r.n}" for r in results if r.delivered == 0]
    if failed:
        raise SystemExit(f"no frame reached the listeners in: {', '.join(failed)}")
    print("\nCPU: server user+system time (/proc) / frames received by the listeners.\n"
          "lat: talker send -> listener parse, this process's clock (includes its own lag);\n"
          "client CPU: this process (all clients), share of one core.\n"
          "setup: connect, join, opt in all listeners; warm: talking until latency settles.\n"
          "drops: frames the server dropped for full listener buffers (siaga only).")
    if len(results) > 1:
        med = statistics.median(r.us_per_frame for r in results if r.mode == "siaga")
        print(f"siaga median CPU per delivered frame: {med:.1f} us")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="short smoke run (CI)")
    parser.add_argument("--n", help="comma-separated listener counts")
    parser.add_argument("--seconds", type=float, help="measured seconds per run")
    parser.add_argument("--modes", help="comma-separated: siaga, siaga-asgi, broadcast")
    parser.add_argument("--serve", choices=["siaga", "broadcast"], help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--asgi", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve == "siaga":
        asyncio.run(serve_siaga(int(args.n), Path(args.dir), args.asgi))
        return 0
    if args.serve == "broadcast":
        asyncio.run(serve_broadcast())
        return 0
    asyncio.run(run_all(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
