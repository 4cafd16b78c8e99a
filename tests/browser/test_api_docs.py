"""``/api/docs`` renders Swagger UI in Chromium from the server's own files: no request
leaves the server and the page breaks no rule of its Content-Security-Policy."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, Request, expect

from tests.browser.test_csp import COLLECT, violations
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser


async def test_the_api_docs_render_offline_under_the_policy(live_server: LiveServer,
                                                            page: Page) -> None:
    requested: list[str] = []

    def seen(request: Request) -> None:
        requested.append(request.url)

    page.on("request", seen)
    await page.add_init_script(COLLECT)
    response = await page.goto(f"{live_server.http_url}/api/docs")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # Swagger UI fetched the OpenAPI document and rendered its operations.
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("Siaga",
                                                                         timeout=15_000)
    await expect(page.locator(".opblock-summary-path", has_text="/api/auth/login")
                 ).to_be_visible()
    assert f"{live_server.http_url}/api/openapi.json" in requested
    foreign = [url for url in requested
               if not url.startswith((f"{live_server.http_url}/", "data:", "blob:"))]
    assert foreign == []
    assert await violations(page) == []
