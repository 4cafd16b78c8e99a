"""The full server: ``siaga serve`` with N real WebRTC listeners, and its voice under load.

Where ``bench_webrtc`` measures the relay component in a process of its own, this measures
the server as an operator runs it: the ``siaga serve`` CLI (signaling, API, dispatch and
relay in their real arrangement) over a fresh SQLite database with the demo data, in a
temporary directory, pinned with ``taskset`` to the first CPU; this process (the clients)
runs on the others. N officer accounts of Satpol PP are added to the database before the
server starts; each listener is a ``siaga_radio.RadioClient`` (WebSocket signaling at
``/ws``, one aiortc peer connection, the downlink offer of ``docs/protocol.md``) that joins
``satpolpp`` and counts the Opus packets it hears. The talker (``satpol1``, a process of
its own on the clients' CPUs: ``bench.serve_talker``) takes the floor and sends a tone
encoded as 20 ms Opus at 50 packets/s; "sent" is what left it (aiortc's count of RTP
packets sent), so a talker starved of CPU cannot pass for a server that loses packets.

Before anything is measured, every listener must be ready: its peer connection connected
(ICE and DTLS) and its downlink for ``satpolpp`` negotiated. A listener not ready within
the set-up deadline is a failure that names its state, not a silent zero.

Per N, one server:

* idle: everyone connected, nobody talking: server CPU per second, shown per 100 peers;
* RSS per listener: the server's RSS after the listeners connected, less before, / N;
* talk: ``--seconds`` of talk: server CPU per delivered packet (all the server's threads,
  from ``/proc``; "fwd" is the same less the idle rate), packets each listener received
  against those sent (min/median, how many listeners missed any, how many got nothing),
  and the inter-arrival p50/p99/max at the listeners (pooled over all listeners).

At ``--load-n`` (50) the same server then runs a second talk while a process of its own
(``bench.serve_load``) sends 5 logins/s and 20 authenticated GETs/s (talkgroups,
incidents, units, the interval report) to it: lost packets, p99 inter-arrival and the
longest gap of both phases and their difference, against the goal of issue #20 (no loss,
p99 at most 5 ms more, no gap over 60 ms), printed, not enforced.

Figures from a machine others are using are noise: take them on a quiet machine.

Usage: ``python -m bench.bench_serve [--quick] [--n 50,100,200] [--seconds 15] [--load-n 50]``;
``SIAGA_BENCH_MAX_N`` caps N, as for ``bench_webrtc``. ``--no-wait`` (diagnosis) talks as
soon as the listeners have joined, without waiting for them to be ready.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_logins import Siaga, cpu_split
from bench.bench_wsaudio import cpu_seconds as server_cpu
from bench.bench_wsaudio import rss_kib as server_rss_kib
from bench.serve_fleet import Fleet, phase_figures

DEFAULT_N = (50, 100, 200)
QUICK_N = (5,)
LOAD_N = 50
SECONDS, QUICK_SECONDS = 15.0, 3.0
IDLE_SECONDS, QUICK_IDLE_SECONDS = 10.0, 2.0
LOGINS_PER_SECOND, REQUESTS_PER_SECOND = 5.0, 20.0
#: Issue #20's goal for the voice under load.
GOAL_P99_GROWTH, GOAL_MAX_GAP = 0.005, 0.060
TALKGROUP = "satpolpp"


def udp_counters() -> dict[str, int]:
    """This network namespace's UDP counters (IPv4 and IPv6): datagrams received, and
    those dropped for a full receive buffer or other receive errors."""
    counters: dict[str, int] = {}
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    for name, value in zip(rows[0][1:], rows[1][1:], strict=True):
        counters[name] = int(value)
    with contextlib.suppress(FileNotFoundError), open("/proc/net/snmp6") as f:
        for line in f:
            name, value = line.split()
            if name.startswith("Udp6"):
                counters[name[4:]] = counters.get(name[4:], 0) + int(value)
    return {k: counters.get(k, 0)
            for k in ("InDatagrams", "OutDatagrams", "RcvbufErrors", "InErrors")}


async def add_officers(database_url: str, secret: str, n: int) -> list[str]:
    """N officer accounts of Satpol PP, straight into the database (one password hash
    shared by all: hashing 200 passwords would take minutes); returns their tokens.
    The listeners' logins are not what is measured (the loaded phase logs in for real)."""
    from sqlalchemy import select

    import siaga.app  # noqa: F401  (every model, so that the mappers resolve)
    from kernel.auth import TokenService
    from kernel.db import create_engine, session_factory, transaction
    from kernel.identity import Agency, Role, User, hash_password

    engine = create_engine(database_url)
    try:
        password_hash = hash_password("bench-listener")
        async with transaction(session_factory(engine)) as session:
            agency = (await session.execute(
                select(Agency).where(Agency.code == "satpolpp"))).scalar_one()
            users = [User(username=f"bench{i:04d}", display_name=f"Bench {i}",
                          password_hash=password_hash, role=Role.OFFICER, agency=agency,
                          unit_callsign=None) for i in range(n)]
            session.add_all(users)
            await session.flush()
            tokens = TokenService(secret, 3600)
            now = time.time()
            return [tokens.issue(user, now) for user in users]
    finally:
        await engine.dispose()


