"""WebRTC voice relay: 1 talker -> N listeners, server CPU, latency, set-up time, memory.

The server runs in its own process (``--serve MODE``), so its CPU time (``time.process_time``,
all threads) and RSS are its own; this process plays the peers (real aiortc clients over this
host's non-loopback address) and drives the server over a JSON-lines RPC on 127.0.0.1.

Modes, measured in the same run:

* ``fast``   ``ptt.media.relay.VoiceRelay`` (the default, ``fast_path=True``): receive tap,
  one synchronous fan-out loop that re-timestamps, builds the RTP header, SRTP-protects and
  sends each listener's datagram itself, in C where the optional extension is built. The
  talker sends 50 packets/s.
* ``fast-py`` (N=100) the same loop in Python (``native_send=False``): what the optional C
  extension saves.
* ``fast-no-direct``, ``fast-no-shortcuts``, ``fast-stock-timers`` (N=100, interleaved
  with ``fast`` runs, ``HOOK_ROUNDS`` pairs each): the fast path with one private hook of
  the media layer off (``ptt.media.relay.MediaHooks``): the direct receive path, the
  datagram shortcuts, the relaxed RTCP and grid timers. Printed: what each hook saves per
  delivered packet and in the background, beside the spread of the ``fast`` runs
  themselves (the noise a saving must exceed to earn its place).
* ``track``  ``VoiceRelay(fast_path=False)``: the same loop, but it queues each packet on the
  listener's packet track and aiortc's sender task per listener packetizes, protects, sends.
* ``sender`` baseline: aiortc's own sender fed encoded packets (a packet track per listener,
  pushed by a 20 ms timer in the server, no receive side, no routing): aiortc's floor for
  pass-through; relay / sender shows what the relay adds.
* ``stock``  baseline: aiortc's stock path: decode (jitter buffer + decoder thread) ->
  ``MediaRelay`` -> re-encode per listener; relay / stock shows what not re-encoding saves.

Figures: server CPU per delivered packet (packets counted by the listeners' receivers),
delivered packets/s per core, server-added latency p50/p99 (packet in -> datagram handed to
the socket (fast) or aiortc back for the next packet, i.e. after it sent this one (track,
sender); measured inside the server, in a window of its own after the CPU window, because
its hook costs a Python call per delivered packet), peer set-up time p50/p95 (offer ->
ICE/DTLS connected; and with the downlink renegotiation), server memory per peer (RSS delta
/ peers), and for the relay modes late entry: an extra listener routed mid-transmission,
route request sent -> its first packet received (client side, so it includes the RPC and up
to one 20 ms talker packet interval; median and max of ``LATE_TRIALS``), and the gap at a
talker change: a second talker takes over the route in one step, the longest time between
two packets at a listener around it (20 ms is seamless; median and max of ``LATE_TRIALS``).

The peers send RTCP reports every ~5 s at random moments (``relax_peer_rtcp(grid=None)``),
as browsers do for audio (libwebrtc's default); the relay does too, its timers on a 100 ms
grid so that they share wakeups. aiortc's own default is ~1 s, which the ``sender`` and
``stock`` baselines keep on the server side.

CPU is measured over 15 s (background: 10 s). On our virtual machines the same server's CPU
per packet drifts by about a fifth over tens of seconds (consecutive 2.5 s windows at 100
listeners read 11.8-16.9 us in one run, rising and falling over ~15 s, with or without
Python's garbage collector), so a 5 s window read whatever part of that drift it fell on.

Usage: ``python -m bench.bench_webrtc [--quick] [--n 10,50] [--seconds 15] [--modes fast,track]``;
``SIAGA_BENCH_MAX_N`` caps N (e.g. 50 on a busy machine).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_N = (10, 50, 100, 200)
#: Variants of the fast path, run at N=100 only.
FAST_VARIANTS = ("fast-py",)
#: The fast path with one private hook off (``MediaHooks`` fields), run interleaved with
#: ``fast`` at N=100.
HOOK_VARIANTS: dict[str, dict[str, bool]] = {
    "fast-no-direct": {"direct_rtp": False},
    "fast-no-shortcuts": {"datagram_shortcuts": False},
    "fast-stock-timers": {"relaxed_timers": False},
}
HOOK_ROUNDS = 2
RELAY_MODES = ("fast", "track", *FAST_VARIANTS, *HOOK_VARIANTS)
LATE_TRIALS = 7
#: Seconds of the latency window (after the CPU window, with the latency hook on).
LATENCY_SECONDS = 3.0
#: The CPU windows (see the module docstring): forwarding, and the background before it.
CPU_SECONDS = 15.0
BACKGROUND_SECONDS = 10.0
QUICK_N = (5,)
TIME_BASE = fractions.Fraction(1, 48000)


def encoded_tone(seconds: float = 1.0, freq: float = 440.0) -> list[bytes]:
    """20 ms mono Opus packets of a tone at 24 kbit/s (what a phone would send)."""
    import numpy as np
    import opuslib_next

    encoder = opuslib_next.Encoder(48000, 1, opuslib_next.APPLICATION_VOIP)
    encoder.bitrate = 24000
    packets = []
    for i in range(int(seconds * 50)):
        t = (np.arange(960) + i * 960) / 48000
        pcm = (0.5 * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)
        packets.append(bytes(encoder.encode(pcm.tobytes(), 960)))
    return packets


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- server process -------------------------------------------------------------------


class Server:
    """One server under test; ``handle`` serves one RPC request."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.latencies: list[float] = []
        self.pcs: list[Any] = []
        self.tracks: list[Any] = []
        self._cpu0 = self._wall0 = 0.0
        self._pacer: asyncio.Task[None] | None = None
        self.talker_track: Any = None
        # Import everything a peer needs now, so the RSS baseline excludes module code.
        import aiortc  # noqa: F401
        import aiortc.contrib.media  # noqa: F401

        import ptt.media.relay  # noqa: F401

        if mode in RELAY_MODES:
            from ptt.media.relay import MediaHooks, VoiceRelay

            self.relay = VoiceRelay(fast_path=mode != "track",
                                    native_send=mode != "fast-py",
                                    hooks=MediaHooks(**HOOK_VARIANTS.get(mode, {})))
        elif mode == "stock":
            from aiortc.contrib.media import MediaRelay

            self.media_relay = MediaRelay()

    def _latency(self, seconds: float) -> None:
        if self._wall0:
            self.latencies.append(seconds)

    async def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        op = req["op"]
        if op == "open":
            if self.mode in RELAY_MODES:
                return {"sdp": await self.relay.open_peer(req["id"], req["sdp"])}
            return {"sdp": await self._open_plain(req["sdp"], talker=req.get("talker", False))}
        if op == "downlinks":
            return {"sdp": await self.relay.set_downlinks(req["id"], req["tgs"])}
        if op == "answer":
            await self.relay.accept_answer(req["id"], req["sdp"])
            return {}
        if op == "route":
            self.relay.set_route(req["talker"], [tuple(d) for d in req["to"]])
            return {}
        if op == "switch":  # a talker change: the floor passes from one talker to the next
            self.relay.clear_route(req["previous"])
            self.relay.set_route(req["talker"], [tuple(d) for d in req["to"]])
            return {}
        if op == "probe":  # the per-delivery latency hook: off while CPU is measured
            hook = self._latency if req["on"] else None
            if self.mode in RELAY_MODES:
                self.relay.on_latency = hook
            for track in self.tracks:
                track.on_latency = hook
            return {}
        if op == "rss":
            return {"rss": rss_kib()}
        if op == "start":
            if self.mode == "sender" and self._pacer is None:
                self._pacer = asyncio.create_task(self._pace())
            return {}
        if op == "measure_start":
            self.latencies.clear()
            self._cpu0, self._wall0 = time.process_time(), time.monotonic()
            return {}
        if op == "measure_stop":
            cpu, wall = time.process_time() - self._cpu0, time.monotonic() - self._wall0
            self._wall0 = 0.0
            metrics = {}
            if self.mode in RELAY_MODES:
                m = self.relay.metrics
                metrics = {
                    "forwarded": m.forwarded,
                    "dropped_backpressure": m.dropped_backpressure,
                    "dropped_not_holder": m.dropped_not_holder,
                    "dropped_not_connected": m.dropped_not_connected,
                }
            return {
                "cpu": cpu,
                "wall": wall,
                "lat_p50": percentile(self.latencies, 0.5),
                "lat_p99": percentile(self.latencies, 0.99),
                "lat_n": len(self.latencies),
                "metrics": metrics,
            }
        raise ValueError(f"unknown op {op}")

    async def _open_plain(self, offer: str, *, talker: bool) -> str:
        """Baselines: one round trip, the listener offers recvonly audio."""
        from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

        from ptt.media.downlink import PacketTrack

        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pcs.append(pc)
        if talker:

            @pc.on("track")
            def on_track(track: Any) -> None:
                self.talker_track = track

        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        if not talker:
            if self.mode == "sender":
                track = PacketTrack(clock=time.monotonic)
                self.tracks.append(track)
                pc.addTrack(track)
            else:
                pc.addTrack(self.media_relay.subscribe(self.talker_track))
        await pc.setLocalDescription(await pc.createAnswer())
        return str(pc.localDescription.sdp)

    async def _pace(self) -> None:
        packets = encoded_tone()
        loop = asyncio.get_running_loop()
        start = loop.time()
        i = 0
        while True:
            now = time.monotonic()
            payload = packets[i % len(packets)]
            for track in self.tracks:
                track.push(i * 960, payload, now)
            i += 1
            await asyncio.sleep(max(0.0, start + i * 0.02 - loop.time()))

    async def close(self) -> None:
        if self._pacer:
            self._pacer.cancel()
        if self.mode in RELAY_MODES:
            await self.relay.close()
        for pc in self.pcs:
            await pc.close()


