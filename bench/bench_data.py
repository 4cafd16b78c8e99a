"""What a phone pays: mobile data per on-duty hour, listening to a busy talkgroup, for
WebRTC and for WebSocket voice, against the goal of 15 MB per hour (an officer's prepaid
quota).

Measured on real transports: the real ``siaga serve`` (its own process, demo data) and three
``siaga-radio`` clients in this process: a talker (WebSocket voice), a WebRTC listener and a
WebSocket listener, both hearing ``satpolpp``. Every byte in and out of each listener's
sockets is counted where it enters or leaves Python: for WebRTC each UDP datagram of its ICE
sockets (SRTP voice, SRTCP reports, STUN consent checks), for WebSocket its TCP stream
(binary audio frames with their WebSocket and Siaga headers, JSON signaling, keepalives).
What the kernel adds is counted per packet: 28 bytes of IPv4 and UDP headers per datagram;
52 bytes of IPv4 and TCP headers (with the timestamp option Linux uses) per segment, each
read counted as one segment (the server writes each frame at once, TCP_NODELAY, 20 ms
apart), and the phone's pure ACKs, one per two segments received (delayed ACKs), 52 bytes
each. IPv6 adds 20 bytes per packet to both.

Figures: bytes on the wire per voice packet heard; the background (keepalives, consent
checks, reports) per idle hour; and the total for an on-duty hour of a busy group:
``BUSY_AIRTIME`` of the hour someone talks, in transmissions of ``TRANSMISSION_SECONDS``
(12 minutes of voice in 144 transmissions), each costing what one measured transmission
cost beyond the background (voice and its signaling), plus the background of the whole
hour. The talker sends noise encoded at the clients' default Opus bitrate (24 kbit/s, 20 ms
frames): Opus's variable bitrate spends all of it on noise, while speech averages at or
below it, so this is what a busy group costs at most.

The WebRTC listener is aiortc, whose RTCP reports go every second or so; a browser (the
officers' app) sends them every ~5 s, so its background is somewhat lower than measured.

The counters wrap the listeners' sockets from outside (aioice's ``Connection._protocols``
behind aiortc's ``RTCIceTransport._connection``, the websockets connection's transport):
a benchmark's look inside, not anything the server or the clients rely on.

Usage: ``python -m bench.bench_data [--quick] [--idle 20] [--transmissions 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

GOAL_MB_PER_HOUR = 15.0
BUSY_AIRTIME = 0.20
TRANSMISSION_SECONDS = 5.0
TRANSMISSIONS_PER_HOUR = round(3600 * BUSY_AIRTIME / TRANSMISSION_SECONDS)
UDP_IPV4 = 20 + 8
TCP_IPV4 = 20 + 32  # header with the timestamp option
ACKS_PER_SEGMENT = 0.5
BIN = Path(sys.executable).parent


@dataclass
class Meter:
    """Bytes and packets one listener's sockets carried, as Python saw them."""

    overhead: int  # IP and transport headers per packet
    acks_per_packet_in: float = 0.0
    bytes_in: int = 0
    bytes_out: int = 0
    packets_in: int = 0
    packets_out: int = 0
    samples: list[tuple[float, int, int, int, int]] = field(default_factory=list)

    def received(self, data: bytes) -> None:
        self.bytes_in += len(data)
        self.packets_in += 1

    def sent(self, data: bytes) -> None:
        self.bytes_out += len(data)
        self.packets_out += 1

    def wire(self) -> float:
        """Bytes on the wire so far, both ways, headers and the phone's ACKs included."""
        acks = self.packets_in * self.acks_per_packet_in
        return (self.bytes_in + self.bytes_out
                + (self.packets_in + self.packets_out + acks) * self.overhead)


def meter_datagrams(client: Any) -> Meter:
    """Count every datagram of a WebRTC client's ICE sockets (aioice's protocols)."""
    meter = Meter(UDP_IPV4)
    pc = client.voice.pc
    connections = {t.receiver.transport.transport._connection for t in pc.getTransceivers()}
    for connection in connections:
        for protocol in connection._protocols:
            receive, transport = protocol.datagram_received, protocol.transport
            send = transport.sendto

            def datagram_received(data: bytes, addr: Any, _receive: Any = receive) -> None:
                meter.received(data)
                _receive(data, addr)

            def sendto(data: bytes, addr: Any = None, _send: Any = send) -> None:
                meter.sent(data)
                _send(data, addr)

            protocol.datagram_received = datagram_received
            transport.sendto = sendto
    return meter


def meter_stream(client: Any) -> Meter:
    """Count every byte of a client's WebSocket (its TCP stream, both ways)."""
    meter = Meter(TCP_IPV4, acks_per_packet_in=ACKS_PER_SEGMENT)
    ws = client._ws
    receive, write = ws.data_received, ws.transport.write

    def data_received(data: bytes) -> None:
        meter.received(data)
        receive(data)

    def transport_write(data: bytes) -> None:
        meter.sent(data)
        write(data)

    ws.data_received = data_received
    ws.transport.write = transport_write
    return meter


class NoiseSource:
    """White noise at a speech-like level: Opus spends its whole bitrate on it."""

    live = False

    def __init__(self) -> None:
        self._rng = np.random.default_rng(25)

    async def read(self) -> np.ndarray:
        return (self._rng.standard_normal(960) * 6000).clip(-32768, 32767).astype(np.int16)

    def close(self) -> None:
        pass


