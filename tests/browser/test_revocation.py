"""A console whose account is disabled while it is open goes back to the login at once
(close code 4004 on the radio socket and the dispatch stream), saying why, in Indonesian."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from kernel.identity import set_disabled
from tests.browser.helpers import open_console
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser


async def test_a_disabled_dispatcher_is_sent_back_to_the_login(live_server: LiveServer,
                                                               page: Page) -> None:
    await open_console(page, live_server)
    async with live_server.runtime.sessions() as s, s.begin():
        await set_disabled(s, "dispatcher1")
    await expect(page.locator("#login-username")).to_be_visible(timeout=10_000)
    await expect(page.locator("#console-view")).to_be_hidden()
    await expect(page.get_by_text("Sesi berakhir. Silakan masuk kembali.")).to_be_visible()
