"""Bad input is refused with a precise 4xx and writes nothing (rows, audit, counters, units)."""

from __future__ import annotations

from typing import Any

from tests.dispatch_api.console import CALL, Console, error

BAD_CALLS: list[tuple[str, dict[str, Any], int, str, str]] = [
    ("surabaya-coordinates", {"lat": -7.2575, "lon": 112.7521}, 422, "outside_service_area",
     "di luar wilayah layanan"),
    ("unsigned-latitude", {"lat": 7.7581, "lon": 113.2236}, 422, "outside_service_area",
     "di luar wilayah layanan"),
    ("unknown-kelurahan", {"kelurahan": "atlantis"}, 422, "unknown_kelurahan",
     "Kelurahan tidak dikenal: 'atlantis'"),
    ("short-phone", {"caller_phone": "12345"}, 422, "invalid_phone",
     "Nomor telepon tidak valid: '12345'"),
    ("letters-in-phone", {"caller_phone": "+62 abc def"}, 422, "invalid_phone",
     "Nomor telepon tidak valid"),
    ("no-such-triage-colour", {"triage": "ungu"}, 422, "invalid_request",
     "triage: Input should be"),
    ("no-such-complaint", {"complaint": "sneezing"}, 422, "invalid_request", "complaint:"),
    ("half-a-position", {"lat": -7.75, "lon": None}, 422, "coordinates_incomplete",
     "lintang dan bujur"),
    ("no-patient", {"patients": 0}, 422, "invalid_request", "patients:"),
    ("latitude-out-of-range", {"lat": 95.0}, 422, "invalid_request", "lat:"),
]


async def test_a_bad_call_is_refused_and_nothing_is_written(console: Console) -> None:
    # One app for all cases (an app start-up costs more than the cases themselves).
    for case, change, status, code, message in BAD_CALLS:
        before = await console.counts()
        response = await console.post("/api/incidents", {**CALL, **change})
        assert response.status_code == status, (case, response.text)
        body = error(response)
        assert body["code"] == code, case
        assert message in body["message"], case
        assert await console.counts() == before, case


async def test_the_message_is_english_when_asked(console: Console) -> None:
    response = await console.client.post(
        "/api/incidents", json={**CALL, "kelurahan": "atlantis"},
        headers={**console.headers, "Accept-Language": "en-GB"})
    body = error(response)
    assert body["message"] == "Unknown kelurahan: 'atlantis'"
    assert body["details"]["reason"]["id"] == "Kelurahan tidak dikenal: 'atlantis'"
    assert "kanigaran" in body["details"]["known"]


async def test_a_bad_correction_writes_nothing(console: Console) -> None:
    incident = await console.create_incident()
    before = await console.counts()
    response = await console.patch(f"/api/incidents/{incident['id']}",
                                   {"caller_phone": "0000", "notes": "tidak tersimpan"})
    assert response.status_code == 422
    assert error(response)["code"] == "invalid_phone"
    assert await console.counts() == before
    assert (await console.detail(incident["id"]))["incident"]["notes"] == incident["notes"]


async def test_an_unknown_incident_or_unit_is_404(console: Console) -> None:
    incident = await console.create_incident()
    before = await console.counts()
    response = await console.post("/api/incidents/9999/assignments", {"unit_id": 1})
    assert (response.status_code, error(response)["code"]) == (404, "unknown_incident")
    response = await console.post(f"/api/incidents/{incident['id']}/assignments",
                                  {"unit_id": 9999})
    assert (response.status_code, error(response)["code"]) == (404, "unknown_unit")
    assert await console.counts() == before


async def test_assigning_an_out_of_service_unit_is_refused(console: Console) -> None:
    unit = await console.unit_id("AMB-JATI")
    response = await console.post(f"/api/units/{unit}/service", {"in_service": False})
    assert response.json()["status"] == "out_of_service"
    incident = await console.create_incident()
    before = await console.counts()
    response = await console.post(f"/api/incidents/{incident['id']}/assignments",
                                  {"unit_id": unit})
    assert response.status_code == 409
    body = error(response)
    assert body["code"] == "unit_out_of_service"
    assert body["message"] == "Unit tidak bisa ditugaskan: status Tidak bertugas"
    assert body["details"]["unit"]["status"] == "out_of_service"
    assert await console.counts() == before


async def test_assigning_a_busy_unit_is_refused_with_its_current_job(console: Console) -> None:
    unit = await console.unit_id("AMB-KANIGARAN")
    first = await console.create_incident()
    await console.assign(first["id"], unit)
    second = await console.create_incident()
    before = await console.counts()
    response = await console.post(f"/api/incidents/{second['id']}/assignments",
                                  {"unit_id": unit})
    assert response.status_code == 409
    body = error(response)
    assert body["code"] == "unit_busy"
    assert body["details"]["unit"]["incident_number"] == first["number"]
    assert body["details"]["reason"]["en"] == "Unit cannot be dispatched: status Dispatched"
    assert await console.counts() == before


ILLEGAL: list[tuple[str, list[str], str, str]] = [
    ("clear-before-scene", [], "clear", "scene_not_reached"),
    ("decline-on-scene", ["arrive"], "decline", "decline_too_late"),
    ("backwards", ["transport"], "depart", "status_already_passed"),
    ("after-closing", ["arrive", "clear"], "arrive", "assignment_closed"),
    ("handover-without-patient", [], "hand_over", "no_patient_on_board"),
]
UNITS = ["AMB-KANIGARAN", "AMB-TISNONEGARAN", "AMB-SUKOHARJO", "AMB-CURAHGRINTING",
         "AMB-KEBONSARI-WETAN"]


async def test_an_illegal_status_is_refused_with_the_lifecycle_reason(console: Console) -> None:
    for (case, steps, trigger, code), callsign in zip(ILLEGAL, UNITS, strict=True):
        incident = await console.create_incident()
        assignment = await console.assign(incident["id"], await console.unit_id(callsign))
        for step in steps:
            assert (await console.report(assignment["id"], step)).status_code == 200
        before = await console.counts()
        response = await console.report(assignment["id"], trigger)
        assert response.status_code == 409, (case, response.text)
        body = error(response)
        assert body["code"] == code, case
        assert body["details"]["trigger"] == trigger
        assert body["details"]["reason"]["id"] and body["details"]["reason"]["en"]
        assert body["message"] == body["details"]["reason"]["id"]
        assert await console.counts() == before, case


async def test_taking_a_busy_unit_out_of_service_withdraws_it_from_its_job(
        console: Console) -> None:
    unit = await console.unit_id("AMB-KANIGARAN")
    incident = await console.create_incident()
    await console.assign(incident["id"], unit)
    response = await console.post(f"/api/units/{unit}/service", {"in_service": False})
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["out_of_service_by"]) == (
        "out_of_service", "dispatcher")
    [assignment] = (await console.detail(incident["id"]))["assignments"]
    assert (assignment["status"], assignment["cancel_reason"], assignment["cancelled_by"]) == (
        "cancelled", "out_of_service", "dispatcher1")


async def test_unknown_fields_are_refused(console: Console) -> None:
    before = await console.counts()
    response = await console.post("/api/incidents", {**CALL, "priority": 1})
    assert response.status_code == 422
    assert error(response)["message"].startswith("priority:")
    assert await console.counts() == before


async def test_a_correction_cannot_null_a_required_field(console: Console) -> None:
    incident = await console.create_incident()
    before = await console.counts()
    response = await console.patch(f"/api/incidents/{incident['id']}", {"triage": None})
    assert response.status_code == 422
    assert "triage cannot be null" in error(response)["message"]
    assert await console.counts() == before
