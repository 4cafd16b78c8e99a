"""The console places officers at their last known positions as soon as it opens
(``GET /api/radio/positions``), greys out the stale ones, and moves them on live
``location`` messages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Page, expect

from kernel.identity import get_user
from ptt.server.store import SqlRadioStore
from tests.browser.helpers import open_console
from tests.conftest import LiveServer
from tests.radio.client import RadioClient

pytestmark = pytest.mark.browser

STALE = re.compile(r"\bstale\b")


async def store_position(server: LiveServer, username: str, lat: float, lon: float,
                         at: datetime) -> int:
    async with server.runtime.sessions() as s:
        user = await get_user(s, username)
    assert user is not None
    store: SqlRadioStore = server.runtime.services["radio_store"]
    store.position(user.id, lat, lon, 10.0, at)
    await store.flush()
    return user.id


async def test_last_known_positions_are_shown_at_once_and_stale_ones_greyed(
    live_server: LiveServer, page: Page,
) -> None:
    now = datetime.now(UTC)
    satpol = await store_position(live_server, "satpol1", -7.7520, 113.2150,
                                  now - timedelta(minutes=20))
    await store_position(live_server, "dishub1", -7.7610, 113.2230, now - timedelta(seconds=30))
    await page.clock.install()  # real time, until the test moves it ahead
    await open_console(page, live_server)

    stale = page.locator('.map-badge.officer[title="SATPOL-01"]')
    fresh = page.locator('.map-badge.officer[title="DISHUB-01"]')
    await expect(stale).to_have_class(STALE)
    await expect(fresh).to_be_visible()
    await expect(fresh).not_to_have_class(STALE)
    tooltip = await page.evaluate(
        "id => window.siaga.map.officers.get(id).marker.getTooltip().getContent().textContent",
        satpol)
    assert "Satpol PP Regu 1" in tooltip and "Posisi terakhir:" in tooltip and "WIB" in tooltip

    await page.click("[role=tab][data-tab=units]")
    rows = page.locator("#units-pane .officers li")
    await expect(rows).to_have_count(2)
    await expect(rows.filter(has_text="SATPOL-01")).to_have_attribute("data-stale", "true")
    await expect(rows.filter(has_text="DISHUB-01")).to_have_attribute("data-stale", "false")

    # A live position replaces the stale one; a fresh one goes grey once it ages.
    officer = await RadioClient.connect(live_server, "satpol1")
    try:
        await officer.send("location", lat=-7.7530, lon=113.2160, accuracy=5.0)
        await expect(stale).not_to_have_class(STALE)
        await expect(rows.filter(has_text="SATPOL-01")).to_have_attribute("data-stale", "false")
        await expect(rows.filter(has_text="SATPOL-01")).to_contain_text("-7.75300")
    finally:
        await officer.close()
    # Six minutes on, the position that was fresh is stale too.
    await page.clock.fast_forward("06:00")
    await expect(fresh).to_have_class(STALE)
    await expect(rows.filter(has_text="DISHUB-01")).to_have_attribute("data-stale", "true")
