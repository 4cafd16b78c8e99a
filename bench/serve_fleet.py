"""The clients of ``bench_serve``: one talker and N listeners, real ``siaga_radio`` clients
(WebSocket signaling, one aiortc peer connection each), in this process.

A listener is *ready* when its peer connection is connected (ICE and DTLS) and the server's
downlink offer for the talkgroup has been applied and answered, with the receive tap on that
downlink. :meth:`Fleet.until_ready` waits for every listener to be ready and names those that
are not (with their connection states) when the deadline passes: a talk that began before
some listeners were ready would count them as listeners that received nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import sys
import time
from typing import Any

from siaga_radio import RadioClient
from siaga_radio.audio import FRAME

from bench.bench_webrtc import percentile

#: Listeners connecting at once (each: a WebSocket, an offer/answer, ICE, DTLS, a re-offer).
CONNECT_CONCURRENCY = 10
#: Seconds for every listener to become ready, per 100 listeners (at least one 100's worth).
READY_SECONDS_PER_100 = 60.0
#: After the last packet is sent, how long the listeners may hear nothing new before the
#: packets still missing are counted as lost.
TAIL_SECONDS = 2.0


class Listener:
    """A radio that only listens, timing every packet it hears."""

    def __init__(self, url: str, name: str, token: str, talkgroup: str) -> None:
        self.name = name
        self.talkgroup = talkgroup
        self.client = RadioClient(url, name, token=token, transport="webrtc", receive=True,
                                  reconnect=False)
        self.client.on_audio.append(self._heard)
        self.arrivals: list[float] = []
        #: RTP sequence numbers heard: the server numbers each downlink without gaps
        #: (``ptt/rtp.py`` rule 1), so a gap is a packet lost after the server sent it.
        self.sequences: list[int] = []
        self.timestamps: list[int] = []

    def _heard(self, talkgroup: str, packet: bytes, sequence: int, stream: int | None) -> None:
        if talkgroup == self.talkgroup:
            self.arrivals.append(time.perf_counter())
            self.sequences.append(sequence)

    def clear(self) -> None:
        self.arrivals.clear()
        self.sequences.clear()
        self.timestamps.clear()

    def watch_timestamps(self) -> None:
        """Record the RTP timestamp of every packet too, from the receive tap (the radio
        client's ``on_audio`` does not carry it). Within a burst the server keeps the
        talker's timestamp steps (``ptt/rtp.py`` rule 2): a step of more than one packet
        without a sequence gap is a talker packet the server did not forward."""
        voice = self.client.voice
        for mid, tap in voice._taps.items():
            if voice.downlinks.get(mid) == self.talkgroup:
                heard = tap.on_packet

                def on_packet(packet: Any, heard: Any = heard) -> None:
                    self.timestamps.append(packet.timestamp)
                    heard(packet)

                tap.on_packet = on_packet

    def not_forwarded(self) -> tuple[int, int]:
        """(talker packets skipped inside the talk, packets of the talk's 20 ms steps
        between its first and last heard timestamp, i.e. the span heard)."""
        if not self.timestamps:
            return 0, 0
        span = (self.timestamps[-1] - self.timestamps[0]) % (1 << 32) // FRAME + 1
        return max(0, span - len(self.timestamps) - self.sequence_gaps()), span

    def sequence_gaps(self) -> int:
        """Packets missing between the first and the last heard (lost on the way)."""
        return sum((b - a - 1) % 65536 for a, b in zip(self.sequences, self.sequences[1:],
                                                        strict=False))

    async def connect(self) -> None:
        await self.client.connect(timeout=60)
        await self.client.join(self.talkgroup)

    def ready(self) -> bool:
        voice = self.client.voice
        pc = voice.pc
        if pc is None or pc.connectionState != "connected":
            return False
        mids = [mid for mid, tg in voice.downlinks.items() if tg == self.talkgroup]
        return bool(mids) and all(mid in voice._taps for mid in mids)

    def state(self) -> str:
        """What a listener that is not ready (or heard nothing) is stuck on."""
        voice = self.client.voice
        pc = voice.pc
        if pc is None:
            return f"{self.name}: no peer connection (socket {self.client.state})"
        taps = {mid: (tap.received, tap.dropped_payload_type) for mid, tap in voice._taps.items()}
        return (f"{self.name}: pc {pc.connectionState}, ice {pc.iceConnectionState}, "
                f"downlinks {voice.downlinks}, taps (received, wrong type) {taps}, "
                f"socket {self.client.state}")


class Fleet:
    """N listeners in this process, the talker in its own (:mod:`bench.serve_talker`)."""

    def __init__(self, url: str, talkgroup: str, cpus: set[int] | None) -> None:
        self.url = url
        self.talkgroup = talkgroup
        self.cpus = cpus
        self.listeners: list[Listener] = []
        self.talker: asyncio.subprocess.Process | None = None
        #: Wall seconds of the last talk, first packet sent -> last listener done.
        self.last_talk_seconds = 0.0

    async def connect_talker(self) -> None:
        pinned = ["taskset", "-c", ",".join(map(str, sorted(self.cpus)))] if self.cpus else []
        self.talker = await asyncio.create_subprocess_exec(
            *pinned, sys.executable, "-m", "bench.serve_talker", self.url, self.talkgroup,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        if (await self._talker_line(60)) != b"READY":
            raise RuntimeError("the talker did not connect")

    async def _talker_line(self, timeout: float) -> bytes:
        assert self.talker is not None and self.talker.stdout is not None
        return (await asyncio.wait_for(self.talker.stdout.readline(), timeout)).strip()

    async def _tell_talker(self, command: str, timeout: float) -> dict[str, Any]:
        assert self.talker is not None and self.talker.stdin is not None
        self.talker.stdin.write(command.encode() + b"\n")
        await self.talker.stdin.drain()
        line = await self._talker_line(timeout)
        if not line:
            raise RuntimeError(f"the talker ended on {command!r}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def connect_listeners(self, tokens: list[str]) -> None:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one(i: int, token: str) -> None:
            listener = Listener(self.url, f"bench{i:04d}", token, self.talkgroup)
            self.listeners.append(listener)
            async with gate:
                await listener.connect()

        await asyncio.gather(*(one(i, t) for i, t in enumerate(tokens)))

    async def until_ready(self) -> None:
        deadline = time.monotonic() + READY_SECONDS_PER_100 * max(1, len(self.listeners) / 100)
        while True:
            waiting = [listener for listener in self.listeners if not listener.ready()]
            if not waiting:
                for listener in self.listeners:
                    listener.watch_timestamps()
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(waiting)} of {len(self.listeners)} listeners not "
                                   "ready:\n  " + "\n  ".join(w.state() for w in waiting[:10]))
            await asyncio.sleep(0.05)

    async def talk(self, seconds: float) -> int:
        """The talker takes the floor, sends ``seconds`` of tone and releases the floor;
        then the listeners' last packets are waited for. Returns the packets sent."""
        for listener in self.listeners:
            listener.clear()
        started = time.monotonic()
        sent = int((await self._tell_talker(f"talk {seconds}", seconds + 30))["sent"])
        # Until every listener has every packet, or nobody has heard anything new for
        # TAIL_SECONDS: a busy machine may leave the listeners seconds behind, their
        # packets waiting in socket buffers, and a fixed wait would count those as lost.
        heard, quiet_since = -1, time.monotonic()
        while any(len(li.arrivals) < sent for li in self.listeners):
            total = sum(len(li.arrivals) for li in self.listeners)
            if total != heard:
                heard, quiet_since = total, time.monotonic()
            elif time.monotonic() - quiet_since > TAIL_SECONDS:
                break
            await asyncio.sleep(0.01)
        self.last_talk_seconds = time.monotonic() - started
        return sent

    async def close(self) -> None:
        await asyncio.gather(*(li.client.close() for li in self.listeners),
                             return_exceptions=True)
        if self.talker is not None and self.talker.returncode is None:
            assert self.talker.stdin is not None
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.talker.stdin.write(b"quit\n")
                self.talker.stdin.close()
            try:
                await asyncio.wait_for(self.talker.wait(), 20)
            except TimeoutError:
                self.talker.kill()
                await self.talker.wait()


def phase_figures(listeners: list[Listener], sent: int) -> dict[str, Any]:
    """Per listener counts and the pooled inter-arrival times of one talk."""
    counts = [len(li.arrivals) for li in listeners]
    gaps = [b - a for li in listeners for a, b in zip(li.arrivals, li.arrivals[1:],
                                                         strict=False)]
    nothing = [li for li in listeners if not li.arrivals]
    for li in nothing[:10]:
        print(f"    heard nothing: {li.state()}", flush=True)
    return {
        "sent": sent, "delivered": sum(counts),
        "min": min(counts, default=0), "median": statistics.median(counts) if counts else 0,
        "missed_any": sum(1 for c in counts if c < sent), "nothing": len(nothing),
        "lost": sum(max(0, sent - c) for c in counts),
        "gaps": sum(li.sequence_gaps() for li in listeners),
        "skipped": sum(li.not_forwarded()[0] for li in listeners),
        "edges": sum(sent - li.not_forwarded()[1] for li in listeners if li.timestamps),
        "ia_p50": percentile(gaps, 0.5), "ia_p99": percentile(gaps, 0.99),
        "ia_max": max(gaps, default=float("nan")),
    }
