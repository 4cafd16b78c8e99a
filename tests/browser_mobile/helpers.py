"""Driving the officers' app like a phone: sign in, hold the PTT button with a finger
(real touch events through the DevTools protocol), read what the screen says."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page, expect

from tests.browser.helpers import (  # the same Chromium recipe as the console's tests
    downlink_peaks,
    median_loud_frequency,
)
from tests.conftest import LiveServer

#: A mid-range Android phone in portrait.
PHONE: dict[str, Any] = {
    "viewport": {"width": 393, "height": 851}, "device_scale_factor": 2,
    "is_mobile": True, "has_touch": True,
}
#: Alun-alun Kota Probolinggo.
POSITION: Any = {"latitude": -7.7543, "longitude": 113.2159, "accuracy": 8}


async def sign_in(page: Page, server: LiveServer, username: str, *, lang: str = "id",
                  service_worker: bool = False, media: bool = True) -> None:
    """Open /app, sign in through the form, wait for the radio (and its audio)."""
    query = "?audio=raw" + ("" if service_worker else "&sw=off")
    await page.goto(f"{server.http_url}/app/{query}")
    await page.evaluate("lang => localStorage.setItem('siaga.lang', lang)", lang)
    await page.reload()
    await page.fill("#login-username", username)
    await page.fill("#login-password", "demo")
    await page.tap("#login-submit")
    await expect(page.locator("#radio-view")).to_be_visible()
    await expect(page.locator("#conn")).to_have_attribute("data-state", "open")
    if media:
        await expect(page.locator("#conn")).to_have_attribute("data-media", "connected",
                                                              timeout=10_000)


class Finger:
    """A real touch (``Input.dispatchTouchEvent``): the page sees touchstart/pointerdown
    with ``pointerType == "touch"``, held until :meth:`lift`."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.cdp: Any = None

    async def press(self, selector: str) -> None:
        box = await self.page.locator(selector).bounding_box()
        assert box is not None, selector
        self.cdp = self.cdp or await self.page.context.new_cdp_session(self.page)
        point = {"x": box["x"] + box["width"] / 2, "y": box["y"] + box["height"] / 2}
        await self.cdp.send("Input.dispatchTouchEvent",
                            {"type": "touchStart", "touchPoints": [point]})

    async def lift(self) -> None:
        await self.cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


async def body_data(page: Page, key: str) -> str | None:
    value: str | None = await page.evaluate("k => document.body.dataset[k] ?? null", key)
    return value


async def heard_frequency(page: Page, talkgroup: str, readings: int = 7,
                          gap_ms: int = 250) -> float | None:
    """The median frequency of the loud readings of a downlink (None: silence)."""
    return median_loud_frequency(await downlink_peaks(page, talkgroup, readings, gap_ms))
