"""The officers' app runs under its Content-Security-Policy: signing in, the radio and its
audio connecting and the service worker installing break no rule of it (violations are
collected by the page from its first script on; tests/browser/test_csp.py shows the
collection catching a refused inline script)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.test_csp import COLLECT
from tests.browser_mobile.conftest import Phone
from tests.browser_mobile.helpers import sign_in
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser


async def test_the_officers_app_breaks_no_rule_of_its_policy(live_server: LiveServer,
                                                             phone: Phone) -> None:
    context = await phone()
    page = await context.new_page()
    await page.add_init_script(COLLECT)
    await sign_in(page, live_server, "satpol1", service_worker=True)
    found: list[Any] = await page.evaluate("window.__csp")
    assert found == []