async def serve(mode: str) -> None:
    server = Server(mode)
    done = asyncio.Event()

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            req = json.loads(line)
            if req["op"] == "quit":
                done.set()
                break
            try:
                resp = await server.handle(req)
            except Exception as exc:  # report to the driver, keep serving
                resp = {"error": f"{type(exc).__name__}: {exc}"}
            writer.write(json.dumps(resp).encode() + b"\n")
            await writer.drain()
        writer.close()

    srv = await asyncio.start_server(client, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)
    await done.wait()
    await server.close()
    srv.close()


# --- platform reference ------------------------------------------------------------------

_WAKEUP_PROBE = r"""
import asyncio, sys, time
async def main():
    class Count(asyncio.DatagramProtocol):
        n = 0
        def datagram_received(self, data, addr):
            Count.n += 1
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(Count, local_addr=(sys.argv[1], 0))
    print(transport.get_extra_info("sockname")[1], flush=True)
    await asyncio.sleep(0.5)
    cpu, wall, n = time.process_time(), time.monotonic(), Count.n
    await asyncio.sleep(float(sys.argv[2]))
    print(Count.n - n, time.process_time() - cpu, time.monotonic() - wall, flush=True)
asyncio.run(main())
"""


async def wakeup_cost(seconds: float = 3.0) -> tuple[float, float]:
    """CPU of a bare asyncio process woken by one 100-byte datagram every 20 ms: (CPU
    seconds per second, CPU seconds per wakeup). On a virtual machine this fixed cost is
    part of every sparse event (ICE consent checks, RTCP, a talker's packet); the
    background below is printed in these units, though much of it is the work done per
    event, not the wakeup."""
    import socket

    from aioice.ice import get_host_addresses

    address = next(iter(get_host_addresses(use_ipv4=True, use_ipv6=False)), "127.0.0.1")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _WAKEUP_PROBE, address, str(seconds),
        stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    port = int(await proc.stdout.readline())
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    loop = asyncio.get_running_loop()
    start, i = loop.time(), 0
    reading = asyncio.ensure_future(proc.stdout.readline())
    while not reading.done():
        sock.sendto(b"x" * 100, (address, port))
        i += 1
        await asyncio.wait([reading], timeout=max(0.0, start + i * 0.02 - loop.time()))
    sock.close()
    await proc.wait()
    received, cpu, wall = (float(x) for x in reading.result().split())
    return cpu / wall, cpu / received if received else float("nan")


