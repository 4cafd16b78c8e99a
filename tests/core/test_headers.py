"""Every page and API answer carries the browser protections; the status page keeps its own
stricter policy; the tile server's origin is the only foreign source of images."""

from __future__ import annotations

import pytest

from siaga.headers import content_security_policy, tile_origin
from tests.conftest import App


@pytest.mark.parametrize("path", ["/", "/app/", "/api/me", "/healthz", "/shared/i18n.js",
                                  "/api/docs", "/api/docs/init.js",
                                  "/api/docs/static/swagger-ui-bundle.js"])
async def test_pages_and_api_answers_are_protected(sqlite_app: App, path: str) -> None:
    response = await sqlite_app.client.get(path, follow_redirects=True)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy


async def test_the_api_docs_page_loads_only_our_own_files(sqlite_app: App) -> None:
    response = await sqlite_app.client.get("/api/docs")
    assert response.status_code == 200
    assert response.headers["x-frame-options"] == "DENY"
    assert "<script>" not in response.text and "//" not in response.text.replace("://", "")
    assert "cdn" not in response.text.lower()
    for asset in ("/api/docs/static/swagger-ui.css", "/api/docs/static/swagger-ui-bundle.js",
                  "/api/docs/init.js"):
        assert asset in response.text
        assert (await sqlite_app.client.get(asset)).status_code == 200


def test_tile_servers_are_allowed_by_origin_only() -> None:
    assert tile_origin("https://{s}.tile.example.org/{z}/{x}/{y}.png") == (
        "https://*.tile.example.org")
    assert tile_origin("http://10.1.2.3:8081/tiles/{z}/{x}/{y}.png") == "http://10.1.2.3:8081"
    assert tile_origin("https://tiles-{region}.example/{z}/{x}/{y}.png") == "https:"
    assert tile_origin("/tiles/{z}/{x}/{y}.png") == ""
    assert tile_origin(None) == ""
    assert "img-src 'self' data: blob: https://t.example;" in content_security_policy(
        "https://t.example/{z}/{x}/{y}.png")
    assert "img-src 'self' data: blob:;" in content_security_policy(None)
