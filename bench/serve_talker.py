"""The talker of ``bench_serve``, in a process of its own.

With a couple of hundred listeners in the benchmark's process, their receive work would
delay the talker's own sending (its packets wait in the client's uplink queue, which drops
the oldest when full), and the benchmark would count as lost packets that never left. In a
process of its own, the operating system's scheduler gives the talker its share.

Run: ``python -m bench.serve_talker URL TALKGROUP``. It logs in ``satpol1``, joins, waits
for its peer connection, prints ``READY``, then obeys lines on its standard input:

* ``talk SECONDS``: take the floor, send a 440 Hz tone as 20 ms Opus for that long, and
  release it as a radio does (``siaga_radio``'s release tail after the last packet); prints
  ``{"sent": N}``, the RTP packets aiortc sent (its own count: what left this process;
  the uplink queue drops its oldest packets when aiortc falls behind);
* ``quit`` (or end of input).
"""

from __future__ import annotations

import asyncio
import json
import sys

from siaga_radio import RadioClient
from siaga_radio.audio import FRAME, ToneSource

TALKER, PASSWORD = "satpol1", "demo"


async def rtp_sent(client: RadioClient) -> int:
    """RTP packets aiortc has sent on the uplink since the connection began."""
    pc = client.voice.pc
    assert pc is not None
    stats = await pc.getTransceivers()[0].sender.getStats()
    return sum(int(getattr(s, "packetsSent", 0)) for s in stats.values()
               if getattr(s, "type", "") == "outbound-rtp")


async def main_async(url: str, talkgroup: str) -> None:
    client = RadioClient(url, TALKER, PASSWORD, transport="webrtc", reconnect=False)
    await client.connect(timeout=60)
    await client.join(talkgroup)
    await client.voice.ready(timeout=60)
    loop = asyncio.get_running_loop()
    print("READY", flush=True)
    try:
        while line := (await loop.run_in_executor(None, sys.stdin.readline)).split():
            match line:
                case ["talk", seconds]:
                    uplink = client.voice.uplink
                    assert uplink is not None
                    pts0, rtp0 = uplink._pts, await rtp_sent(client)
                    await client.request_floor(talkgroup)
                    # Released as a radio does, a moment (RELEASE_TAIL) after the last packet.
                    await client.send_audio(talkgroup, ToneSource(440.0), float(seconds))
                    # Until aiortc has taken every packet from the uplink and sent it.
                    while (uplink._queue or await rtp_sent(client) - rtp0
                           < (uplink._pts - pts0) // FRAME):
                        await asyncio.sleep(0.005)
                    print(json.dumps({"sent": await rtp_sent(client) - rtp0}), flush=True)
                case ["quit"]:
                    break
                case _:
                    raise ValueError(f"unknown command {line}")
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> int:
    url, talkgroup = argv or sys.argv[1:]
    asyncio.run(main_async(url, talkgroup))
    return 0


if __name__ == "__main__":
    sys.exit(main())
