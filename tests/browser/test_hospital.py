"""The hospital screen in Chromium against the real server: the demo IGD account signs in at
the console and gets its own page; a patient a dispatcher sends there appears live with a
pre-arrival alert and its chime, follows the crew to the door, and the IGD changes its beds,
its capabilities and its acceptance. The dispatcher console shows a pre-arrival SMS that
could not be sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser.helpers import open_console
from tests.conftest import LiveServer, live_server_for, loopback_socket, make_settings, port_of
from tests.dispatch_api.console import CALL

pytestmark = pytest.mark.browser


async def dispatcher(server: LiveServer) -> httpx.AsyncClient:
    token = await server.login("dispatcher1")
    return httpx.AsyncClient(base_url=server.http_url,
                             headers={"Authorization": f"Bearer {token}"})


async def send_patient(api: httpx.AsyncClient, **call: Any) -> tuple[dict[str, Any], int]:
    """Record a call and send AMB-KANIGARAN to it with RSUD dr. Mohamad Saleh as the
    destination; the incident and the assignment id."""
    incident = (await api.post("/api/incidents", json={**CALL, **call})).json()
    units = {u["callsign"]: u["id"] for u in (await api.get("/api/units")).json()}
    hospitals = {h["code"]: h["id"] for h in (await api.get("/api/hospitals")).json()}
    response = await api.post(f"/api/incidents/{incident['id']}/assignments", json={
        "unit_id": units["AMB-KANIGARAN"], "hospital_id": hospitals["rsud-saleh"]})
    assert response.status_code == 201, response.text
    return incident, int(response.json()["id"])


async def sign_in_as_hospital(page: Page, server: LiveServer) -> None:
    await page.goto(f"{server.http_url}/")
    await page.evaluate("localStorage.setItem('siaga.lang', 'id')")
    await page.reload()
    await page.fill("#login-username", "rsud-saleh")
    await page.fill("#login-password", "demo")
    await page.click("#login-submit")
    await expect(page.locator("#hospital-view")).to_be_visible()
    await expect(page.locator("#console-view")).to_be_hidden()
    await expect(page.locator("#conn-hospital")).to_have_attribute("data-state", "open")


async def test_the_igd_sees_a_patient_coming_and_sets_beds_and_diversion(
        live_server: LiveServer, page: Page) -> None:
    await sign_in_as_hospital(page, live_server)
    await expect(page.locator("#hosp-name")).to_have_text("RSUD dr. Mohamad Saleh")
    await expect(page.locator("#incoming")).to_contain_text("Belum ada pasien")
    await expect(page.locator("#prearrival")).to_be_hidden()

    async with await dispatcher(live_server) as api:
        incident, assignment = await send_patient(api, patients=2)
        row = page.locator("#incoming tr.patient")
        await expect(row).to_have_count(1)
        await expect(row).to_contain_text(incident["number"])
        await expect(row).to_contain_text("Jantung")
        await expect(row).to_contain_text("2 pasien")
        await expect(row).to_contain_text("AMB-KANIGARAN (ALS)")
        await expect(row).to_have_attribute("data-stage", "assigned")
        await expect(row.locator(".eta")).to_contain_text("setelah berangkat dari lokasi")
        # The pre-arrival alert, and its chime through WebAudio.
        alert = page.locator("#prearrival .prearrival-item")
        await expect(alert).to_have_count(1)
        await expect(alert).to_contain_text(f"Pasien baru menuju RS: Merah (segera) Jantung, "
                                            f"AMB-KANIGARAN ({incident['number']}), 2 pasien")
        await expect(page.locator("body")).to_have_attribute("data-prearrival", "on")
        assert await page.evaluate("siaga.hospital.chimes") == 1
        assert await page.evaluate("siaga.tones.contextState()") == "running"

        for trigger in ("acknowledge", "depart", "arrive", "transport"):
            response = await api.post(f"/api/assignments/{assignment}/status",
                                      json={"trigger": trigger})
            assert response.status_code == 200, response.text
        await expect(row).to_have_attribute("data-stage", "transporting")
        await expect(row.locator(".eta")).to_contain_text("(dalam ")  # counting down
        await expect(alert).to_have_count(2)
        await expect(alert.nth(1)).to_contain_text("Pasien berangkat ke RS")
        assert await page.evaluate("siaga.hospital.chimes") == 2
        for _ in range(2):
            await alert.first.locator("button.prearrival-ack").click()
        await expect(page.locator("#prearrival")).to_be_hidden()
        await expect(page.locator("body")).to_have_attribute("data-prearrival", "off")

        assert (await api.post(f"/api/assignments/{assignment}/status",
                               json={"trigger": "reach_hospital"})).status_code == 200
        await expect(row).to_have_attribute("data-stage", "arrived")
        await expect(row.locator(".eta")).to_contain_text("Tiba ")

        # Beds: ICU 3 of 12 free.
        icu = page.locator("#beds-form tr[data-category=icu]")
        await icu.locator(".bed-free").fill("3")
        await icu.locator(".bed-total").fill("12")
        await page.click("#save-beds")
        await expect(page.locator("#toast")).to_have_text("Tersimpan.")
        saleh = next(h for h in (await api.get("/api/hospitals")).json()
                     if h["code"] == "rsud-saleh")
        bed = next(b for b in saleh["beds"] if b["category"] == "icu")
        assert (bed["free"], bed["total"]) == (3, 12)
        await expect(icu).to_contain_text("WIB")

        # Diversion, with the time of the change in WIB.
        await expect(page.locator("#acceptance-changed")).to_have_text("belum pernah diubah")
        await page.click("#toggle-accepting")
        await expect(page.locator("#acceptance")).to_have_text(
            "Menolak pasien baru (pengalihan)")
        await expect(page.locator("#acceptance-changed")).to_contain_text("Terakhir diubah ")
        await expect(page.locator("#acceptance-changed")).to_contain_text(" WIB")
        saleh = (await api.get(f"/api/hospitals/{saleh['id']}")).json()
        assert saleh["accepting"] is False

        # No obstetrician tonight.
        await page.check("#caps-form label[data-capability=obstetric] input")
        await page.fill("#caps-note", "Tidak ada dokter kandungan malam ini")
        await page.click("#save-caps")
        await expect(page.locator("#caps-form label[data-capability=obstetric]")).to_contain_text(
            "tidak berfungsi")
        saleh = (await api.get(f"/api/hospitals/{saleh['id']}")).json()
        assert saleh["capabilities_unavailable"] == ["obstetric"]
        assert saleh["capabilities_note"] == "Tidak ada dokter kandungan malam ini"

        # A dispatcher's change reaches the screen too.
        response = await api.put(f"/api/hospitals/{saleh['id']}/accepting",
                                 json={"accepting": True})
        assert response.status_code == 200
        await expect(page.locator("#acceptance")).to_have_text("Menerima pasien")

        assert (await api.post(f"/api/assignments/{assignment}/status",
                               json={"trigger": "hand_over"})).status_code == 200
        await expect(row).to_have_count(0)

    await page.click("#hospital-view .lang-toggle")
    await expect(page.locator("#incoming-title")).to_have_text("Patients coming to this hospital")
    await expect(page.locator("#save-beds")).to_have_text("Save beds")
    missing = await page.evaluate("import('/js/i18n.js').then(m => m.missingKeys())")
    assert missing == {"en": [], "id": []}


@pytest.fixture
async def prearrival_server(sqlite_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    sock = loopback_socket()
    port = port_of(sock)
    settings = make_settings(sqlite_url, tmp_path, port=port, hospital_prearrival_sms=True,
                             public_url=f"http://127.0.0.1:{port}")
    async with live_server_for(settings, sock) as server:
        yield server


async def test_the_console_shows_a_prearrival_sms_that_cannot_be_sent(
        prearrival_server: LiveServer, page: Page) -> None:
    await open_console(page, prearrival_server)
    async with await dispatcher(prearrival_server) as api:
        incident, _ = await send_patient(api)  # the demo hospital has no phone
    card = page.locator(".alert.escalation[data-kind=sms-failed]")
    await expect(card).to_contain_text(f"SMS pra-RS tidak terkirim {incident['number']}")
    await expect(card).to_contain_text("RSUD dr. Mohamad Saleh tidak punya nomor telepon")
    await expect(card).to_contain_text("Telepon IGD rumah sakit")
