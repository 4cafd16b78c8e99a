"""The console runs under its Content-Security-Policy: signing in,
the radio connecting with its audio and the map break no rule of it.

A violation is reported to the page as a ``securitypolicyviolation`` event; the pages
collect those from the first script on, and the test asserts there were none (and that the
collection works, with one deliberate violation)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.helpers import open_console
from tests.conftest import LiveServer
from tests.polling import until

pytestmark = pytest.mark.browser

COLLECT = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  e => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


async def violations(page: Page) -> list[Any]:
    found: list[Any] = await page.evaluate("window.__csp")
    return found


async def test_the_console_breaks_no_rule_of_its_policy(live_server: LiveServer,
                                                        page: Page) -> None:
    await page.add_init_script(COLLECT)
    await open_console(page, live_server)
    await expect(page.locator("#conn-audio")).to_have_attribute("data-state", "connected",
                                                                timeout=10_000)
    assert await violations(page) == []
    # The collection itself works: an inline script is refused and reported.
    await page.evaluate("""() => { const s = document.createElement("script");
        s.textContent = "window.__ran = true"; document.body.append(s); }""")
    reported = await until(lambda: violations(page), "the refused inline script reported")
    assert len(reported) == 1 and reported[0].startswith("script-src"), reported
    assert await page.evaluate("window.__ran === undefined")