# --- peers (this process) ---------------------------------------------------------------


class Rpc:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.lock = asyncio.Lock()

    async def __call__(self, op: str, **kwargs: Any) -> dict[str, Any]:
        async with self.lock:
            self.writer.write(json.dumps({"op": op, **kwargs}).encode() + b"\n")
            await self.writer.drain()
            resp: dict[str, Any] = json.loads(await self.reader.readline())
        if "error" in resp:
            raise RuntimeError(f"server: {resp['error']}")
        return resp


def _tracks() -> tuple[type, type]:
    import av
    from aiortc.mediastreams import MediaStreamTrack

    class IdleTrack(MediaStreamTrack):
        """A client's uplink while it does not talk: never yields a packet."""

        kind = "audio"

        async def recv(self) -> Any:
            await asyncio.get_running_loop().create_future()

    class TalkerTrack(MediaStreamTrack):
        """Pre-encoded Opus paced at 50 packets/s against the loop clock."""

        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self.packets = encoded_tone()
            self.i = 0
            self.start: float | None = None

        async def recv(self) -> Any:
            loop = asyncio.get_running_loop()
            if self.start is None:
                self.start = loop.time()
            delay = self.start + self.i * 0.02 - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            packet = av.Packet(self.packets[self.i % len(self.packets)])
            packet.pts = self.i * 960
            packet.time_base = TIME_BASE
            self.i += 1
            return packet

    return IdleTrack, TalkerTrack


