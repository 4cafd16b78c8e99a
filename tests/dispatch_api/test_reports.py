"""Response-interval reports, CSV and the EIDO-style export over the API (the pure rules are
checked in tests/dispatch/test_reports.py)."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from dispatch import reports
from tests.dispatch_api.console import Console


async def test_interval_report_and_csv_over_the_api(console: Console) -> None:
    incident = await console.create_incident()
    assignment = await console.assign(incident["id"], await console.unit_id("AMB-KANIGARAN"))
    for trigger in ("depart", "arrive", "transport", "reach_hospital"):
        await console.report(assignment["id"], trigger)
    await console.create_incident(kelurahan="jati", lat=None, lon=None)

    report = (await console.get("/api/reports/intervals")).json()
    assert [r["number"] for r in report["incidents"]][0] == incident["number"]
    first = report["incidents"][0]
    assert first["call_to_dispatch"] >= 0 and first["dispatch_to_scene"] >= 0
    assert first["scene_to_hospital"] >= 0
    assert {s["group"] for s in report["by_kecamatan"]} == {"Kanigaran", "Mayangan"}
    kanigaran = next(s for s in report["by_kecamatan"] if s["group"] == "Kanigaran")
    assert kanigaran["dispatch_to_scene"]["n"] == 1

    response = await console.get("/api/reports/intervals.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(response.text)))
    assert lines[0] == list(reports.CSV_COLUMNS)
    assert len(lines) == 3
    assert lines[2][-3:] == ["", "", ""]  # the Jati call has no unit yet


async def test_eido_export_has_components_with_ids_and_update_stamps(console: Console) -> None:
    incident = await console.create_incident(determinant="10-D-1")
    assignment = await console.assign(incident["id"], await console.unit_id("AMB-KANIGARAN"))
    await console.report(assignment["id"], "arrive")
    doc = (await console.get(f"/api/incidents/{incident['id']}/eido")).json()

    assert doc["incidentComponent"]["incidentTrackingIdentifier"] == (
        f"urn:siaga:incident:{incident['number']}")
    assert doc["incidentComponent"]["determinantCode"] == "10-D-1"
    components = [doc["incidentComponent"], *doc["callComponent"], *doc["locationComponent"],
                  *doc["personComponent"], *doc["emergencyResourceComponent"],
                  *doc["agencyComponent"], *doc["notesComponent"]]
    ids = [c["componentIdentifier"] for c in components]
    assert len(ids) == len(set(ids)) == 8
    for component in components:
        datetime.fromisoformat(component["lastUpdateTimeStamp"])
    resource = doc["emergencyResourceComponent"][0]
    assert resource["resourceIdentifier"] == "AMB-KANIGARAN"
    assert set(resource["timeStamps"]) == {"dispatched_at", "acknowledged_at", "on_scene_at"}
    assert resource["lastUpdateTimeStamp"] == resource["timeStamps"]["on_scene_at"]
    assert doc["lastUpdateTimeStamp"] == max(c["lastUpdateTimeStamp"] for c in components)
    assert doc["locationComponent"][0]["point"]["latitude"] == incident["lat"]
