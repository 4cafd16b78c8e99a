"""The main screens in both languages: every visible string is translated, times are in
WIB, and the screenshots in docs/screenshots/ (for the README) are taken from here.

Each run writes its screenshots into the test's ``tmp_path``, so that a test run leaves
the checkout clean. To refresh the tracked images in docs/screenshots/, run it with
``SIAGA_UPDATE_SCREENSHOTS=1``::

    SIAGA_UPDATE_SCREENSHOTS=1 scripts/pytest.sh tests/browser/test_screens.py
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser.helpers import open_console
from tests.conftest import LiveServer
from tests.radio.client import RadioClient

pytestmark = pytest.mark.browser

DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# Read at import: the autouse fixture in tests/conftest.py removes SIAGA_* variables
# before each test runs.
UPDATE_SHOTS = os.environ.get("SIAGA_UPDATE_SCREENSHOTS") == "1"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


async def _busy_day(server: LiveServer) -> None:
    """Two calls on the board, one of them with an ambulance on its way."""
    token = await server.login("dispatcher1")
    async with httpx.AsyncClient(base_url=server.http_url,
                                 headers={"Authorization": f"Bearer {token}"}) as api:
        calls = [
            {"caller_name": "Pak Hadi", "caller_phone": "+6281234500001", "kelurahan": "jati",
             "address": "Jl. Suroyo, depan toko", "complaint": "trauma", "triage": "kuning",
             "patients": 2, "notes": "Tabrakan motor"},
            {"caller_name": "Ibu Sari", "caller_phone": "081234500002",
             "kelurahan": "kanigaran", "complaint": "cardiac", "triage": "merah"},
        ]
        ids = []
        for call in calls:
            r = await api.post("/api/incidents", json=call)
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        recs = (await api.get(f"/api/incidents/{ids[0]}/recommendations")).json()
        r = await api.post(f"/api/incidents/{ids[0]}/assignments",
                           json={"unit_id": recs["units"][0]["unit"]["id"],
                                 "hospital_id": recs["hospitals"][0]["hospital"]["id"]})
        assert r.status_code == 201, r.text
        r = await api.post(f"/api/assignments/{r.json()['id']}/status",
                           json={"trigger": "acknowledge"})
        assert r.status_code == 200, r.text


async def _no_untranslated_keys(page: Page) -> None:
    missing = await page.evaluate("import('/js/i18n.js').then(m => m.missingKeys())")
    assert missing == {"en": [], "id": []}
    keys = set(await page.evaluate("import('/js/i18n.js').then(m => m.allKeys())"))
    words = set(re.findall(r"[a-z_]+(?:\.[a-z0-9_]+)+", await page.inner_text("body")))
    assert not words & keys, f"untranslated: {sorted(words & keys)}"


async def test_main_screens_in_both_languages(live_server: LiveServer, page: Page,
                                              tmp_path: Path) -> None:
    shots = DOCS_SHOTS if UPDATE_SHOTS else tmp_path / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    await page.set_viewport_size({"width": 1600, "height": 950})
    await page.goto(live_server.http_url + "/")
    await expect(page.locator("#login-submit")).to_have_text("Masuk")
    await page.screenshot(path=shots / "login-id.png")
    await page.click("#login-form .lang-toggle")
    await expect(page.locator("#login-submit")).to_have_text("Sign in")
    await page.screenshot(path=shots / "login-en.png")
    await page.click("#login-form .lang-toggle")

    await _busy_day(live_server)
    officer = await RadioClient.connect(live_server, "satpol1")
    try:
        await officer.send("join", talkgroup="satpolpp")
        await officer.expect("joined")
        await open_console(page, live_server)
        await officer.send("location", lat=-7.7495, lon=113.2160, accuracy=12)
        await expect(page.locator("#incident-board tr[data-id]")).to_have_count(2)
        await officer.send("floor_request")
        await officer.expect("floor_granted")
        await expect(page.locator("li.tg[data-tg=satpolpp]")).to_have_attribute(
            "data-active", "true")
        # Red first: the board sorts by triage.
        first = page.locator("#incident-board tr[data-id]").first
        await expect(first.locator(".triage")).to_have_class(re.compile("merah"))
        await first.click()
        await expect(page.locator(".incident-detail .rec-unit").first).to_be_visible()
        await expect(page.locator("#clock")).to_contain_text("WIB")
        await _no_untranslated_keys(page)
        await page.screenshot(path=shots / "console-id.png")

        await page.click("#lang-toggle")
        await expect(page.locator("#ptt .ptt-label")).to_have_text("PUSH TO TALK")
        await expect(page.locator(".incident-detail")).to_contain_text("Recommendations")
        await _no_untranslated_keys(page)
        await page.screenshot(path=shots / "console-en.png")

        await page.click("[role=tab][data-tab=hospitals]")
        await expect(page.locator("#hospitals-pane .hospital")).to_have_count(2)
        await expect(page.locator("#hospitals-pane")).to_contain_text("updated")
        await page.click("#new-incident")
        await expect(page.locator("#intake-form")).to_be_visible()
        # A landmark from the gazetteer sets the scene; a second search stays open.
        form = page.locator("#intake-form")
        await form.locator("[name=place]").fill("alun-alun")
        await form.locator("[name=place]").press("Enter")
        await expect(form.locator(".loc-value")).to_contain_text("approximate")
        await form.locator("[name=place]").fill("rs")
        await expect(form.locator(".place-results button.place")).to_have_count(3)
        await _no_untranslated_keys(page)
        await page.screenshot(path=shots / "intake-en.png")
    finally:
        await officer.close()
    for name in ("login-id", "login-en", "console-id", "console-en", "intake-en"):
        assert (shots / f"{name}.png").read_bytes().startswith(PNG_SIGNATURE), name