@dataclass
class Peers:
    pcs: list[Any] = field(default_factory=list)
    taps: list[Any] = field(default_factory=list)
    connect_times: list[float] = field(default_factory=list)
    setup_times: list[float] = field(default_factory=list)

    def received(self) -> int:
        return sum(t.received for t in self.taps)

    async def close(self) -> None:
        for pc in self.pcs:
            await pc.close()


async def _wait(predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.005)


async def connect_peer(
    rpc: Rpc, peers: Peers, mode: str, name: str, *, talker: bool = False
) -> None:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    from ptt.media.tap import ReceiverTap, opus_payload_types
    from ptt.media.timers import relax_peer_rtcp

    idle_track, talker_track = _tracks()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    peers.pcs.append(pc)
    t0 = time.perf_counter()
    if talker:
        pc.addTransceiver(talker_track(), direction="sendonly")
    elif mode in RELAY_MODES:
        pc.addTransceiver(idle_track(), direction="sendonly")
    else:
        pc.addTransceiver("audio", direction="recvonly")
    # Clients report every ~5 s at random moments, as browsers do for audio (no grid).
    relax_peer_rtcp(pc, grid=None)
    await pc.setLocalDescription(await pc.createOffer())
    answer = (await rpc("open", id=name, sdp=pc.localDescription.sdp, talker=talker))["sdp"]
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    if not talker and mode not in RELAY_MODES:
        (t,) = pc.getTransceivers()
        peers.taps.append(ReceiverTap(t.receiver, opus_payload_types(answer)[str(t.mid)], _count))
    await _wait(lambda: pc.connectionState == "connected", f"{name} connected")
    peers.connect_times.append(time.perf_counter() - t0)
    if not talker and mode in RELAY_MODES:
        offer = (await rpc("downlinks", id=name, tgs=[1]))["sdp"]
        pts = opus_payload_types(offer)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        relax_peer_rtcp(pc, grid=None)
        for t in pc.getTransceivers():
            if t.receiver.track is not None and t.mid in pts:
                peers.taps.append(ReceiverTap(t.receiver, pts[t.mid], _count))
        await pc.setLocalDescription(await pc.createAnswer())
        await rpc("answer", id=name, sdp=pc.localDescription.sdp)
    peers.setup_times.append(time.perf_counter() - t0)


