"""Request bodies are capped before they are read: 413 in the API's error shape, the data
unchanged, and the connection (and server) still serving."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import App, make_settings, running_app

LIMIT = 4096


@pytest.fixture
async def capped(sqlite_url: str, tmp_path: Path) -> AsyncIterator[App]:
    async with running_app(make_settings(sqlite_url, tmp_path, max_body_bytes=LIMIT)) as a:
        yield a


async def test_a_declared_length_over_the_cap_is_refused_before_reading(capped: App) -> None:
    body = b'{"username": "' + b"x" * (2 * LIMIT) + b'", "password": "demo"}'
    response = await capped.client.post("/api/auth/login", content=body,
                                        headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


async def test_a_chunked_body_is_cut_off_at_the_cap(capped: App) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"username": "'
        for _ in range(8):
            yield b"x" * 1024
        yield b'", "password": "demo"}'

    response = await capped.client.post("/api/auth/login", content=chunks(),
                                        headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


async def test_a_malformed_length_is_a_bad_request(capped: App) -> None:
    request = capped.client.build_request("POST", "/api/auth/login", content=b"{}",
                                          headers={"content-type": "application/json"})
    request.headers["content-length"] = "12abc"
    response = await capped.client.send(request)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


async def test_bodies_under_the_cap_are_served_as_before(capped: App) -> None:
    assert (await capped.login("dispatcher1"))["Authorization"].startswith("Bearer ")


async def test_the_server_keeps_serving_after_a_refusal(live_server) -> None:
    async with httpx.AsyncClient(base_url=live_server.http_url) as client:
        big = await client.post("/api/auth/login", content=b"x" * (2 * 1024 * 1024),
                                headers={"content-type": "application/json"})
        assert big.status_code == 413
        ok = await client.post("/api/auth/login",
                               json={"username": "dispatcher1", "password": "demo"})
        assert ok.status_code == 200
