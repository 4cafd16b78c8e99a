"""Recording calls: numbering, normalisation, corrections, cancellation, queries."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime

from dispatch.sms_text import WIB
from tests.dispatch_api.console import Console, error


async def test_a_call_is_recorded_with_a_day_number_and_an_e164_phone(console: Console) -> None:
    incident = await console.create_incident()
    created = incident["created_at"]
    assert re.fullmatch(r"PSC-\d{8}-0001", incident["number"])
    day = datetime.fromisoformat(created).astimezone(WIB)
    assert incident["number"] == f"PSC-{day:%Y%m%d}-0001"
    assert incident["caller_phone"] == "+6281234567890"
    assert incident["status"] == "new"
    assert incident["status_label"] == {"id": "Baru", "en": "New"}
    assert incident["place"]["kecamatan"] == "Kanigaran"
    assert incident["created_by"] == "dispatcher1"
    assert not incident["location_approximate"]

    second = await console.create_incident()
    assert second["number"].endswith("-0002")


async def test_concurrent_calls_get_distinct_consecutive_numbers(console: Console) -> None:
    made = await asyncio.gather(*(console.create_incident() for _ in range(6)))
    sequences = sorted(int(m["number"][-4:]) for m in made)
    assert sequences == [1, 2, 3, 4, 5, 6]


async def test_without_coordinates_the_scene_is_the_kelurahan_centre(console: Console) -> None:
    incident = await console.create_incident(lat=None, lon=None, kelurahan="mayangan")
    assert (incident["lat"], incident["lon"]) == (-7.7355, 113.2220)
    assert incident["location_approximate"]


async def test_a_correction_is_stored_and_a_stale_version_refused(console: Console) -> None:
    incident = await console.create_incident()
    url = f"/api/incidents/{incident['id']}"
    response = await console.patch(url, {"triage": "kuning", "patients": 2,
                                         "version": incident["version"]})
    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["triage"], updated["patients"]) == ("kuning", 2)
    assert updated["version"] == incident["version"] + 1

    before = await console.counts()
    stale = await console.patch(url, {"notes": "x", "version": incident["version"]})
    assert stale.status_code == 409
    body = error(stale)
    assert body["code"] == "version_conflict"
    assert body["details"]["incident"]["version"] == updated["version"]
    assert await console.counts() == before


async def test_moving_an_approximate_scene_to_another_kelurahan_moves_its_centre(
        console: Console) -> None:
    incident = await console.create_incident(lat=None, lon=None)
    response = await console.patch(f"/api/incidents/{incident['id']}", {"kelurahan": "jati"})
    assert response.status_code == 200, response.text
    assert (response.json()["lat"], response.json()["lon"]) == (-7.7481, 113.2123)


async def test_cancelling_an_incident_frees_its_units(console: Console) -> None:
    incident = await console.create_incident()
    unit = await console.unit_id("AMB-KANIGARAN")
    assignment = await console.assign(incident["id"], unit)
    response = await console.post(f"/api/incidents/{incident['id']}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    detail = await console.detail(incident["id"])
    assert detail["assignments"][0]["id"] == assignment["id"]
    assert detail["assignments"][0]["status"] == "cancelled"
    assert detail["assignments"][0]["cancel_reason"] == "dispatcher"
    assert (await console.unit(unit))["status"] == "available"

    again = await console.post(f"/api/incidents/{incident['id']}/cancel")
    assert again.status_code == 409
    assert error(again)["code"] == "incident_closed"


async def test_list_filters_by_status_and_kecamatan(console: Console) -> None:
    a = await console.create_incident()
    b = await console.create_incident(kelurahan="jati", lat=-7.7481, lon=113.2123)
    await console.assign(b["id"], await console.unit_id("AMB-JATI"))

    everything = (await console.get("/api/incidents")).json()
    assert [i["id"] for i in everything] == [b["id"], a["id"]]  # newest first
    new = (await console.get("/api/incidents", params={"status": "new"})).json()
    assert [i["id"] for i in new] == [a["id"]]
    mayangan = (await console.get("/api/incidents", params={"kecamatan": "mayangan"})).json()
    assert [i["id"] for i in mayangan] == [b["id"]]


async def test_detail_has_the_time_chain_and_the_audit_trail(console: Console) -> None:
    incident = await console.create_incident()
    assignment = await console.assign(incident["id"], await console.unit_id("AMB-KANIGARAN"))
    assert (await console.report(assignment["id"], "depart")).status_code == 200
    assert (await console.report(assignment["id"], "arrive")).status_code == 200
    detail = await console.detail(incident["id"])
    times = detail["assignments"][0]["times"]
    assert times["dispatched_at"] <= times["en_route_at"] <= times["on_scene_at"]
    assert detail["incident"]["status"] == "on_scene"
    actions = [(e["entity_type"], e["action"]) for e in detail["audit"]]
    assert actions[0] == ("incident", "created")
    assert ("assignment", "dispatched") in actions
    assert ("assignment", "arrive") in actions


async def test_recommendations_explain_each_rank_in_both_languages(console: Console) -> None:
    incident = await console.create_incident()
    response = await console.get(f"/api/incidents/{incident['id']}/recommendations",
                                 params={"limit": 3})
    assert response.status_code == 200, response.text
    recs = response.json()
    assert [u["rank"] for u in recs["units"]] == [1, 2, 3]
    best = recs["units"][0]
    assert best["unit"]["callsign"] == "AMB-KANIGARAN"  # ALS, nearest, MERAH
    assert best["reason"]["id"].startswith("ALS tersedia")
    assert best["reason"]["en"].startswith("ALS available")
    hospital = recs["hospitals"][0]
    assert hospital["hospital"]["code"] == "rsud-saleh"  # the one with cardiology
    assert "jantung" in hospital["reason"]["id"]
    assert recs["hospitals"][1]["missing"] == ["cardiac"]


async def test_a_busy_unit_is_not_recommended(console: Console) -> None:
    first = await console.create_incident()
    unit = await console.unit_id("AMB-KANIGARAN")
    await console.assign(first["id"], unit)
    second = await console.create_incident()
    recs = (await console.get(f"/api/incidents/{second['id']}/recommendations")).json()
    assert unit not in [u["unit"]["id"] for u in recs["units"]]


async def test_every_route_is_in_the_openapi_document(console: Console) -> None:
    spec = (await console.client.get("/api/openapi.json")).json()
    paths = set(spec["paths"])
    for path in ("/api/incidents", "/api/incidents/{incident_id}/assignments",
                 "/api/assignments/{assignment_id}/status", "/api/units", "/api/hospitals",
                 "/api/hospitals/{hospital_id}/beds", "/api/alerts/{alert_id}/incident",
                 "/api/reports/intervals", "/api/reports/intervals.csv",
                 "/api/incidents/{incident_id}/eido"):
        assert path in paths, path
    incident = spec["components"]["schemas"]["IncidentIn"]
    assert set(incident["required"]) == {"kelurahan", "complaint", "triage"}
