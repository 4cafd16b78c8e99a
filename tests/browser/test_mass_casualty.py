"""A mass casualty incident in Chromium against the real server: the dispatcher shares 12
patients out over three ambulances and two hospitals from the console, is told what remains
when closing too early, and each hospital's screen counts only the patients coming to it."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser.helpers import open_console
from tests.browser.test_hospital import dispatcher, sign_in_as_hospital
from tests.conftest import LiveServer
from tests.dispatch_api.console import CALL

pytestmark = pytest.mark.browser


async def test_a_12_patient_incident_is_shared_out_and_each_hospital_sees_its_own(
        live_server: LiveServer, page: Page) -> None:
    igd = await page.context.browser.new_page(viewport={"width": 1400, "height": 900})
    await sign_in_as_hospital(igd, live_server)
    await open_console(page, live_server)
    async with await dispatcher(live_server) as api:
        incident = (await api.post("/api/incidents", json={
            **CALL, "complaint": "trauma", "triage": "kuning", "patients": 12})).json()
        hospitals = {h["code"]: h["id"] for h in (await api.get("/api/hospitals")).json()}
        await page.locator(f"#incident-board tr[data-number='{incident['number']}']").click()
        detail = page.locator(".incident-detail")
        await expect(detail.locator(".unassigned")).to_have_text(
            "12 pasien belum mendapat ambulans")

        shares = (("rsud-saleh", 5), ("rsud-arrozy", 4), ("rsud-saleh", 3))
        left = 12
        for done, (code, n) in enumerate(shares, start=1):
            await expect(detail.locator(".unassigned")).to_have_text(
                f"{left} pasien belum mendapat ambulans")
            carry = detail.locator("input.carry-patients")
            await expect(carry).to_have_value(str(left))  # every patient left, unless changed
            left -= n
            await carry.fill(str(n))
            await detail.locator(
                f".rec-hospital[data-hospital-id='{hospitals[code]}'] input").check()
            await detail.locator(".rec-unit button.assign").first.click()
            await expect(detail.locator(".assignment")).to_have_count(done)
        carried = detail.locator(".assignment .carried")
        await expect(carried).to_have_text(["membawa 5 pasien", "membawa 4 pasien",
                                            "membawa 3 pasien"])
        await expect(detail.locator(".unassigned")).to_have_text(
            "0 pasien belum mendapat ambulans")

        # Closing while units still work is refused, and the dispatcher is told why.
        await detail.locator("button.close-incident").click()
        await expect(page.locator("#toast")).to_contain_text(
            "Kejadian belum bisa ditutup: 3 unit masih bertugas")

        # Each hospital's screen: only the patients bound for it.
        await expect(igd.locator("#incoming tr.patient")).to_have_count(2)
        await expect(igd.locator("#incoming .incoming-total")).to_have_attribute("data-n", "8")
        await expect(igd.locator("#incoming .incoming-total")).to_have_text(
            "Total 8 pasien menuju RS ini")
        alerts = igd.locator("#prearrival .prearrival-item")
        await expect(alerts).to_have_count(2)
        await expect(alerts.nth(0)).to_contain_text(f"({incident['number']}), 5 pasien")
        await expect(alerts.nth(1)).to_contain_text(f"({incident['number']}), 3 pasien")
        listed = (await api.get(f"/api/hospitals/{hospitals['rsud-arrozy']}/incoming")).json()
        assert [p["patients"] for p in listed["patients"]] == [4]


async def test_a_closed_incident_is_reopened_from_the_console(
        live_server: LiveServer, page: Page) -> None:
    await open_console(page, live_server)
    async with await dispatcher(live_server) as api:
        incident = (await api.post("/api/incidents", json=CALL)).json()
        units = {u["callsign"]: u["id"] for u in (await api.get("/api/units")).json()}
        job = (await api.post(f"/api/incidents/{incident['id']}/assignments",
                              json={"unit_id": units["AMB-KANIGARAN"]})).json()
        await page.locator(f"#incident-board tr[data-number='{incident['number']}']").click()
        detail = page.locator(".incident-detail")
        await expect(detail.locator(".assignment")).to_have_count(1)
        for trigger in ("arrive", "clear"):
            await report(api, job["id"], trigger)
        await expect(detail).to_have_attribute("data-status", "closed")
        await detail.locator("button.reopen-incident").click()
        await expect(detail).to_have_attribute("data-status", "new")
        await expect(detail.locator(".rec-unit").first).to_be_visible()


async def report(api: httpx.AsyncClient, assignment_id: int, trigger: str) -> None:
    response = await api.post(f"/api/assignments/{assignment_id}/status",
                              json={"trigger": trigger})
    assert response.status_code == 200, response.text