def _count(packet: Any) -> None:
    """Listeners only count packets (ReceiverTap.received): no decoding on the client side."""


@dataclass
class Result:
    mode: str
    n: int
    delivered: int
    seconds: float
    cpu: float
    lat_p50: float
    lat_p99: float
    connect: list[float]
    setup: list[float]
    mem_per_peer_kib: float
    dropped_backpressure: int = 0
    late_entry: list[float] = field(default_factory=list)
    #: Relay modes: longest time between two packets at a listener across a talker change.
    change_gap: list[float] = field(default_factory=list)
    #: Relay modes: server CPU seconds per second with everyone connected but nothing routed.
    idle_cpu_rate: float = float("nan")

    @property
    def us_per_packet(self) -> float:
        return self.cpu / self.delivered * 1e6 if self.delivered else float("nan")

    @property
    def forwarding_us_per_packet(self) -> float:
        """CPU per delivered packet above the background (idle_cpu_rate)."""
        if not self.delivered or self.idle_cpu_rate != self.idle_cpu_rate:
            return float("nan")
        return (self.cpu - self.idle_cpu_rate * self.seconds) / self.delivered * 1e6

    @property
    def packets_per_core(self) -> float:
        return self.delivered / self.cpu if self.cpu else float("nan")


async def run_scenario(mode: str, n: int, seconds: float) -> Result:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.bench_webrtc", "--serve", mode, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    if not line.startswith("READY"):
        raise RuntimeError(f"server did not start: {line!r}")
    reader, writer = await asyncio.open_connection("127.0.0.1", int(line.split()[1]))
    rpc = Rpc(reader, writer)
    peers = Peers()
    try:
        rss0 = (await rpc("rss"))["rss"]
        relay = mode in RELAY_MODES
        if relay or mode == "stock":
            await connect_peer(rpc, peers, mode, "talker", talker=True)
        talker_setup = len(peers.setup_times)
        for i in range(n):
            await connect_peer(rpc, peers, mode, f"l{i}")
        rss1 = (await rpc("rss"))["rss"]
        listener_peers = len(peers.pcs)
        route = [[f"l{i}", 1] for i in range(n)]
        if relay:
            await connect_peer(rpc, peers, mode, "late")  # after the RSS: not in memory/peer
            late_tap = peers.taps.pop()  # not counted in the delivered packets
            # Background: every peer connected, the talker sending, nothing routed (RTCP,
            # ICE consent checks, the talker's packets, read and dropped, the event loop).
            await asyncio.sleep(0.5)
            await rpc("measure_start")
            await asyncio.sleep(min(seconds, BACKGROUND_SECONDS))
            idle = await rpc("measure_stop")
            idle_cpu_rate = idle["cpu"] / idle["wall"]
            await rpc("route", talker="talker", to=route)
        await rpc("start")
        await asyncio.sleep(1.0)  # warm-up: jitter buffers fill, encoders start
        received0 = peers.received()
        await rpc("measure_start")
        await asyncio.sleep(seconds)
        stats = await rpc("measure_stop")
        delivered = peers.received() - received0
        # Latency in a window of its own: its hook costs a Python call per delivery.
        await rpc("probe", on=True)
        await rpc("measure_start")
        await asyncio.sleep(min(seconds, LATENCY_SECONDS))
        lat = await rpc("measure_stop")
        await rpc("probe", on=False)
        late_entry: list[float] = []
        if relay:
            for _ in range(LATE_TRIALS):
                await asyncio.sleep(0.1 + 0.013 * len(late_entry))  # spread over the 20 ms
                arrivals: list[float] = []
                late_tap.on_packet = lambda _p, a=arrivals: a.append(time.perf_counter())
                t0 = time.perf_counter()
                await rpc("route", talker="talker", to=[*route, ["late", 1]])
                await _wait(lambda a=arrivals: bool(a), "late listener", timeout=5)
                late_entry.append(arrivals[0] - t0)
                await rpc("route", talker="talker", to=route)
                late_tap.on_packet = _count
            change_gap = await _talker_changes(rpc, peers, mode, late_tap, [*route, ["late", 1]])
        return Result(
            mode=mode,
            n=n,
            delivered=delivered,
            seconds=stats["wall"],
            cpu=stats["cpu"],
            lat_p50=lat["lat_p50"],
            lat_p99=lat["lat_p99"],
            connect=peers.connect_times[talker_setup:],
            setup=peers.setup_times[talker_setup:],
            mem_per_peer_kib=(rss1 - rss0) / max(1, listener_peers),
            dropped_backpressure=stats["metrics"].get("dropped_backpressure", 0),
            late_entry=late_entry,
            change_gap=change_gap if relay else [],
            idle_cpu_rate=idle_cpu_rate if relay else float("nan"),
        )
    finally:
        with contextlib.suppress(Exception):
            writer.write(b'{"op": "quit"}\n')
            await writer.drain()
        await peers.close()
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def _talker_changes(rpc: Rpc, peers: Peers, mode: str, tap: Any,
                          route: list[list[Any]]) -> list[float]:
    """Pass the route back and forth between two talkers sending all along; per change, the
    longest time between two packets at ``tap`` from the last before the change to the
    fifth after it."""
    await connect_peer(rpc, peers, mode, "talker2", talker=True)  # after every measurement
    await rpc("route", talker="talker", to=route)
    talkers = ("talker", "talker2")
    gaps: list[float] = []
    for trial in range(LATE_TRIALS):
        await asyncio.sleep(0.1 + 0.013 * trial)  # spread over the 20 ms
        arrivals: list[float] = []
        tap.on_packet = lambda _p, a=arrivals: a.append(time.perf_counter())
        await _wait(lambda a=arrivals: bool(a), "a packet before the change", timeout=5)
        t0 = time.perf_counter()
        await rpc("switch", previous=talkers[trial % 2], talker=talkers[(trial + 1) % 2],
                  to=route)
        await _wait(lambda a=arrivals, t0=t0: sum(1 for t in a if t > t0) >= 5,
                    "the next talker", timeout=5)
        tap.on_packet = _count
        last_before = max(i for i, t in enumerate(arrivals) if t <= t0)
        span = arrivals[last_before:]
        gaps.append(max(b - a for a, b in zip(span, span[1:], strict=False)))
    return gaps


