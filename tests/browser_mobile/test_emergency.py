"""The emergency button on a phone: a deliberate hold starts a 5-second countdown that can
be cancelled; when it runs out, the dispatcher is alerted with the officer's position and
the officer's microphone is open on the talkgroup."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser_mobile.conftest import Phone
from tests.browser_mobile.helpers import POSITION, Finger, body_data, sign_in
from tests.conftest import LiveServer
from tests.radio.client import RadioClient as Dispatcher

pytestmark = [pytest.mark.browser, pytest.mark.media]


async def test_a_cancelled_countdown_sends_nothing(live_server: LiveServer, phone: Phone) -> None:
    page = await (await phone()).new_page()
    await page.clock.install()
    await sign_in(page, live_server, "satpol1", media=False)
    dispatcher = await Dispatcher.connect(live_server, "dispatcher1")
    try:
        # The page's time stands still from here; the test runs it (hold 0.8 s, 5 s count).
        await page.clock.pause_at(await page.evaluate("Date.now()") + 1000)
        await page.clock.run_for(5000)  # a toast of the sign-in is gone: it would take a touch
        await expect(page.locator("#toast")).to_be_hidden()
        finger = Finger(page)
        overlay = page.locator("#sos-overlay")
        await finger.press("#sos")
        await page.clock.run_for(200)
        await finger.lift()  # a brush against the button is not an emergency
        await page.clock.run_for(1000)
        await expect(overlay).to_be_hidden()
        assert await body_data(page, "sos") in (None, "idle")

        await finger.press("#sos")
        await page.clock.run_for(800)
        await expect(overlay).to_have_attribute("data-phase", "countdown")
        await finger.lift()
        await page.clock.run_for(1000)
        await expect(page.locator("#sos-count")).to_have_text("4")  # counting down
        await page.tap("#sos-cancel")
        await expect(overlay).to_be_hidden()
        assert await body_data(page, "sosResult") == "cancelled"
        await page.clock.run_for(6000)  # well past the end of the countdown
        # What proves that nothing went out: a position the phone sends now on its socket
        # reaches the dispatcher, and no emergency came before it (the server handles a
        # socket's messages in order and writes the dispatcher's in the order it makes them).
        await page.evaluate("siagaRadio.sendLocation(-7.7601, 113.2202, 5)")
        await dispatcher.expect("location", lat=-7.7601, lon=113.2202)
        assert [m for m in dispatcher.seen if m.get("type") == "emergency_raised"] == []
    finally:
        await dispatcher.close()


async def test_the_emergency_reaches_the_dispatcher_with_the_position(
    live_server: LiveServer, phone: Phone,
) -> None:
    page = await (await phone()).new_page()
    await sign_in(page, live_server, "satpol1")
    await page.tap("#duty")  # off duty: the only position sent is the emergency's own
    await expect(page.locator("#duty")).to_have_attribute("aria-pressed", "false")
    dispatcher = await Dispatcher.connect(live_server, "dispatcher1")
    try:
        await dispatcher.send("join", talkgroup="satpolpp")
        await dispatcher.expect("joined", talkgroup="satpolpp")
        finger = Finger(page)
        await finger.press("#sos")
        await expect(page.locator("#sos-overlay")).to_have_attribute("data-phase", "countdown")
        await finger.lift()
        raised = await dispatcher.expect("emergency_raised", timeout=9)
        assert raised["talkgroup"] == "satpolpp"
        assert raised["raised_by"]["username"] == "satpol1"
        await dispatcher.expect("emergency_alert", talkgroup="satpolpp")
        where = await dispatcher.expect("location")
        assert where["user"]["username"] == "satpol1"
        assert (where["lat"], where["lon"]) == (POSITION["latitude"], POSITION["longitude"])

        # The microphone is open on an emergency call.
        taken = await dispatcher.expect("floor_taken", talkgroup="satpolpp")
        assert taken["call_type"] == "emergency" and taken["talker"]["username"] == "satpol1"
        await expect(page.locator("#sos-overlay")).to_have_attribute("data-phase", "active")
        await expect(page.locator("#ptt")).to_have_attribute("data-state", "talking")
        await page.tap("#sos-cancel")  # "Selesai": end the open microphone early
        await expect(page.locator("#ptt")).to_have_attribute("data-state", "idle")
        await dispatcher.expect("floor_idle")
        assert await body_data(page, "sosResult") == "raised"
        await expect(page.locator("#emergency-banner")).to_be_visible()
    finally:
        await dispatcher.close()
