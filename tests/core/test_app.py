"""Operational endpoints and the shape of every answer."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import App, make_settings, running_app


async def test_health_readiness_and_metrics(sqlite_app: App) -> None:
    client = sqlite_app.client
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}
    await client.post("/api/auth/login", json={"username": "x", "password": "y"})
    metrics = (await client.get("/metrics")).text
    assert 'siaga_logins_total{outcome="failed"} 1.0' in metrics
    assert "siaga_http_requests_total" in metrics


async def test_readiness_fails_when_the_database_is_gone(sqlite_app: App) -> None:
    await sqlite_app.runtime.engine.dispose()
    sqlite_app.runtime.engine.url  # noqa: B018 - the engine stays, its file goes
    import os

    os.remove(sqlite_app.runtime.engine.url.database or "")
    os.makedirs(sqlite_app.runtime.engine.url.database or "", exist_ok=True)  # not a file now
    response = await sqlite_app.client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "database_unavailable"


async def test_openapi_is_published_under_api(sqlite_app: App) -> None:
    spec = (await sqlite_app.client.get("/api/openapi.json")).json()
    assert spec["info"]["title"] == "Siaga"
    assert "/api/auth/login" in spec["paths"]


async def test_unknown_route_uses_the_error_shape_and_request_ids_round_trip(
    sqlite_app: App,
) -> None:
    response = await sqlite_app.client.get("/api/nope", headers={"X-Request-ID": "abc123"})
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not Found"}}
    assert response.headers["x-request-id"] == "abc123"
    generated = await sqlite_app.client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 16


async def test_console_is_served_at_the_root(sqlite_app: App) -> None:
    response = await sqlite_app.client.get("/")
    assert response.status_code == 200
    assert "<title>Siaga</title>" in response.text


async def test_shared_code_is_served_to_the_console_and_the_app(sqlite_app: App) -> None:
    """Both screens import webui/shared/ by URL: the console's /js/ and the app's /app/js/
    reach the same /shared/ files, served as JavaScript."""
    client = sqlite_app.client
    for name in ("i18n", "fmt", "dom", "radio", "tones"):
        response = await client.get(f"/shared/{name}.js")
        assert response.status_code == 200, name
        assert "javascript" in response.headers["content-type"], name
    app_i18n = (await client.get("/app/js/i18n.js")).text
    assert '"../../shared/i18n.js"' in app_i18n
    console_i18n = (await client.get("/js/i18n.js")).text
    assert '"../shared/i18n.js"' in console_i18n


async def test_metrics_are_for_this_machine_unless_a_token_is_set(
        sqlite_url: str, tmp_path: Path) -> None:
    async with running_app(make_settings(sqlite_url, tmp_path)) as a:
        remote = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=a.asgi, client=("198.51.100.7", 4000)),
            base_url="http://siaga.test")
        async with remote:
            refused = await remote.get("/metrics")
        assert refused.status_code == 403
        assert (await a.client.get("/metrics")).status_code == 200
    async with running_app(make_settings(sqlite_url, tmp_path, metrics_token="scrape-me"),
                           demo=False) as a:
        assert (await a.client.get("/metrics")).status_code == 401
        wrong = await a.client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        ok = await a.client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert ok.status_code == 200 and "siaga_http_requests_total" in ok.text