def _ms(v: float) -> str:
    return "   n/a" if v != v else f"{v * 1000:6.1f}"


def print_table(results: list[Result]) -> None:
    head = (
        f"{'mode':<18}{'N':>5}{'out pkt/s':>11}{'CPU us/pkt':>12}{'fwd us':>8}{'pkt/s/core':>12}"
        f"{'lat p50':>9}{'p99 ms':>8}{'conn p50':>10}{'p95 ms':>8}{'+dl p50':>9}"
        f"{'p95 ms':>8}{'KiB/peer':>10}{'q drops':>9}{'late p50':>10}{'max ms':>8}"
        f"{'chg p50':>9}{'max ms':>8}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        print(
            f"{r.mode:<18}{r.n:>5}{r.delivered / r.seconds:>11.0f}{r.us_per_packet:>12.1f}"
            f"{r.forwarding_us_per_packet:>8.1f}"
            f"{r.packets_per_core:>12.0f}{_ms(r.lat_p50):>9}{_ms(r.lat_p99):>8}"
            f"{_ms(statistics.median(r.connect)):>10}{_ms(percentile(r.connect, 0.95)):>8}"
            f"{_ms(statistics.median(r.setup)):>9}{_ms(percentile(r.setup, 0.95)):>8}"
            f"{r.mem_per_peer_kib:>10.0f}{r.dropped_backpressure:>9}"
            f"{_ms(statistics.median(r.late_entry) if r.late_entry else float('nan')):>10}"
            f"{_ms(max(r.late_entry) if r.late_entry else float('nan')):>8}"
            f"{_ms(statistics.median(r.change_gap) if r.change_gap else float('nan')):>9}"
            f"{_ms(max(r.change_gap) if r.change_gap else float('nan')):>8}"
        )


