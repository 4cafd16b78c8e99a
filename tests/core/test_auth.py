"""Login, tokens and throttling, on every database backend."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from pathlib import Path

import httpx
import pytest

import siaga.api
from kernel.db import transaction
from kernel.identity import set_disabled, set_password, verify_password
from tests.conftest import App, make_settings, running_app


async def test_login_returns_a_bearer_token_that_works(app: App) -> None:
    response = await app.client.post("/api/auth/login",
                                     json={"username": "dispatcher1", "password": "demo"})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == app.runtime.settings.token_ttl_seconds
    me = await app.client.get("/api/me",
                              headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["username"] == "dispatcher1"
    assert me.json()["role"] == "dispatcher"
    assert me.json()["agency"] == "psc119"


async def test_wrong_password_and_unknown_user_get_the_same_answer(app: App) -> None:
    wrong = await app.client.post("/api/auth/login",
                                  json={"username": "satpol1", "password": "nope"})
    unknown = await app.client.post("/api/auth/login",
                                    json={"username": "ghost", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {
        "error": {"code": "invalid_credentials", "message": "wrong username or password"}
    }


async def test_malformed_login_is_a_precise_422(app: App) -> None:
    response = await app.client.post("/api/auth/login", json={"username": "satpol1"})
    assert response.status_code == 422
    assert response.json() == {
        "error": {"code": "invalid_request", "message": "password: Field required"}
    }


async def test_failed_logins_are_throttled_per_account(app: App) -> None:
    limit = app.runtime.settings.login_max_failures
    for _ in range(limit):
        r = await app.client.post("/api/auth/login",
                                  json={"username": "satpol2", "password": "bad"})
        assert r.status_code == 401
    blocked = await app.client.post("/api/auth/login",
                                    json={"username": "satpol2", "password": "demo"})
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "too_many_attempts"
    assert int(blocked.headers["Retry-After"]) > 0
    # After the window the right password works again.
    start = app.runtime.now()
    app.runtime.clock = lambda: start + app.runtime.settings.login_window_seconds + 1
    ok = await app.client.post("/api/auth/login",
                               json={"username": "satpol2", "password": "demo"})
    assert ok.status_code == 200


async def test_expired_token_is_refused(app: App) -> None:
    headers = await app.login("satpol1")
    start = app.runtime.now()
    app.runtime.clock = lambda: start + app.runtime.settings.token_ttl_seconds + 1
    response = await app.client.get("/api/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"


async def test_tampered_and_missing_tokens_are_refused(app: App) -> None:
    headers = await app.login("satpol1")
    token = headers["Authorization"].removeprefix("Bearer ")
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    r = await app.client.get("/api/me", headers={"Authorization": f"Bearer {tampered}"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "token_invalid"
    r = await app.client.get("/api/me")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"


async def test_password_change_and_disable_revoke_existing_tokens(app: App) -> None:
    headers = await app.login("dishub1")
    async with transaction(app.runtime.sessions) as s:
        await set_password(s, "dishub1", "new-password")
    r = await app.client.get("/api/me", headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "token revoked; log in again"

    headers = await app.login("dishub1", "new-password")
    async with transaction(app.runtime.sessions) as s:
        await set_disabled(s, "dishub1")
    assert (await app.client.get("/api/me", headers=headers)).status_code == 401
    r = await app.client.post("/api/auth/login",
                              json={"username": "dishub1", "password": "new-password"})
    assert r.status_code == 401


# -- throttling under concurrency, from several addresses ---------------------------------


def client_at(app: App, address: str) -> httpx.AsyncClient:
    """A client of the same app whose connection comes from ``address``."""
    transport = httpx.ASGITransport(app=app.client._transport.app,  # type: ignore[attr-defined]
                                    client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://siaga.test")


def count_verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []

    def counting(user: object, password: str) -> bool:
        seen.append(password)
        return verify_password(user, password)  # type: ignore[arg-type]

    monkeypatch.setattr(siaga.api, "verify_password", counting)
    return seen


async def test_concurrent_wrong_guesses_cannot_exceed_the_limit(
        app: App, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    limit = app.runtime.settings.login_max_failures
    verified = count_verifications(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="siaga.auth"):
        answers = await asyncio.gather(*(
            app.client.post("/api/auth/login", json={"username": "satpol2", "password": "bad"})
            for _ in range(20)))
    codes = sorted(r.status_code for r in answers)
    assert len(verified) <= limit
    assert codes.count(401) == len(verified)
    assert codes.count(429) == 20 - len(verified)
    throttled = [r for r in caplog.records
                 if r.name == "siaga.auth" and r.getMessage() == "login throttled"]
    assert len(throttled) == codes.count(429)
    assert {(r.username, r.address, r.scope) for r in throttled} == {  # type: ignore[attr-defined]
        ("satpol2", "127.0.0.1", "account_address")}


async def test_guesses_from_one_address_do_not_lock_the_account_elsewhere(
        app: App, caplog: pytest.LogCaptureFixture) -> None:
    limit = app.runtime.settings.login_max_failures
    async with client_at(app, "10.9.0.66") as attacker, client_at(app, "10.1.0.5") as console:
        for _ in range(limit):
            r = await attacker.post("/api/auth/login",
                                    json={"username": "dispatcher1", "password": "guess"})
            assert r.status_code == 401
        r = await attacker.post("/api/auth/login",
                                json={"username": "dispatcher1", "password": "demo"})
        assert r.status_code == 429
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="siaga.auth"):
            ok = await console.post("/api/auth/login",
                                    json={"username": "dispatcher1", "password": "demo"})
    assert ok.status_code == 200, ok.text
    # The account was under attack: the real user's login was slowed, not refused.
    audit = [r for r in caplog.records if r.name == "siaga.auth"]
    assert [r.getMessage() for r in audit] == ["login slowed"]
    assert audit[0].address == "10.1.0.5"  # type: ignore[attr-defined]


async def test_forwarded_for_counts_only_from_a_trusted_proxy(
        database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path, login_max_failures=1,
                             forwarded_allow_ips=["10.0.0.1"])
    async with running_app(settings) as a:
        async with client_at(a, "10.0.0.1") as proxy, client_at(a, "10.0.0.9") as peer:
            def login(client: httpx.AsyncClient, forwarded: str) -> Awaitable[httpx.Response]:
                return client.post("/api/auth/login",
                                   json={"username": "satpol1", "password": "bad"},
                                   headers={"X-Forwarded-For": forwarded})

            assert (await login(proxy, "203.0.113.7")).status_code == 401
            assert (await login(proxy, "203.0.113.7")).status_code == 429
            # Another client behind the same proxy has its own budget.
            assert (await login(proxy, "203.0.113.8")).status_code == 401
            # A peer that is not a trusted proxy cannot pick its address by header.
            assert (await login(peer, "203.0.113.9")).status_code == 401
            assert (await login(peer, "203.0.113.10")).status_code == 429