class LoadProcess:
    """``bench.serve_load`` against the server, on the clients' CPUs."""

    def __init__(self, url: str, cpus: set[int] | None) -> None:
        self.url, self.cpus = url, cpus
        self.proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> LoadProcess:
        pinned = ["taskset", "-c", ",".join(map(str, sorted(self.cpus)))] if self.cpus else []
        self.proc = await asyncio.create_subprocess_exec(
            *pinned, sys.executable, "-m", "bench.serve_load", self.url,
            "--logins", str(LOGINS_PER_SECOND), "--requests", str(REQUESTS_PER_SECOND),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        if line.strip() != b"READY":
            raise RuntimeError(f"load generator did not start: {line!r}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.summary_line = b""
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.proc.stdin.write(b"stop\n")
            await self.proc.stdin.drain()
            self.proc.stdin.close()
        assert self.proc.stdout is not None
        self.summary_line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        await self.proc.wait()


def _ms(seconds: float) -> str:
    return "   n/a" if seconds != seconds else f"{seconds * 1000:6.1f}"


def print_phase(label: str, f: dict[str, Any]) -> None:
    print(f"  {label:<22}{f['sent']:>6.0f}{f['min']:>6.0f}{f['median']:>7.0f}"
          f"{f['missed_any']:>7.0f}{f['nothing']:>8.0f}{f['lost']:>7.0f}{f['gaps']:>6.0f}"
          f"{f.get('skipped', float('nan')):>8.0f}{f.get('edges', float('nan')):>7.0f}"
          f"{_ms(f['ia_p50']):>8}{_ms(f['ia_p99']):>8}{_ms(f['ia_max']):>8}")


PHASE_HEAD = (f"  {'phase':<22}{'sent':>6}{'min':>6}{'median':>7}{'missed':>7}{'nothing':>8}"
              f"{'lost':>7}{'gaps':>6}{'skipped':>8}{'edges':>7}{'ia p50':>8}{'p99 ms':>8}"
              f"{'max ms':>8}")


async def run_n(n: int, seconds: float, idle_seconds: float, load: bool,
                cpus: tuple[set[int] | None, set[int] | None],
                wait: bool = True) -> dict[str, Any]:
    directory = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    log = directory / "serve.log"
    server = Siaga(directory, cpus=cpus[0], log=log)
    fleet: Fleet | None = None
    try:
        await server.prepare()
        tokens = await add_officers(server.env["SIAGA_DATABASE_URL"],
                                    server.env["SIAGA_SECRET_KEY"], n)
        await server.serve()
        assert server.proc is not None
        pid = server.proc.pid
        fleet = Fleet(server.url, TALKGROUP, cpus[1])
        await fleet.connect_talker()
        rss0 = server_rss_kib(pid)
        started = time.monotonic()
        await fleet.connect_listeners(tokens)
        setup = time.monotonic() - started
        if not wait:
            # Diagnosis only: talk at once, as a benchmark that does not wait would.
            ready = sum(listener.ready() for listener in fleet.listeners)
            print(f"  talking with {ready} of {n} listeners ready", flush=True)
            sent = await fleet.talk(seconds)
            return {"n": n, **{f"talk_{k}": v
                               for k, v in phase_figures(fleet.listeners, sent).items()}}
        await fleet.until_ready()
        rss1 = server_rss_kib(pid)
        # Idle: everyone connected, nobody talking.
        await asyncio.sleep(1.0)
        cpu0, wall0 = server_cpu(pid), time.monotonic()
        await asyncio.sleep(idle_seconds)
        idle_rate = (server_cpu(pid) - cpu0) / (time.monotonic() - wall0)
        cpu0, udp0, own0 = server_cpu(pid), udp_counters(), time.process_time()
        sent = await fleet.talk(seconds)
        cpu = server_cpu(pid) - cpu0
        udp = {k: v - udp0.get(k, 0) for k, v in udp_counters().items()}
        clients_cpu = (time.process_time() - own0) / fleet.last_talk_seconds
        talk = phase_figures(fleet.listeners, sent)
        talk_wall = fleet.last_talk_seconds
        out = {
            "n": n, "setup": setup, "idle_rate": idle_rate,
            "rss_per_peer": (rss1 - rss0) / n,
            "cpu_per_packet": cpu / talk["delivered"] if talk["delivered"] else float("nan"),
            "fwd_per_packet": ((cpu - idle_rate * talk_wall) / talk["delivered"]
                               if talk["delivered"] else float("nan")),
            "clients_cpu": clients_cpu, "udp": udp,
            **{f"talk_{k}": v for k, v in talk.items()},
        }
        if load:
            async with LoadProcess(server.url, cpus[1]) as generator:
                await asyncio.sleep(1.0)  # the load is running before the talk starts
                sent = await fleet.talk(seconds)
            loaded = phase_figures(fleet.listeners, sent)
            out.update({f"load_{k}": v for k, v in loaded.items()})
            out["load_summary"] = generator.summary_line.decode().strip()
        return out
    finally:
        if fleet is not None:
            await fleet.close()
        server.stop()
        with contextlib.suppress(FileNotFoundError):
            lines = log.read_text(errors="replace").splitlines()
            if lines:
                print(f"  N={n}: the server logged {len(lines)} lines (warnings and errors),"
                      f" the first: {lines[0][:200]}", flush=True)
        shutil.rmtree(directory, ignore_errors=True)


def print_results(results: list[dict[str, Any]]) -> None:
    print(f"\n{'N':>5}{'set-up s':>10}{'CPU us/pkt':>12}{'fwd us':>8}{'idle ms/s/100 peers':>21}"
          f"{'KiB/peer':>10}{'clients CPU':>13}{'UDP rcvbuf drops':>18}")
    for r in results:
        per_100 = r["idle_rate"] * 1000 * 100 / (r["n"] + 1)
        print(f"{r['n']:>5.0f}{r['setup']:>10.1f}{r['cpu_per_packet'] * 1e6:>12.1f}"
              f"{r['fwd_per_packet'] * 1e6:>8.1f}{per_100:>21.1f}{r['rss_per_peer']:>10.0f}"
              f"{r['clients_cpu'] * 100:>12.0f}%{r['udp']['RcvbufErrors']:>18}")
    print("\npackets per listener (sent by the talker; min/median received; listeners that"
          " missed any, that got nothing; lost in all) and inter-arrival at the listeners:")
    print(PHASE_HEAD)
    for r in results:
        print_phase(f"N={r['n']:.0f}", _phase(r, "talk"))
    for r in results:
        if "load_sent" not in r:
            continue
        quiet, loaded = _phase(r, "talk"), _phase(r, "load")
        print(f"\nvoice under load at N={r['n']:.0f}: {LOGINS_PER_SECOND:.0f} logins/s + "
              f"{REQUESTS_PER_SECOND:.0f} authenticated GETs/s against the same server")
        print(PHASE_HEAD)
        print_phase("without load", quiet)
        print_phase("with load", loaded)
        growth = loaded["ia_p99"] - quiet["ia_p99"]
        print(f"  difference: lost {loaded['lost'] - quiet['lost']:+.0f}, inter-arrival p99 "
              f"{growth * 1000:+.1f} ms, max gap {(loaded['ia_max'] - quiet['ia_max']) * 1000:+.1f}"
              " ms")
        met = {"no packet lost": loaded["lost"] == 0,
               f"p99 +<={GOAL_P99_GROWTH * 1000:.0f} ms": growth <= GOAL_P99_GROWTH,
               f"no gap over {GOAL_MAX_GAP * 1000:.0f} ms": loaded["ia_max"] <= GOAL_MAX_GAP}
        print("  goal (issue #20): " + ", ".join(
            f"{name}: {'met' if ok else 'NOT met'}" for name, ok in met.items()))
        print(f"  load generator: {describe_load(r['load_summary'])}")


def describe_load(line: str) -> str:
    """``bench.serve_load``'s summary: answers by status, latency p50/p99/max per kind."""
    summary = json.loads(line)
    statuses = ", ".join(f"{n} {k}" for k, n in sorted(summary["statuses"].items()))
    latency = "; ".join(f"{kind} p50/p99/max {' / '.join(f'{v:.2f}' for v in values)} s"
                        for kind, values in summary["latency"].items())
    return f"{statuses}; {latency}"


def _phase(r: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix) + 1:]: v for k, v in r.items() if k.startswith(prefix + "_")}