def print_ratios(results: list[Result]) -> None:
    by_mode: dict[str, dict[int, Result]] = {}
    for r in results:
        by_mode.setdefault(r.mode, {})[r.n] = r
    print("\nCPU per delivered packet, ratios at equal N (below 1: the first one is cheaper):")
    for mode in ("fast", "track"):
        for n, r in sorted(by_mode.get(mode, {}).items()):
            for other in (*FAST_VARIANTS, "track", "sender", "stock"):
                o = by_mode.get(other, {}).get(n)
                if other != mode and o is not None:
                    ratio = r.us_per_packet / o.us_per_packet
                    print(f"  {mode} / {other:<6} at N={n:<4} {ratio:5.2f}x")


def print_hooks(results: list[Result]) -> None:
    """Each private hook's saving, from pairs of runs (all on, then that one off)."""
    pairs: dict[str, list[tuple[Result, Result]]] = {}
    on: Result | None = None
    for r in results:
        if r.mode == "fast" and r.n == 100:
            on = r
        elif r.mode in HOOK_VARIANTS and on is not None:
            pairs.setdefault(r.mode, []).append((on, r))
    if not pairs:
        return
    fast = [r.us_per_packet for r in results if r.mode == "fast" and r.n == 100]
    noise = max(fast) / min(fast) - 1
    print("\nPrivate hooks at N=100, each off against all on, interleaved pairs "
          "(CPU us per delivered packet; background ms of CPU per second):")
    for mode, runs in pairs.items():
        saved = [1 - a.us_per_packet / b.us_per_packet for a, b in runs]
        idle = [1 - a.idle_cpu_rate / b.idle_cpu_rate for a, b in runs if b.idle_cpu_rate]
        mean = statistics.mean(saved)
        pairs_text = ", ".join(f"{a.us_per_packet:.1f}/{b.us_per_packet:.1f}" for a, b in runs)
        verdict = "above" if min(saved) > noise else "within"
        idle_text = f"{statistics.mean(idle):+.0%}" if idle else "n/a"
        hook = ", ".join(HOOK_VARIANTS[mode])
        print(f"  {hook:<18} on/off {pairs_text}: saves {mean:+.0%} per packet "
              f"(every pair {min(saved):+.0%} or more), background {idle_text}; "
              f"{verdict} the noise")
    print(f"  noise: the {len(fast)} all-on runs at N=100 spread by {noise:.0%} "
          "(slowest / fastest - 1); a hook earns its place when every pair saves more")


