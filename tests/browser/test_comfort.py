"""Comfort on a long shift, at a 1366×768 screen: no text under 12 px, the sign-in field
focused on load, a skip link to the talk control, and Enter as well as Space holding
push-to-talk on the focused control."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import LaunchBrowser
from tests.browser.helpers import open_console
from tests.conftest import LiveServer
from tests.radio.client import RadioClient

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1366, "height": 768}

#: Every visible element that holds text of its own, with its computed font size (px).
TEXT_SIZES = """() => [...document.querySelectorAll('body *')].filter((el) => {
  const box = el.getBoundingClientRect();
  const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  return own && box.width > 0 && box.height > 0 && getComputedStyle(el).visibility !== 'hidden';
}).map((el) => [el.tagName + (el.className ? '.' + String(el.className).split(' ')[0] : ''),
                el.textContent.trim().slice(0, 30), parseFloat(getComputedStyle(el).fontSize)])"""


async def test_the_sign_in_field_is_focused_on_load(live_server: LiveServer,
                                                    launch: LaunchBrowser) -> None:
    page = await (await launch()).new_page(viewport=LAPTOP)
    await page.goto(live_server.http_url)
    await expect(page.locator("#login-username")).to_be_focused()
    small = [t for t in await page.evaluate(TEXT_SIZES) if t[2] < 12]
    assert small == [], small


async def test_no_console_text_is_smaller_than_12_px(live_server: LiveServer,
                                                    launch: LaunchBrowser) -> None:
    page = await (await launch()).new_page(viewport=LAPTOP)
    await open_console(page, live_server)
    officer = await RadioClient.connect(live_server, "satpol1")
    try:  # something in every panel: an emergency, a radio alert, a talker
        await officer.send("join", talkgroup="satpolpp")
        await officer.expect("joined")
        await officer.send("emergency_raise", lat=-7.7543, lon=113.2159)
        await expect(page.locator(".alert.emergency")).to_be_visible()
        await expect(page.locator("#incident-board .radio-alerts li")).to_be_visible()
        for tab in ("incident", "units", "hospitals", "messages"):
            await page.click(f'[role=tab][data-tab="{tab}"]')
            small = [t for t in await page.evaluate(TEXT_SIZES) if t[2] < 12]
            assert small == [], (tab, small)
    finally:
        await officer.close()


async def test_the_skip_link_reaches_the_talk_control_and_enter_holds_it(
    live_server: LiveServer, launch: LaunchBrowser,
) -> None:
    page = await (await launch()).new_page(viewport=LAPTOP)
    await open_console(page, live_server)
    officer = await RadioClient.connect(live_server, "satpol1")
    try:
        await officer.send("join", talkgroup="satpolpp")
        await officer.expect("joined")
        await page.evaluate("siaga.radio.select('satpolpp')")  # no click: keyboard only
        await expect(page.locator("#ptt-target")).to_have_text("Satpol PP")
        await expect(page.locator("#ptt")).to_be_enabled()
        await page.keyboard.press("Tab")  # the first stop of the console is the skip link
        skip = page.locator("#skip-to-ptt")
        await expect(skip).to_be_focused()
        await expect(skip).to_have_text("Langsung ke tombol bicara")
        assert (await skip.bounding_box() or {}).get("y", -1) >= 0  # shown while focused
        await page.keyboard.press("Enter")
        ptt = page.locator("#ptt")
        await expect(ptt).to_be_focused()
        await page.keyboard.down("Enter")
        await expect(ptt).to_have_attribute("data-state", "talking")
        taken = await officer.expect("floor_taken", talkgroup="satpolpp")
        assert taken["talker"]["username"] == "dispatcher1"
        await page.keyboard.up("Enter")
        await expect(ptt).to_have_attribute("data-state", "idle")
        await officer.expect("floor_idle")
    finally:
        await officer.close()