async def run_all(args: argparse.Namespace) -> int:
    ns = [int(x) for x in args.n.split(",")] if args.n else list(
        QUICK_N if args.quick else DEFAULT_N)
    cap = int(os.environ.get("SIAGA_BENCH_MAX_N", "0") or 0)  # as bench_webrtc
    if cap:
        ns = [n for n in ns if n <= cap] or [cap]
    seconds = args.seconds or (QUICK_SECONDS if args.quick else SECONDS)
    idle = QUICK_IDLE_SECONDS if args.quick else IDLE_SECONDS
    load_n = args.load_n or (ns[0] if args.quick else LOAD_N)
    cpus = cpu_split()
    if cpus[1]:
        os.sched_setaffinity(0, cpus[1])
    where = (f"server on CPU {sorted(cpus[0])}, clients on CPUs {sorted(cpus[1])}"
             if cpus[0] and cpus[1] else "not pinned (fewer than 2 CPUs or no taskset)")
    print(f"siaga serve, 1 talker -> N WebRTC listeners, 20 ms Opus at 50 packets/s, "
          f"{seconds:.0f} s of talk per phase; {where}", flush=True)
    results = []
    for n in ns:
        t0 = time.monotonic()
        result = await run_n(n, seconds, idle, n == load_n and args.wait, cpus, args.wait)
        if not args.wait:
            print(PHASE_HEAD)
            print_phase(f"N={n}, no wait", _phase(result, "talk"))
            continue
        results.append(result)
        print(f"  N={n} done in {time.monotonic() - t0:.0f} s", flush=True)
    if not results:
        return 0
    print_results(results)
    print("\nCPU: the server process (all threads, /proc) during the talk / packets the "
          "listeners received;\nfwd: the same less the idle rate. idle: everyone connected, "
          "nobody talking. KiB/peer: RSS growth / listeners.\nclients CPU: this process "
          "(the listeners) during the talk, in % of one core; near 100%, the figures measure\n"
          "the clients, not the server. UDP rcvbuf drops: datagrams this network namespace "
          "dropped for a full socket buffer during the talk.\nlost: packets sent and not "
          "heard, over all listeners. Of those, gaps: missing inside a listener's sequence\n"
          "numbers (the server numbers each downlink without gaps), i.e. lost after the server"
          " sent them;\nskipped: talker packets the server did not forward inside the talk "
          "(timestamp steps without a sequence gap);\nedges: packets of the talk before the "
          "first or after the last a listener heard (not forwarded at the start or the end).\n"
          "ia: time between two packets at a listener, pooled over the listeners.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="short smoke run (CI)")
    parser.add_argument("--n", help="comma-separated listener counts")
    parser.add_argument("--seconds", type=float, help="seconds of talk per phase")
    parser.add_argument("--load-n", type=int, help=f"N of the voice-under-load phase ({LOAD_N})")
    parser.add_argument("--no-wait", dest="wait", action="store_false",
                        help="diagnosis: talk as soon as the listeners have joined, without "
                        "waiting for their peer connections and downlinks to be ready")
    args = parser.parse_args(argv)
    return asyncio.run(run_all(args))


if __name__ == "__main__":
    sys.exit(main())
