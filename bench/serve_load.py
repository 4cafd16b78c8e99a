"""Background load on a running ``siaga serve``: logins and authenticated API requests at
fixed rates, in a process of its own (``bench_serve`` starts it for its loaded phase).

Open loop: each request starts on its schedule whether or not the previous ones have been
answered, as independent users would send them; a server that stalls therefore has
requests piling up, not a load generator that politely waits.

Run: ``python -m bench.serve_load URL --logins 5 --requests 20``. It logs in a dispatcher
(for the GETs), prints ``READY`` and runs until its standard input closes or says
``stop``; then it prints one JSON line: answers per kind and status, and the latency of each
kind (p50/p99/max, seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from typing import Any

from bench.bench_webrtc import percentile

#: Demo accounts (password ``demo``) taking turns to log in.
LOGIN_USERS = ("admin", "dispatcher1", "satpol1", "satpol2", "dishub1", "dishub2")
#: The authenticated GETs, taken in turn: what a console reads, and an interval report.
GETS = ("/api/talkgroups", "/api/incidents", "/api/units", "/api/reports/intervals")


class Load:
    def __init__(self, http: Any, token: str) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"}
        self.statuses: Counter[str] = Counter()
        self.latencies: dict[str, list[float]] = {"login": [], "get": []}
        self.pending: set[asyncio.Task[None]] = set()

    async def _one(self, kind: str, method: str, path: str, **kwargs: Any) -> None:
        started = time.perf_counter()
        try:
            r = await self.http.request(method, path, **kwargs)
            status = str(r.status_code)
        except Exception as exc:  # counted, never raised: the load goes on
            status = type(exc).__name__
        self.statuses[f"{kind} {status}"] += 1
        self.latencies[kind].append(time.perf_counter() - started)

    def fire(self, kind: str, method: str, path: str, **kwargs: Any) -> None:
        task = asyncio.create_task(self._one(kind, method, path, **kwargs))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def run(self, logins: float, requests: float, stop: asyncio.Event) -> None:
        """Fire logins and GETs at their rates (per second) until ``stop``."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        schedule = [(start, "login"), (start + 0.5 / requests, "get")]
        n_login = n_get = 0
        while not stop.is_set():
            schedule.sort()
            when, kind = schedule.pop(0)
            if when > loop.time():
                try:
                    await asyncio.wait_for(stop.wait(), when - loop.time())
                    break
                except TimeoutError:
                    pass
            if kind == "login":
                user = LOGIN_USERS[n_login % len(LOGIN_USERS)]
                self.fire("login", "POST", "/api/auth/login",
                          json={"username": user, "password": "demo"})
                n_login += 1
                schedule.append((start + n_login / logins, "login"))
            else:
                self.fire("get", "GET", GETS[n_get % len(GETS)], headers=self.headers)
                n_get += 1
                schedule.append((start + (n_get + 0.5) / requests, "get"))
        if self.pending:
            await asyncio.wait(set(self.pending), timeout=30)

    def summary(self) -> dict[str, Any]:
        return {"statuses": dict(self.statuses),
                "latency": {k: [percentile(v, 0.5), percentile(v, 0.99), max(v, default=0.0)]
                            for k, v in self.latencies.items()}}


async def _stdin_closed(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line or line.strip() == "stop":
            stop.set()
            return


async def main_async(url: str, logins: float, requests: float) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=60,
                                 limits=httpx.Limits(max_connections=200)) as http:
        r = await http.post("/api/auth/login",
                            json={"username": "dispatcher1", "password": "demo"})
        r.raise_for_status()
        load = Load(http, str(r.json()["access_token"]))
        stop = asyncio.Event()
        watcher = asyncio.create_task(_stdin_closed(stop))
        print("READY", flush=True)
        await load.run(logins, requests, stop)
        await watcher
        print(json.dumps(load.summary()), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("url")
    parser.add_argument("--logins", type=float, default=5.0, help="logins per second")
    parser.add_argument("--requests", type=float, default=20.0, help="GETs per second")
    args = parser.parse_args(argv)
    asyncio.run(main_async(args.url, args.logins, args.requests))
    return 0


if __name__ == "__main__":
    sys.exit(main())
