"""The emergency button on a phone: a deliberate hold starts a 5-second countdown that can
be cancelled; when it runs out, the dispatcher is alerted with the officer's position and
the officer's microphone is open on the talkgroup."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import unquote

import pytest
from playwright.async_api import expect

from tests.browser_mobile.conftest import Phone
from tests.browser_mobile.helpers import POSITION, Finger, body_data, sign_in
from tests.conftest import LiveServer, live_server_for, loopback_socket, make_settings, port_of
from tests.radio.client import RadioClient as Dispatcher
from tests.radio.client import first_radio_alert

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


@pytest.fixture
async def with_command_centre(sqlite_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    """The server with the command centre's phone configured."""
    sock = loopback_socket()
    port = port_of(sock)
    settings = make_settings(sqlite_url, tmp_path, port=port,
                             public_url=f"http://127.0.0.1:{port}",
                             command_centre_phone=COMMAND_CENTRE)
    async with live_server_for(settings, sock) as server:
        yield server


COMMAND_CENTRE = "+62335421119"


async def test_an_emergency_raised_offline_waits_then_arrives_with_its_time(
    with_command_centre: LiveServer, phone: Phone,
) -> None:
    server = with_command_centre
    context = await phone()
    page = await context.new_page()
    await sign_in(page, server, "satpol1", media=False)
    dispatcher = await Dispatcher.connect(server, "dispatcher1")
    try:
        await dispatcher.send("join", talkgroup="satpolpp")
        await dispatcher.expect("joined", talkgroup="satpolpp")
        await expect(page.locator("#duty")).to_have_attribute("aria-pressed", "true")
        await context.set_offline(True)  # a dead zone
        await expect(page.locator("#conn")).not_to_have_attribute("data-state", "open")

        finger = Finger(page)
        await finger.press("#sos")
        await expect(page.locator("#sos-overlay")).to_have_attribute("data-phase", "countdown")
        await finger.lift()
        pending = page.locator("#sos-pending")
        await expect(pending).to_be_visible(timeout=10_000)
        assert await body_data(page, "sosResult") == "kept"
        await expect(pending).to_contain_text("DARURAT menunggu dikirim")
        await expect(pending).to_contain_text("Radio tidak tersambung.")
        kept = await page.evaluate(
            "JSON.parse(localStorage.getItem('siaga.app.pending_emergency.satpol1'))")
        raised_at = datetime.fromisoformat(kept["raisedAt"])
        shown = raised_at.astimezone(timezone(timedelta(hours=7))).strftime("%H.%M.%S")
        await expect(page.locator("#sos-pending-time")).to_contain_text(f"{shown} WIB")

        link = page.locator("#sos-sms")
        await expect(link).to_be_visible()
        await expect(link).to_have_text("Kirim SMS darurat ke pusat komando")
        href = await link.get_attribute("href") or ""
        assert href.startswith(f"sms:{COMMAND_CENTRE}?body="), href
        body = unquote(href.split("?body=", 1)[1])
        assert body.splitlines()[:2] == ["DARURAT Siaga: Satpol PP Regu 1 (SATPOL-01)",
                                         "Kanal Satpol PP"], body
        wib = raised_at.astimezone(timezone(timedelta(hours=7)))
        assert f"Ditekan {wib:%d/%m %H:%M:%S} WIB" in body
        assert "Posisi terakhir -7.75430,113.21590 (+/-8 m)" in body
        assert "https://maps.google.com/?q=-7.75430,113.21590" in body
        await dispatcher.expect_nothing("emergency_raised")

        await context.set_offline(False)  # back in coverage: it goes at once, with its time
        raised = await dispatcher.expect("emergency_raised", timeout=10, talkgroup="satpolpp")
        assert raised["raised_by"]["username"] == "satpol1"
        assert datetime.fromisoformat(raised["raised_at"]) == raised_at
        await expect(pending).to_be_hidden()
        assert await body_data(page, "sosResult") == "sent_late"
        await expect(page.locator("#toast")).to_contain_text(f"{shown} WIB")
        assert await page.evaluate(
            "localStorage.getItem('siaga.app.pending_emergency.satpol1')") is None

        alert = await first_radio_alert(server)
        assert datetime.fromisoformat(alert["at"]) == raised_at
        assert datetime.fromisoformat(alert["received_at"]) > raised_at
    finally:
        await dispatcher.close()


async def test_without_a_command_centre_number_the_app_says_to_call(
    live_server: LiveServer, phone: Phone,
) -> None:
    context = await phone()
    page = await context.new_page()
    await sign_in(page, live_server, "satpol1", media=False, lang="en")
    await context.set_offline(True)
    await expect(page.locator("#conn")).not_to_have_attribute("data-state", "open")
    await page.focus("#sos")
    await page.keyboard.press("Enter")
    pending = page.locator("#sos-pending")
    await expect(pending).to_be_visible(timeout=10_000)
    await expect(pending).to_contain_text("EMERGENCY waiting to send")
    await expect(pending).to_contain_text("The radio is not connected.")
    await expect(page.locator("#sos-sms")).to_be_hidden()
    await expect(page.locator("#sos-sms-none")).to_have_text(
        "The command centre's number is not known yet: call them.")
