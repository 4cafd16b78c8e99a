"""The crew's status page on a phone: the link of the dispatch SMS opened in Chromium on a
phone-sized touch viewport. It is the crew's single screen: the whole incident readable
without zooming or scrolling sideways, big buttons, and the dispatch room's changes."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser_mobile.conftest import Phone
from tests.conftest import LiveServer
from tests.polling import until

pytestmark = [pytest.mark.browser]

CALL: dict[str, Any] = {
    "source": "119", "caller_name": "Ibu Sari", "caller_phone": "0812-3456-7890",
    "address": "Jl. Suroyo No. 12", "landmark": "depan SDN Kanigaran 1",
    "kelurahan": "kanigaran", "complaint": "trauma", "triage": "merah", "patients": 3,
    "notes": "Tabrakan motor, satu pengendara tidak sadar, jalan licin, " * 3,
}


async def dispatch(server: LiveServer) -> tuple[httpx.AsyncClient, dict[str, Any], str]:
    """Record the call (no coordinates: the kelurahan centre), send a unit with a destination;
    the console's headers, the assignment and the status link's path from the SMS."""
    client = httpx.AsyncClient(base_url=server.http_url, timeout=10, headers={
        "Authorization": f"Bearer {await server.login('dispatcher1')}"})
    incident = (await client.post("/api/incidents", json=CALL)).json()
    units = (await client.get("/api/units")).json()
    unit = next(u["id"] for u in units if u["callsign"] == "AMB-KANIGARAN")
    hospitals = (await client.get("/api/hospitals")).json()
    hospital = next(h for h in hospitals if h["code"] == "rsud-saleh")
    response = await client.post(f"/api/incidents/{incident['id']}/assignments",
                                 json={"unit_id": unit, "hospital_id": hospital["id"]})
    assert response.status_code == 201, response.text
    assignment = response.json()

    async def link() -> str | None:
        thread = (await client.get(f"/api/incidents/{incident['id']}/sms")).json()
        found = [re.search(r"Lapor: (\S+)$", m["body"]) for m in thread if m["kind"] == "dispatch"]
        return found[0][1] if found and found[0] else None

    url = await until(link, "the dispatch SMS")
    assert url.startswith(server.http_url)
    return client, assignment, urlsplit(url).path


async def fits_the_screen(page: Page) -> None:
    width = await page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= await page.evaluate("() => window.innerWidth"), "scrolls sideways"
    size = await page.evaluate("() => getComputedStyle(document.body).fontSize")
    assert float(size.removesuffix("px")) >= 16, size


async def test_the_whole_incident_on_a_phone_and_a_tap(live_server: LiveServer,
                                                        phone: Phone) -> None:
    client, _, path = await dispatch(live_server)
    page = await (await phone()).new_page()
    await page.goto(f"{live_server.http_url}{path}")
    await fits_the_screen(page)
    await expect(page.locator("h1")).to_have_text(re.compile(r"PSC-\d{8}-\d{4}"))
    await expect(page.locator(".case")).to_contain_text("MERAH")
    await expect(page.locator(".case")).to_contain_text("3 pasien")
    details = {await dt.inner_text(): await dd.inner_text()
               for dt, dd in zip(await page.locator("dt").all(), await page.locator("dd").all(),
                                 strict=True)}
    assert details["Alamat"] == "Jl. Suroyo No. 12"
    assert details["Patokan"] == "depan SDN Kanigaran 1"
    assert details["Kelurahan"] == "Kanigaran"
    assert details["Pasien"] == "3"
    assert details["Pelapor"] == "Ibu Sari · +6281234567890"
    assert details["Keterangan"] == CALL["notes"].strip()  # whole, though the SMS cut it
    assert details["Rumah sakit"] == "RSUD dr. Mohamad Saleh"
    assert "perkiraan: pusat kelurahan" in details["Peta"]
    await expect(page.locator('a[href="tel:+6281234567890"]')).to_be_visible()
    await expect(page.locator('dd a[href^="https://maps.google.com/?q="]')).to_be_visible()

    go = page.locator("button[value=berangkat]")
    box = await go.bounding_box()
    assert box is not None and box["height"] >= 48 and box["width"] >= 120  # a thumb's size
    await go.tap()
    await expect(page.locator(".notice.ok")).to_have_text("Tercatat: Berangkat")
    await expect(page.locator(".now")).to_contain_text("Berangkat")
    await fits_the_screen(page)
    await client.aclose()


async def test_a_cancel_and_a_new_destination_show_on_the_page(live_server: LiveServer,
                                                                phone: Phone) -> None:
    client, assignment, path = await dispatch(live_server)
    page = await (await phone()).new_page()
    await page.goto(f"{live_server.http_url}{path}")
    hospitals = (await client.get("/api/hospitals")).json()
    other = next(h for h in hospitals if h["code"] != "rsud-saleh")
    response = await client.put(f"/api/assignments/{assignment['id']}/destination",
                                json={"hospital_id": other["id"]})
    assert response.status_code == 200, response.text
    await page.reload()
    await expect(page.locator("dd", has_text=other["name"])).to_be_visible()

    response = await client.post(f"/api/assignments/{assignment['id']}/cancel")
    assert response.status_code == 200, response.text
    await page.reload()
    await expect(page.locator(".notice.ended")).to_contain_text(
        "Tugas dibatalkan oleh dispatcher1")
    await expect(page.locator("button")).to_have_count(0)
    await fits_the_screen(page)
    await client.aclose()
