"""The console's radio panel through a long shift: a dozen groups on a 1366×768 screen
(rows fold, the list scrolls, the talk control stays on screen), and an incident's group
leaving the panel when its incident ends."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import LaunchBrowser
from tests.browser.helpers import open_console
from tests.conftest import LiveServer
from tests.dispatch_api.console import incident_with_unit

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1366, "height": 768}


async def api_as_dispatcher(server: LiveServer) -> httpx.AsyncClient:
    token = await server.login("dispatcher1")
    return httpx.AsyncClient(base_url=server.http_url,
                             headers={"Authorization": f"Bearer {token}"})


async def assert_talk_control_on_screen(page: Page) -> None:
    """The talk button is inside the window and nothing covers its centre."""
    box = await page.locator("#ptt").bounding_box()
    assert box is not None
    assert box["y"] >= 0 and box["y"] + box["height"] <= LAPTOP["height"], box
    on_top = await page.evaluate(
        "([x, y]) => document.getElementById('ptt').contains(document.elementFromPoint(x, y))",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
    assert on_top


async def laptop_console(server: LiveServer, launch: LaunchBrowser) -> Page:
    page = await (await launch()).new_page(viewport=LAPTOP)
    await open_console(page, server)
    return page


async def test_twelve_groups_fold_and_scroll_and_the_talk_control_stays_visible(
    live_server: LiveServer, launch: LaunchBrowser,
) -> None:
    page = await laptop_console(live_server, launch)
    async with await api_as_dispatcher(live_server) as api:
        for n in range(1, 9):
            created = await api.post("/api/talkgroups", json={
                "name": f"Operasi {n}", "code": f"operasi-{n}", "members": ["dispatcher1"]})
            assert created.status_code == 201, created.text
    rows = page.locator("#talkgroups li.tg")
    await expect(rows).to_have_count(12)
    await assert_talk_control_on_screen(page)
    scroll = page.locator("#radio-panel .tg-scroll")
    assert await scroll.evaluate("el => el.scrollHeight > el.clientHeight")

    # With this many groups, rows start folded (the selected one open); each unfolds.
    await page.click("li.tg[data-tg=satpolpp] .tg-name")
    satpol = page.locator("li.tg[data-tg=satpolpp]")
    await expect(satpol).to_have_attribute("data-open", "true")
    last = page.locator("li.tg[data-tg=operasi-8]")
    await expect(last).to_have_attribute("data-open", "false")
    await expect(last.locator(".tg-volume")).to_be_hidden()
    toggle = last.locator(".tg-toggle")
    await expect(toggle).to_have_attribute("aria-label", "Buka Operasi 8")
    await toggle.click()  # scrolled into view inside the list, not the page
    await expect(last).to_have_attribute("data-open", "true")
    await expect(last.locator(".tg-volume")).to_be_visible()
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    await assert_talk_control_on_screen(page)
    await page.reload()  # the choice is kept
    await expect(page.locator("#conn-radio")).to_have_attribute("data-state", "open")
    await expect(last).to_have_attribute("data-open", "true")
    await assert_talk_control_on_screen(page)


async def test_an_incidents_group_leaves_the_panel_when_the_incident_ends(
    live_server: LiveServer, launch: LaunchBrowser,
) -> None:
    page = await laptop_console(live_server, launch)
    async with await api_as_dispatcher(live_server) as api:
        incident, _ = await incident_with_unit(api)
        code = incident["number"].lower()
        row = page.locator(f"li.tg[data-tg={code}]")
        await expect(row.locator(".tg-name")).to_have_text(f"Insiden {incident['number']}")
        cancelled = await api.post(f"/api/incidents/{incident['id']}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        await expect(row).to_have_count(0)
        await expect(page.locator("#talkgroups li.tg")).to_have_count(4)
