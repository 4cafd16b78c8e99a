"""Login, tokens and throttling, on every database backend."""

from __future__ import annotations

from kernel.db import transaction
from kernel.identity import set_disabled, set_password
from tests.conftest import App


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