@contextlib.asynccontextmanager
async def siaga_serve(directory: Path) -> AsyncIterator[str]:
    """``siaga serve`` with the demo data on a loopback port bound here (``--fd``)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIAGA_")}
    env.update(SIAGA_DATABASE_URL=f"sqlite+aiosqlite:///{directory}/siaga.db",
               SIAGA_DATA_DIR=str(directory / "var"), SIAGA_PORT=str(port),
               SIAGA_SECRET_KEY="bench-" + "k" * 40, SIAGA_LOG_LEVEL="WARNING",
               SIAGA_RECORD_TRANSMISSIONS="false")
    for command in (("db", "upgrade"), ("demo", "load")):
        subprocess.run([str(BIN / "siaga"), *command], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    proc = subprocess.Popen([str(BIN / "siaga"), "serve", "--no-migrate", "--fd",
                             str(sock.fileno())], env=env, pass_fds=(sock.fileno(),),
                            stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 60
        async with httpx.AsyncClient() as http:
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"{url}/healthz")).status_code == 200:
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("siaga serve did not start")
                await asyncio.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)
        sock.close()


@dataclass
class Measured:
    name: str
    meter: Meter
    voice_packets: int = 0
    idle_per_second: float = 0.0
    per_transmission: float = 0.0
    voice_packet_wire: float = 0.0

    def hour(self) -> float:
        return self.idle_per_second * 3600 + self.per_transmission * TRANSMISSIONS_PER_HOUR


async def measure(idle: float, transmissions: int) -> list[Measured]:
    from siaga_radio import RadioClient

    with tempfile.TemporaryDirectory(prefix="siaga-bench-data-") as tmp:
        async with siaga_serve(Path(tmp)) as url:
            talker = RadioClient(url, "satpol1", "demo", transport="websocket")
            rtc = RadioClient(url, "satpol2", "demo", transport="webrtc", receive=True)
            wsl = RadioClient(url, "dispatcher1", "demo", transport="websocket", receive=True)
            heard = {"webrtc": 0, "websocket": 0}
            rtc.on_audio.append(lambda *_: heard.__setitem__("webrtc", heard["webrtc"] + 1))
            wsl.on_audio.append(
                lambda *_: heard.__setitem__("websocket", heard["websocket"] + 1))
            for client in (talker, rtc, wsl):
                await client.connect()
            for client in (rtc, wsl):
                await client.scan(["satpolpp"])
            while sorted(rtc.voice.downlinks.values()) != ["satpolpp"]:
                await asyncio.sleep(0.05)
            results = [Measured("WebRTC (SRTP over UDP)", meter_datagrams(rtc)),
                       Measured("WebSocket (over TCP)", meter_stream(wsl))]
            try:
                loop = asyncio.get_running_loop()
                start = loop.time()
                before = [r.meter.wire() for r in results]
                await asyncio.sleep(idle)
                elapsed = loop.time() - start
                for r, b in zip(results, before, strict=True):
                    r.idle_per_second = (r.meter.wire() - b) / elapsed
                received = [(r.meter.bytes_in, r.meter.packets_in) for r in results]
                for _ in range(transmissions):
                    start = loop.time()
                    before = [r.meter.wire() for r in results]
                    counts = dict(heard)
                    await talker.talk("satpolpp", NoiseSource(), TRANSMISSION_SECONDS)
                    await asyncio.sleep(1.0)  # the last frames and floor_idle arrive
                    elapsed = loop.time() - start
                    for r, b, key in zip(results, before, heard, strict=True):
                        cost = r.meter.wire() - b - r.idle_per_second * elapsed
                        r.per_transmission += cost / transmissions
                        r.voice_packets += heard[key] - counts[key]
                for r, (bytes_in, packets_in), key in zip(results, received, heard,
                                                          strict=True):
                    assert r.voice_packets, f"{key}: the listener heard nothing"
                    # Mean size of what arrived while someone talked: nearly all voice.
                    mean_in = (r.meter.bytes_in - bytes_in) / (r.meter.packets_in - packets_in)
                    r.voice_packet_wire = mean_in + r.meter.overhead * (
                        1 + r.meter.acks_per_packet_in)
            finally:
                for client in (talker, rtc, wsl):
                    await client.close()
    return results


def report(results: list[Measured], transmissions: int) -> None:
    print(f"busy group: {BUSY_AIRTIME:.0%} airtime, {TRANSMISSIONS_PER_HOUR} transmissions "
          f"of {TRANSMISSION_SECONDS:.0f} s per hour; Opus 24 kbit/s, 20 ms; "
          f"{transmissions} transmissions measured; goal {GOAL_MB_PER_HOUR:.0f} MB/hour")
    header = (f"{'transport':<24} {'B/voice pkt':>11} {'voice pkts':>10} "
              f"{'KB/transm.':>10} {'idle MB/h':>9} {'MB/hour':>8} {'of goal':>7}")
    print(header)
    print("-" * len(header))
    for r in results:
        hour = r.hour() / 1e6
        print(f"{r.name:<24} {r.voice_packet_wire:>11.0f} {r.voice_packets:>10d} "
              f"{r.per_transmission / 1e3:>10.1f} {r.idle_per_second * 3600 / 1e6:>9.2f} "
              f"{hour:>8.2f} {hour / GOAL_MB_PER_HOUR:>7.0%}")
    print("B/voice pkt: mean bytes on the wire per packet received, IPv4 headers and (TCP) "
          "the phone's ACKs included")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="short smoke run (CI)")
    parser.add_argument("--idle", type=float, default=20.0, help="idle seconds measured")
    parser.add_argument("--transmissions", type=int, default=3)
    args = parser.parse_args(argv)
    if args.quick:
        args.idle, args.transmissions = 6.0, 1
    results = asyncio.run(measure(args.idle, args.transmissions))
    report(results, args.transmissions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
