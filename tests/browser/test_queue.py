"""The console's queue in Chromium: the board follows triage, and a call waiting past its
limit is an alarm on every console, with the siren for MERAH, until a unit is sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser.helpers import open_console
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser


async def dispatcher_api(server: LiveServer) -> httpx.AsyncClient:
    """An HTTP client logged in as dispatcher1 (the API beside the console under test)."""
    token = await server.login("dispatcher1")
    return httpx.AsyncClient(base_url=server.http_url,
                             headers={"Authorization": f"Bearer {token}"})


async def test_triage_order_and_an_overdue_merah_alarms_every_console(
    live_server: LiveServer, page: Page,
) -> None:
    async with await dispatcher_api(live_server) as api:
        calls = {}
        for name, triage, kelurahan in (("hijau", "hijau", "jati"),
                                        ("kuning", "kuning", "mayangan"),
                                        ("merah1", "merah", "wonoasih"),
                                        ("merah2", "merah", "kedopok")):
            r = await api.post("/api/incidents", json={"kelurahan": kelurahan,
                                                       "complaint": "other", "triage": triage})
            assert r.status_code == 201, r.text
            calls[name] = r.json()
        browser = page.context.browser
        assert browser is not None
        second = await browser.new_context()  # a second dispatcher's console
        other = await second.new_page()
        for console in (page, other):
            await open_console(console, live_server)
            await expect(console.locator("#conn-dispatch")).to_have_attribute("data-state",
                                                                             "open")
        rows = page.locator("#incident-board tr[data-number]")
        await expect(rows).to_have_count(4)
        assert [await r.get_attribute("data-number") for r in await rows.all()] == [
            calls[n]["number"] for n in ("merah1", "merah2", "kuning", "hijau")]

        # Two minutes on: both MERAH calls are overdue (60 s), the KUNING one not yet (3 min).
        service = live_server.runtime.services["dispatch"]
        await service.run_timers(now=datetime.now(UTC) + timedelta(minutes=2))
        for console in (page, other):
            for name in ("merah1", "merah2"):
                row = console.locator(f"#incident-board tr[data-number='{calls[name]['number']}']")
                await expect(row).to_have_attribute("data-attention", "overdue")
                await expect(row).to_contain_text("TERLAMBAT")
            kuning = console.locator(
                f"#incident-board tr[data-number='{calls['kuning']['number']}']")
            await expect(kuning).not_to_have_attribute("data-attention", "overdue")
            cards = console.locator(".alert.escalation[data-kind=overdue]")
            await expect(cards).to_have_count(2)
            await expect(cards.first).to_contain_text("Belum ada unit")
            await expect(cards.first).to_contain_text("MERAH belum dikirimi unit lewat 1 menit")
            await expect(console.locator("body")).to_have_attribute("data-alarm", "on")

        # A unit for each MERAH call: the alarm stops everywhere.
        units = (await api.get("/api/units")).json()
        free = [u["id"] for u in units if u["status"] == "available"]
        for name, unit in zip(("merah1", "merah2"), free, strict=False):
            r = await api.post(f"/api/incidents/{calls[name]['id']}/assignments",
                               json={"unit_id": unit})
            assert r.status_code == 201, r.text
        for console in (page, other):
            await expect(console.locator(".alert.escalation[data-kind=overdue]")).to_have_count(0)
            await expect(console.locator("body")).to_have_attribute("data-alarm", "off")
        await second.close()


async def test_a_busy_unit_withdrawn_from_its_job_leaves_the_call_asking_for_a_unit(
    live_server: LiveServer, page: Page,
) -> None:
    async with await dispatcher_api(live_server) as api:
        incident = (await api.post("/api/incidents", json={
            "kelurahan": "wonoasih", "complaint": "stroke", "triage": "merah"})).json()
        units = (await api.get("/api/units")).json()
        unit = next(u for u in units if u["callsign"] == "AMB-WONOASIH")
        r = await api.post(f"/api/incidents/{incident['id']}/assignments",
                           json={"unit_id": unit["id"]})
        assert r.status_code == 201, r.text
    await open_console(page, live_server)
    await expect(page.locator("#conn-dispatch")).to_have_attribute("data-state", "open")
    await page.click("[role=tab][data-tab=units]")
    row = page.locator(f"table.units tr[data-callsign='{unit['callsign']}']")
    button = row.locator(".unit-service")
    await expect(button).to_have_text("Tarik dari tugas")
    page.once("dialog", lambda dialog: dialog.accept())
    await button.click()
    await expect(row).to_have_attribute("data-status", "out_of_service")
    await expect(row).to_contain_text("dinonaktifkan oleh dispatcher")

    # The call needs another unit: the escalation stays and sends the next best one.
    card = page.locator(".alert.escalation", has_text=incident["number"])
    await expect(card).to_contain_text("Unit dinonaktifkan saat bertugas")
    action = card.locator("button.primary")
    label = await action.inner_text()
    assert unit["callsign"] not in label
    await action.click()
    await expect(card).to_have_count(0)
    board = page.locator(f"#incident-board tr[data-number='{incident['number']}']")
    await expect(board.locator(".unit")).to_contain_text(label.split()[-1])
