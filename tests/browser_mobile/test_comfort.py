"""The officers' app in words and keys: the sign-in field focused on load, Enter holding the
focused talk button, and nothing in English on the Indonesian screen when the radio is not
connected."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser_mobile.conftest import Phone
from tests.browser_mobile.helpers import sign_in
from tests.conftest import LiveServer
from tests.radio.client import RadioClient as Dispatcher

pytestmark = [pytest.mark.browser]


async def test_the_sign_in_field_is_focused_on_load(live_server: LiveServer,
                                                    phone: Phone) -> None:
    page = await (await phone()).new_page()
    await page.goto(f"{live_server.http_url}/app/?sw=off")
    await expect(page.locator("#login-username")).to_be_focused()


async def test_enter_holds_the_focused_talk_button(live_server: LiveServer,
                                                   phone: Phone) -> None:
    page = await (await phone()).new_page()
    await sign_in(page, live_server, "satpol1")
    dispatcher = await Dispatcher.connect(live_server, "dispatcher1")
    try:
        await dispatcher.send("join", talkgroup="satpolpp")
        await dispatcher.expect("joined")
        await page.locator('#talkgroups li[data-talkgroup="satpolpp"] .tg-name').tap()
        await expect(page.locator('#talkgroups li[data-talkgroup="satpolpp"]')
                     ).to_have_attribute("data-selected", "true")
        await page.focus("#ptt")
        await page.keyboard.down("Enter")
        await expect(page.locator("#ptt")).to_have_attribute("data-state", "talking")
        taken = await dispatcher.expect("floor_taken", talkgroup="satpolpp")
        assert taken["talker"]["username"] == "satpol1"
        await page.keyboard.up("Enter")
        await expect(page.locator("#ptt")).to_have_attribute("data-state", "idle")
        await dispatcher.expect("floor_idle")
    finally:
        await dispatcher.close()


async def test_without_a_connection_the_indonesian_screen_stays_indonesian(
    live_server: LiveServer, phone: Phone,
) -> None:
    context = await phone()
    page = await context.new_page()
    await sign_in(page, live_server, "satpol1", media=False)
    await context.set_offline(True)
    await expect(page.locator("#conn")).not_to_have_attribute("data-state", "open")
    await page.locator('#talkgroups li[data-talkgroup="gabungan"] .tg-name').tap()
    toast = page.locator("#toast")
    await expect(toast).to_have_text("radio tidak tersambung")
    await page.tap("#menu-button")
    await page.locator("#menu .lang-toggle").tap()  # and in English, English
    await page.locator('#talkgroups li[data-talkgroup="gabungan"] .tg-name').tap()
    await expect(toast).to_have_text("the radio is not connected")