async def run_all(args: argparse.Namespace) -> None:
    ns = (
        [int(x) for x in args.n.split(",")]
        if args.n
        else list(QUICK_N if args.quick else DEFAULT_N)
    )
    cap = int(os.environ.get("SIAGA_BENCH_MAX_N", "0") or 0)
    if cap:
        ns = [n for n in ns if n <= cap] or [cap]
    seconds = args.seconds or (1.5 if args.quick else CPU_SECONDS)
    plan: list[tuple[str, int]] = [(mode, n) for n in ns for mode in ("fast", "track")]
    base_n = [n for n in ns if n <= 10] or [min(ns)]
    plan += [("sender", n) for n in sorted({base_n[-1], *[n for n in ns if n == 100]})]
    plan += [("stock", base_n[-1])]
    plan += [(variant, 100) for variant in FAST_VARIANTS if 100 in ns]
    if 100 in ns and not args.quick:
        for _ in range(HOOK_ROUNDS):
            for variant in HOOK_VARIANTS:
                plan += [("fast", 100), (variant, 100)]
    if args.modes:
        plan = [(mode, n) for mode, n in plan if mode in args.modes.split(",")]
    print(
        f"1 talker -> N listeners, 20 ms Opus at 50 packets/s, {seconds:.1f} s measured per run; "
        f"server in its own process; {os.cpu_count()} CPUs",
        flush=True,
    )
    rate, per_wakeup = await wakeup_cost()
    print(
        f"platform: a bare asyncio process woken by 50 datagrams/s uses {rate * 1000:.1f} ms "
        f"of CPU per second, {per_wakeup * 1e6:.0f} us per wakeup",
        flush=True,
    )
    results = []
    for mode, n in plan:
        t0 = time.monotonic()
        result = await run_scenario(mode, n, seconds)
        results.append(result)
        print(f"  {mode} N={n} done in {time.monotonic() - t0:.1f} s", flush=True)
    print()
    print_table(results)
    print_ratios(results)
    print_hooks(results)
    print("\nBackground (all peers connected, the talker sending, nothing routed):")
    for r in results:
        if r.mode in RELAY_MODES:
            peers = r.n + 2  # the listeners, the talker, the late listener
            print(f"  {r.mode:<6} N={r.n:<4} {r.idle_cpu_rate * 1000:6.1f} ms of CPU per second"
                  f" ({r.idle_cpu_rate / per_wakeup:4.0f} platform wakeups' worth) for {peers}"
                  " peers")
    failed = [f"{r.mode} N={r.n}" for r in results if r.delivered == 0]
    if failed:
        raise SystemExit(f"no packet reached the listeners in: {', '.join(failed)}")
    print(
        "\nCPU: server process_time (all threads) / packets received by the listeners.\n"
        "fwd: the same minus the background (all peers connected, talker sending, nothing\n"
        "     routed: RTCP, ICE consent, the talker's packets read and dropped), i.e. the\n"
        "     forwarding itself.\n"
        "lat: packet in (after SRTP) -> handed to the socket (fast) / aiortc asks for the next\n"
        "     one, after sending it (track, sender).\n"
        "conn: offer -> ICE+DTLS connected; +dl: plus the downlink renegotiation.\n"
        "q drops: deliveries that overflowed a listener's queue (server saturated).\n"
        "late: route request -> first packet at a listener routed mid-transmission (client\n"
        "      side: includes the RPC and the wait for the talker's next 20 ms packet).\n"
        "chg: at a talker change, the longest time between two packets at a listener\n"
        "     (20 ms: seamless)."
    )


PIN_ENV = "SIAGA_BENCH_PIN"


def pin(*, server: bool) -> None:
    """Keep the server on CPU 0 and the peers (this process) off it, so that the peers'
    work does not land in the server's CPU time slices and runs compare."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return
    os.sched_setaffinity(0, {cpus[0]} if server else set(cpus[1:]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="short smoke run (CI)")
    parser.add_argument("--n", help="comma-separated listener counts")
    parser.add_argument("--seconds", type=float, help="measured seconds per run")
    parser.add_argument("--modes", help="comma-separated subset of fast,track,sender,stock")
    parser.add_argument("--pin", action="store_true",
                        help="server on CPU 0, the peers on the other CPUs (Linux)")
    parser.add_argument("--serve", choices=[*RELAY_MODES, "sender", "stock"],
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.pin or os.environ.get(PIN_ENV):
        pin(server=bool(args.serve))
    if args.serve:
        asyncio.run(serve(args.serve))
        return 0
    if args.pin:
        os.environ[PIN_ENV] = "1"  # the server processes pin themselves
    asyncio.run(run_all(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
