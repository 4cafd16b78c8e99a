"""The gazetteer behind the intake form: ``GET /api/places/search`` over the kelurahan and
hospital tables, the package's file and a city's own file; and in Chromium, a landmark
chosen on the intake form puts the pin where the gazetteer says and the incident's
position with it, marked approximate."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser.helpers import open_console
from tests.conftest import App, LiveServer


async def search(app: App, q: str, **params: object) -> httpx.Response:
    return await app.client.get("/api/places/search", params={"q": q, **params},
                                headers=await app.login("dispatcher1"))


async def test_search_needs_a_login(sqlite_app: App) -> None:
    r = await sqlite_app.client.get("/api/places/search", params={"q": "alun"})
    assert r.status_code == 401


async def test_landmarks_roads_kelurahan_and_hospitals_in_one_ranked_list(
        sqlite_app: App) -> None:
    r = await search(sqlite_app, "alun-alun")
    assert r.status_code == 200
    first = r.json()[0]
    assert first["id"] == "alun-alun" and first["kind"] == "landmark"
    assert first["approximate"] is True and "verify on site" in first["source"]
    # The hospital table and the kelurahan table are layers of the gazetteer.
    saleh = (await search(sqlite_app, "rumah sakit saleh")).json()[0]
    assert saleh["id"] == "hospital:rsud-saleh"
    assert saleh["source"] == "hospital position from the hospital table"
    assert (saleh["lat"], saleh["lon"]) == (-7.7530, 113.2104)
    kel = (await search(sqlite_app, "kel. kanigaran")).json()[0]
    assert kel["id"] == "kelurahan:kanigaran"
    assert kel["source"] == "kelurahan centre from the kelurahan table"
    road = (await search(sqlite_app, "jalan suroyo")).json()[0]
    assert road["id"] == "jl-suroyo" and road["kind"] == "road"
    assert [p["id"] for p in (await search(sqlite_app, "puskesmas", limit=3)).json()] == [
        p["id"] for p in (await search(sqlite_app, "pkm", limit=3)).json()]
    assert len((await search(sqlite_app, "puskesmas", limit=3)).json()) == 3
    assert (await search(sqlite_app, "zzzz")).json() == []


@pytest.mark.parametrize("params", [
    {"q": ""}, {"q": "x" * 101}, {"q": "alun", "limit": 0}, {"q": "alun", "limit": 51},
    {"q": "alun", "limit": "many"},
])
async def test_bad_queries_are_422(sqlite_app: App, params: dict[str, object]) -> None:
    r = await sqlite_app.client.get("/api/places/search", params=params,
                                    headers=await sqlite_app.login("dispatcher1"))
    assert r.status_code == 422, r.text


async def test_a_city_file_corrects_removes_and_adds(sqlite_app: App) -> None:
    city = Path(sqlite_app.runtime.settings.data_dir) / "gazetteer.json"
    city.parent.mkdir(parents=True, exist_ok=True)
    city.write_text(json.dumps([
        {"id": "alun-alun", "name": "Alun-alun Kota Probolinggo", "kind": "landmark",
         "lat": -7.74861, "lon": 113.21567, "approximate": False,
         "source": "surveyed by Dinas Kominfo, 2026"},
        {"id": "stasiun-probolinggo", "remove": True},
        {"id": "posko-119", "name": "Posko PSC 119", "kind": "office", "kelurahan": "Jati",
         "lat": -7.7479, "lon": 113.2125, "approximate": False, "source": "surveyed"},
    ]))
    alun = (await search(sqlite_app, "alun")).json()[0]
    assert (alun["lat"], alun["approximate"], alun["source"]) == (
        -7.74861, False, "surveyed by Dinas Kominfo, 2026")
    assert "stasiun-probolinggo" not in [p["id"] for p in
                                         (await search(sqlite_app, "stasiun")).json()]
    assert (await search(sqlite_app, "posko")).json()[0]["id"] == "posko-119"

    # A broken city file is the operator's error, said as such: 503 naming the entry.
    city.write_text(json.dumps([{"id": "x", "name": "X", "kind": "castle"}]))
    r = await search(sqlite_app, "alun")
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "gazetteer_invalid"
    assert "entry 1 (x): 'kind'" in r.json()["error"]["message"]
    city.write_text("[{")
    r = await search(sqlite_app, "alun")
    assert r.status_code == 503 and "cannot be read as JSON" in r.json()["error"]["message"]
    city.unlink()
    assert (await search(sqlite_app, "alun")).json()[0]["approximate"] is True


async def test_an_incident_at_a_gazetteer_place_is_marked_approximate(
        sqlite_app: App) -> None:
    headers = await sqlite_app.login("dispatcher1")
    body = {"kelurahan": "tisnonegaran", "complaint": "trauma", "triage": "kuning",
            "lat": -7.7489, "lon": 113.2157}
    r = await sqlite_app.client.post("/api/incidents", headers=headers,
                                     json={**body, "location_approximate": True})
    assert r.status_code == 201, r.text
    assert r.json()["location_approximate"] is True
    assert (r.json()["lat"], r.json()["lon"]) == (-7.7489, 113.2157)
    r = await sqlite_app.client.post("/api/incidents", headers=headers, json=body)
    assert r.json()["location_approximate"] is False
    r = await sqlite_app.client.post("/api/incidents", headers=headers,
                                     json={**body, "location_approximate": "maybe"})
    assert r.status_code == 422


@pytest.mark.browser
async def test_a_landmark_search_puts_the_pin_where_the_gazetteer_says(
        live_server: LiveServer, page: Page) -> None:
    token = await live_server.login("dispatcher1")
    async with httpx.AsyncClient(base_url=live_server.http_url,
                                 headers={"Authorization": f"Bearer {token}"}) as api:
        expected = (await api.get("/api/places/search", params={"q": "stasiun"})).json()[0]
    assert expected["id"] == "stasiun-probolinggo"

    await open_console(page, live_server)
    await expect(page.locator("#conn-dispatch")).to_have_attribute("data-state", "open")
    await page.click("#new-incident")
    form = page.locator("#intake-form")
    await form.locator("[name=place]").fill("st. probolinggo")
    choice = form.locator(".place-results button.place").first
    await expect(choice).to_have_attribute("data-place", "stasiun-probolinggo")
    await expect(choice).to_contain_text("perkiraan")
    await choice.click()

    await expect(form.locator(".loc-value")).to_contain_text(
        f"{expected['lat']:.5f}, {expected['lon']:.5f}")
    await expect(form.locator(".loc-value")).to_contain_text("perkiraan")
    pin = await page.evaluate("() => window.siaga.map.pick?.getLatLng()")
    assert (pin["lat"], pin["lng"]) == (expected["lat"], expected["lon"])
    await expect(form.locator("[name=kelurahan]")).to_have_value(expected["kelurahan"])
    await expect(form.locator("[name=landmark]")).to_have_value(expected["name"])

    await form.locator("[name=complaint]").select_option("trauma")
    await form.locator("button[type=submit]").click()
    detail = page.locator(".incident-detail")
    await expect(detail).to_be_visible()
    await expect(detail).to_contain_text("perkiraan")
    number = (await detail.locator("h2").inner_text()).strip()
    async with httpx.AsyncClient(base_url=live_server.http_url,
                                 headers={"Authorization": f"Bearer {token}"}) as api:
        incidents = (await api.get("/api/incidents")).json()
    saved = next(i for i in incidents if i["number"] == number)
    assert (saved["lat"], saved["lon"]) == (expected["lat"], expected["lon"])
    assert saved["location_approximate"] is True

    # A click on the map afterwards is where the call taker put it: no longer approximate.
    await page.click("#new-incident")
    await form.locator("[name=place]").fill("alun")
    await form.locator("[name=place]").press("Enter")
    await expect(form.locator(".loc-value")).to_contain_text("Alun-alun")
    spot = await page.evaluate(
        "() => window.siaga.map.map.latLngToContainerPoint([-7.7577, 113.2300])")
    await page.locator("#map").click(position={"x": spot["x"], "y": spot["y"]})
    await expect(form.locator(".loc-value")).not_to_contain_text("perkiraan")
