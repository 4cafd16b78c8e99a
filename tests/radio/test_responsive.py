"""Nothing blocks the voice: a radio's signaling stays responsive while logins hash
passwords (a regression guard; ``make bench`` measures it: bench/bench_logins.py)."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.conftest import LiveServer
from tests.radio.client import RadioClient

USERS = ("admin", "dispatcher1", "satpol2", "dishub1", "dishub2", "rsud-saleh")


async def test_ping_round_trip_stays_short_during_20_concurrent_logins(
        live_server: LiveServer) -> None:
    radio = await RadioClient.connect(live_server, "satpol1")
    async with httpx.AsyncClient(base_url=live_server.http_url, timeout=120) as http:
        logins = asyncio.gather(*(
            http.post("/api/auth/login",
                      json={"username": USERS[i % len(USERS)], "password": "demo"})
            for i in range(20)))
        rtts: list[float] = []
        ref = 0
        while not logins.done() or len(rtts) < 10:
            ref += 1
            sent = time.perf_counter()
            await radio.send("ping", ref=ref)
            await radio.expect("pong", ref=ref, timeout=10)
            rtts.append(time.perf_counter() - sent)
            # Paced under the server's flood limit (20 messages/s).
            await asyncio.sleep(max(0.0, 0.06 - (time.perf_counter() - sent)))
        answers = await logins
    await radio.close()
    assert [r.status_code for r in answers] == [200] * 20
    rtts.sort()
    p50, p99 = rtts[len(rtts) // 2], rtts[min(len(rtts) - 1, int(len(rtts) * 0.99))]
    # On the loop, these logins held a ping for 0.5 s at the median and several seconds at
    # worst; off it, a loaded shared machine still answers within a few tens of ms.
    assert p50 < 0.1, (p50, p99, len(rtts))
    assert p99 < 0.3, (p50, p99, len(rtts))
