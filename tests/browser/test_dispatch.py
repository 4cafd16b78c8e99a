"""The console's incident work in Chromium against the real dispatch API and stream:
record a call, read the recommendation, assign, and see the crew's progress arrive live."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Locator, Page, expect

from tests.browser.helpers import open_console
from tests.conftest import LiveServer
from tests.polling import until
from tests.radio.client import RadioClient

pytestmark = pytest.mark.browser


async def start_intake(page: Page, live_server: LiveServer) -> Locator:
    """The console open with its stream connected, and an empty intake form."""
    await open_console(page, live_server)
    await expect(page.locator("#conn-dispatch")).to_have_attribute("data-state", "open")
    await page.click("#new-incident")
    return page.locator("#intake-form")


async def click_map(page: Page, lat: float, lon: float) -> None:
    spot = await page.evaluate(
        f"() => window.siaga.map.map.latLngToContainerPoint([{lat}, {lon}])")
    await page.locator("#map").click(position={"x": spot["x"], "y": spot["y"]})


async def test_record_a_call_assign_the_recommended_unit_and_follow_it_live(
    live_server: LiveServer, page: Page,
) -> None:
    form = await start_intake(page, live_server)
    await form.locator("[name=caller_name]").fill("Ibu Sari")
    # A wrong number is refused on the form, before anything is sent.
    await form.locator("[name=caller_phone]").fill("12345")
    await form.locator("[name=kelurahan]").fill("Kanigaran")
    await form.locator("button[type=submit]").click()
    await expect(form.locator("[data-error=caller_phone]")).to_be_visible()
    await form.locator("[name=caller_phone]").fill("0812 3456 7890")
    # A click on the map sets the location (a spot in Kanigaran clear of any marker).
    await click_map(page, -7.7577, 113.2300)
    await expect(form.locator(".loc-value")).to_contain_text("-7.75")
    await form.locator("[name=complaint]").select_option("cardiac")
    await form.locator(".triage-pick.merah input").check()
    await form.locator("button[type=submit]").click()

    detail = page.locator(".incident-detail")
    await expect(detail).to_be_visible()
    number = (await detail.locator("h2").inner_text()).strip()
    assert number.startswith("PSC-")
    await expect(detail).to_contain_text("+6281234567890")
    row = page.locator(f"#incident-board tr[data-number='{number}']")
    await expect(row).to_have_attribute("data-status", "new")
    await expect(row.locator(".triage.merah")).to_be_visible()

    # The recommendation, best first, each with its reason.
    first = detail.locator(".rec-unit").first
    await expect(first).to_be_visible()
    assert (await first.locator(".reason").inner_text()).strip()
    callsign = (await first.locator("b").inner_text()).strip()
    await expect(detail.locator(".rec-hospital").first).to_be_visible()
    await first.locator("button.assign").click()

    assignment = detail.locator(".assignment[data-status=dispatched]")
    await expect(assignment).to_contain_text(callsign)
    await expect(row.locator(".unit")).to_contain_text(callsign)
    await expect(row).to_have_attribute("data-status", "dispatched")
    assignment_id = await assignment.get_attribute("data-assignment-id")

    # The crew reports by radio; another dispatcher records it through the API. The
    # console follows from the stream, without a reload.
    token = await live_server.login("dispatcher1")
    async with httpx.AsyncClient(base_url=live_server.http_url,
                                 headers={"Authorization": f"Bearer {token}"}) as api:
        for trigger in ("acknowledge", "depart", "arrive"):
            r = await api.post(f"/api/assignments/{assignment_id}/status",
                               json={"trigger": trigger})
            assert r.status_code == 200, r.text
    await expect(row).to_have_attribute("data-status", "on_scene")
    await expect(detail.locator(".assignment[data-status=on_scene]")).to_be_visible()
    chain = detail.locator(".timechain")
    for step in ("dispatched_at", "acknowledged_at", "en_route_at", "on_scene_at"):
        await expect(chain.locator(f"tr[data-step={step}]")).to_have_count(1)

    # A console that lost its stream reloads what it missed when it is back.
    await page.evaluate("window.siaga.dispatch.dropConnection(2000)")
    await expect(page.locator("#conn-dispatch")).to_have_attribute("data-state", "reconnecting")
    async with httpx.AsyncClient(base_url=live_server.http_url,
                                 headers={"Authorization": f"Bearer {token}"}) as api:
        r = await api.post(f"/api/assignments/{assignment_id}/status",
                           json={"trigger": "transport"})
        assert r.status_code == 200, r.text
    assert await row.get_attribute("data-status") == "on_scene"
    await expect(page.locator("#conn-dispatch")).to_have_attribute("data-state", "open")
    await expect(row).to_have_attribute("data-status", "transporting")
    await page.click("[role=tab][data-tab=units]")
    unit = page.locator(f"#units-pane tr[data-callsign='{callsign}']")
    await expect(unit).to_have_attribute("data-status", "transporting")
    await expect(unit).to_contain_text(number)


async def test_an_unacknowledged_dispatch_escalates_and_one_click_sends_the_next_unit(
    live_server: LiveServer, page: Page,
) -> None:
    token = await live_server.login("dispatcher1")
    async with httpx.AsyncClient(base_url=live_server.http_url,
                                 headers={"Authorization": f"Bearer {token}"}) as api:
        r = await api.post("/api/incidents", json={"kelurahan": "wonoasih",
                                                   "complaint": "stroke", "triage": "merah"})
        incident = r.json()
        recs = (await api.get(f"/api/incidents/{incident['id']}/recommendations")).json()
        first = recs["units"][0]["unit"]
        r = await api.post(f"/api/incidents/{incident['id']}/assignments",
                           json={"unit_id": first["id"]})
        assert r.status_code == 201, r.text
    await open_console(page, live_server)
    await expect(page.locator("#conn-dispatch")).to_have_attribute("data-state", "open")

    # The crew has not acknowledged within the timer: the server escalates.
    service = live_server.runtime.services["dispatch"]
    await service.run_timers(now=datetime.now(UTC) + timedelta(minutes=3))
    card = page.locator(".alert.escalation")
    await expect(card).to_contain_text(incident["number"])
    await expect(card).to_contain_text(first["callsign"])
    row = page.locator(f"#incident-board tr[data-number='{incident['number']}']")
    await expect(row).to_have_attribute("data-attention", "escalated")
    action = card.locator("button")
    label = await action.inner_text()
    assert first["callsign"] not in label  # the next best unit, not the silent one
    await action.click()

    await expect(card).to_have_count(0)
    await expect(row).to_have_attribute("data-attention", "")
    replacement = label.split()[-1]
    await expect(row.locator(".unit")).to_contain_text(replacement)


async def console_and_officer(page: Page, server: LiveServer, username: str,
                              talkgroup: str) -> RadioClient:
    """The console open with its dispatch stream, and an officer joined to ``talkgroup``."""
    await open_console(page, server)
    await expect(page.locator("#conn-dispatch")).to_have_attribute("data-state", "open")
    officer = await RadioClient.connect(server, username)
    await officer.send("join", talkgroup=talkgroup)
    await officer.expect("joined")
    return officer


async def test_an_officers_radio_emergency_becomes_an_incident(
    live_server: LiveServer, page: Page,
) -> None:
    officer = await console_and_officer(page, live_server, "satpol1", "satpolpp")
    try:
        await officer.send("emergency_raise", lat=-7.7580, lon=113.2235)  # in Kanigaran
        token = await live_server.login("dispatcher1")
        async with httpx.AsyncClient(base_url=live_server.http_url,
                                     headers={"Authorization": f"Bearer {token}"}) as api:
            async def open_alerts() -> list[dict[str, object]]:
                return list((await api.get("/api/alerts", params={"status": "open"})).json())

            try:
                await until(open_alerts, "the radio alert", timeout=3)
            except AssertionError:
                pytest.skip("radio emergencies do not reach dispatch yet "
                            "(siaga.bridge.BridgeFeature is not in siaga.features.FEATURES)")
        line = page.locator("#incident-board .radio-alerts li")
        await expect(line).to_contain_text("Satpol PP Regu 1 (SATPOL-01) di Satpol PP")
        await expect(line).to_have_attribute("data-handled", "")
        card = page.locator(".alert.emergency[data-talkgroup=satpolpp]")
        await expect(card).to_have_attribute("data-acknowledged", "false")
        await line.locator("button.alert-convert").click()
        form = page.locator("#intake-form")
        await expect(form.locator("[name=source]")).to_have_value("radio")
        await expect(form.locator("[name=kelurahan]")).to_have_value("Kanigaran")
        await expect(form.locator(".loc-value")).to_contain_text("-7.75800")
        await form.locator("[name=complaint]").select_option("trauma")
        await form.locator("button[type=submit]").click()
        detail = page.locator(".incident-detail")
        await expect(detail).to_contain_text("Radio")
        await expect(detail).to_contain_text("Kanigaran")
        await expect(detail).to_contain_text("kanal Satpol PP")  # the name, not the code
        await expect(line).to_have_count(0)
        # The incident answers the emergency: acknowledged for everyone, the alarm stops.
        await expect(card).to_have_attribute("data-acknowledged", "true")
        await expect(page.locator("body")).to_have_attribute("data-alarm", "off")
        await officer.expect("emergency_acknowledged", talkgroup="satpolpp")
    finally:
        await officer.close()


async def test_a_radio_alert_is_marked_handled_when_its_emergency_is_acknowledged(
    live_server: LiveServer, page: Page,
) -> None:
    officer = await console_and_officer(page, live_server, "dishub1", "dishub")
    try:
        await officer.send("emergency_raise")
        line = page.locator("#incident-board .radio-alerts li")
        await expect(line).to_contain_text("di Dishub")
        await expect(line).to_have_attribute("data-handled", "")
        await page.locator(".alert.emergency[data-talkgroup=dishub] .emergency-ack").click()
        await expect(line).to_have_attribute("data-handled", "acknowledged")
        await expect(line.locator(".alert-handled")).to_have_text(
            "ditanggapi Dispatcher PSC 119")
        await expect(line.locator("button.alert-convert")).to_be_visible()  # still usable
    finally:
        await officer.close()


async def test_intake_takes_the_age_and_cardiac_arrest_and_shows_a_location_contradiction(
    live_server: LiveServer, page: Page,
) -> None:
    form = await start_intake(page, live_server)
    await form.locator("[name=kelurahan]").fill("Kanigaran")
    # A spot near Kel. Sumbertaman's centre (Wonoasih), nearly 3 km from Kanigaran's.
    await click_map(page, -7.7805, 113.2125)
    await expect(form.locator(".loc-value")).to_contain_text("-7.780")
    await form.locator("[name=kelurahan]").fill("Kanigaran")  # the call taker's choice stays
    await form.locator("[name=complaint]").select_option("cardiac")
    await form.locator(".triage-pick.merah input").check()
    await form.locator("[name=patient_age]").fill("2")
    await form.locator("[name=patient_age_unit]").select_option("years")
    await form.locator("[name=cardiac_arrest]").check()
    await form.locator("button[type=submit]").click()

    detail = page.locator(".incident-detail")
    await expect(detail).to_be_visible()
    await expect(detail.locator("dd.warning").first).to_contain_text(
        "lebih dekat ke Kel. Sumbertaman")
    await expect(detail).to_contain_text("2 tahun (anak)")
    await expect(detail).to_contain_text("Henti jantung")
    await expect(detail.locator(".rec-unit").first).to_contain_text("henti jantung")
