"""Exactly-once dispatch SMS across kill -9: a real ``siaga serve`` process is killed at
seeded-random moments around its sends, restarted, and finally left to finish; every
crew phone of every assignment must have been sent its dispatch SMS exactly once.

Counted at the gateway: the console gateway's journal (its "provider", one line per send,
docs/sms-gateway.md), and for the HTTP gateway a local server that counts the requests per
``Idempotency-Key`` and de-duplicates on it as the protocol asks. Bounded: a few rounds,
each wait with a deadline."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from tests.dispatch_api.console import CALL
from tests.polling import until
from tests.processes import ServerProcess, base_env, run
from tests.sms.counting_gateway import CountingGateway

ROUNDS = 6


async def dispatch_one(http: httpx.AsyncClient, url: str, token: str,
                       rng: random.Random) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    units = (await http.get(f"{url}/api/units", headers=auth)).json()
    free = [u for u in units if u["crew_phones"] and u["status"] == "available"]
    assert free, "no available unit with a crew phone"
    incident = (await http.post(f"{url}/api/incidents", json=CALL, headers=auth)).json()
    r = await http.post(f"{url}/api/incidents/{incident['id']}/assignments",
                        json={"unit_id": rng.choice(free)["id"]}, headers=auth)
    assert r.status_code == 201, r.text


async def crash_loop(tmp_path: Path, env: dict[str, str],
                     sent: Any, expected: Any) -> tuple[int, int]:
    """Dispatch, kill -9 at a seeded-random moment, again; then a clean run. Returns
    (sends, duplicates)."""
    rng = random.Random(7001)
    server = ServerProcess(env)
    async with httpx.AsyncClient(timeout=30) as http:
        for _ in range(ROUNDS):
            await server.start(http)
            login = await http.post(f"{server.url}/api/auth/login",
                                    json={"username": "dispatcher1", "password": "demo"})
            token = login.json()["access_token"]
            before = sum(sent().values())
            await dispatch_one(http, server.url, token, rng)
            if rng.random() < 0.5:  # after the send: between it and its bookkeeping, or later
                await until(lambda b=before: sum(sent().values()) > b, "a send", timeout=30)
                for _ in range(rng.randrange(3)):
                    await asyncio.sleep(0)
            await server.kill()
        await server.start(http)  # the last run finishes what the crashes left
        keys = await expected(server)
        await until(lambda: set(keys) <= set(sent()), "every dispatch to be sent", timeout=60)
        await server.stop()
    counts = sent()
    return sum(counts.values()), sum(n - 1 for n in counts.values() if n > 1)


async def dispatch_keys(tmp_path: Path) -> list[str]:
    import aiosqlite
    async with aiosqlite.connect(tmp_path / "siaga.db") as db:
        rows = await db.execute_fetchall(
            "SELECT dedup_key FROM sms_messages WHERE kind = 'dispatch'")
    return [r[0] for r in rows]


def sqlite_env(tmp_path: Path) -> dict[str, str]:
    return base_env(data_dir=str(tmp_path / "var"),
                    database_url=f"sqlite+aiosqlite:///{tmp_path / 'siaga.db'}")


async def test_console_gateway_sends_each_dispatch_once(tmp_path: Path) -> None:
    env = sqlite_env(tmp_path)
    await run(env, "db", "upgrade")
    await run(env, "demo", "load")
    journal = tmp_path / "var" / "sms-console.jsonl"

    def sent() -> Counter[str]:
        if not journal.exists():
            return Counter()
        lines = journal.read_text().splitlines()
        return Counter(json.loads(line)["dedup_key"] for line in lines if line.strip())

    async def expected(server: ServerProcess) -> list[str]:
        return await dispatch_keys(tmp_path)

    sends, duplicates = await crash_loop(tmp_path, env, sent, expected)
    print(f"console gateway: {sends} sends, {duplicates} duplicates")
    assert sends >= ROUNDS and duplicates == 0


async def test_http_gateway_sends_each_dispatch_once(
        tmp_path: Path, counting_gateway: tuple[CountingGateway, str]) -> None:
    gateway, url = counting_gateway
    env = sqlite_env(tmp_path)
    env.update(SIAGA_SMS_GATEWAY="http", SIAGA_HTTP_GATEWAY_URL=url,
               SIAGA_HTTP_GATEWAY_SECRET="s" * 32)
    await run(env, "db", "upgrade")
    await run(env, "demo", "load")

    def sent() -> Counter[str]:
        return Counter({k: 1 for k in gateway.sent})  # what the gateway actually sent

    async def expected(server: ServerProcess) -> list[str]:
        return await dispatch_keys(tmp_path)

    sends, duplicates = await crash_loop(tmp_path, env, sent, expected)
    requests = sum(gateway.requests.values())
    print(f"http gateway: {sends} sends, {duplicates} duplicates, {requests} requests")
    assert sends >= ROUNDS and duplicates == 0
    assert all(n >= 1 for n in gateway.requests.values())
