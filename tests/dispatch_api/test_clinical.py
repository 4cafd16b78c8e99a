"""Clinical intake and recommendations through the real app: the patient's age, cardiac
arrest, coordinates that contradict the kelurahan, and units ranked from where they are."""

from __future__ import annotations

from typing import Any

from tests.dispatch_api.console import CALL, Console, error
from tests.dispatch_api.test_alerts import raise_alert

CURAHGRINTING = {"kelurahan": "curahgrinting", "lat": -7.7656, "lon": 113.2365}
JREBENG_KULON = {"lat": -7.7880, "lon": 113.1833}  # a centre in Kedopok, far from Kanigaran


async def hospital_ids(console: Console) -> dict[str, int]:
    return {h["code"]: h["id"] for h in (await console.get("/api/hospitals")).json()}


async def recommend(console: Console, incident_id: int) -> dict[str, Any]:
    response = await console.get(f"/api/incidents/{incident_id}/recommendations")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_coordinates_contradicting_the_kelurahan_are_flagged_not_refused(
    console: Console,
) -> None:
    incident = await console.create_incident(**JREBENG_KULON)  # kelurahan: kanigaran
    flag = incident["location_mismatch"]
    assert flag["kelurahan_code"] == "jrebeng-kulon" and flag["kelurahan"] == "Jrebeng Kulon"
    assert flag["from_chosen_m"] > 2000 and flag["from_nearest_m"] < 100
    assert flag["label"]["id"].startswith("Koordinat 5,")
    assert "Kel. Kanigaran" in flag["label"]["id"]
    assert (await console.detail(incident["id"]))["incident"]["location_mismatch"] == flag

    moved = await console.patch(f"/api/incidents/{incident['id']}",
                                {"lat": -7.7581, "lon": 113.2236})
    assert moved.status_code == 200, moved.text
    assert moved.json()["location_mismatch"] is None
    assert (await console.create_incident())["location_mismatch"] is None


async def test_a_child_goes_where_paediatrics_is_in_action(console: Console) -> None:
    saleh = (await hospital_ids(console))["rsud-saleh"]
    down = await console.put(f"/api/hospitals/{saleh}/capabilities",
                             {"unavailable": ["paediatric"], "note": "dokter anak cuti"})
    assert down.status_code == 200, down.text
    incident = await console.create_incident(complaint="respiratory", patient_age=3,
                                             patient_age_unit="years")
    assert (incident["patient_age"], incident["age_group"]) == (3, "child")
    hospitals = (await recommend(console, incident["id"]))["hospitals"]
    by_code = {h["hospital"]["code"]: h for h in hospitals}
    assert hospitals[0]["hospital"]["code"] == "rsud-arrozy"
    assert by_code["rsud-saleh"]["missing"] == ["paediatric"]
    saleh_reason = by_code["rsud-saleh"]["reason"]["id"]
    assert saleh_reason.startswith("Pasien anak: Tidak ada anak; ada IGD 24 jam")
    assert "NICU" not in saleh_reason and "NICU" not in hospitals[0]["reason"]["id"]


async def test_cardiac_arrest_sends_the_nearest_and_an_als_as_well(console: Console) -> None:
    incident = await console.create_incident(cardiac_arrest=True, **CURAHGRINTING)
    assert incident["cardiac_arrest"] is True
    units = (await recommend(console, incident["id"]))["units"]
    first, second = units[0], units[1]
    assert first["unit"]["callsign"] == "AMB-CURAHGRINTING" and first["unit"]["type"] == "bls"
    assert first["note"] == "arrest_nearest"
    assert second["unit"]["type"] == "als" and second["note"] == "arrest_als_too"
    assert second["reason"]["id"].startswith("ALS tersedia")
    assert "KIRIM JUGA" in second["reason"]["id"]
    for entry in (first, second):  # both may be sent to the one incident
        await console.assign(incident["id"], entry["unit"]["id"])
    assert len((await console.detail(incident["id"]))["assignments"]) == 2


async def test_a_unit_is_ranked_from_the_hospital_after_handover(console: Console) -> None:
    saleh = (await hospital_ids(console))["rsud-saleh"]
    incident = await console.create_incident(triage="kuning", **CURAHGRINTING)
    unit_id = await console.unit_id("AMB-CURAHGRINTING")
    assignment = await console.assign(incident["id"], unit_id, hospital_id=saleh)
    for trigger in ("arrive", "transport", "reach_hospital", "hand_over", "clear"):
        response = await console.report(assignment["id"], trigger)
        assert response.status_code == 200, response.text
    unit = await console.unit(unit_id)
    assert (unit["lat"], unit["lon"], unit["position_source"]) == (-7.7530, 113.2104,
                                                                     "hospital")
    near_saleh = await console.create_incident(triage="kuning", kelurahan="sukabumi",
                                               lat=-7.7535, lon=113.2110)
    units = (await recommend(console, near_saleh["id"]))["units"]
    entry = next(u for u in units if u["unit"]["id"] == unit_id)
    assert entry["origin"] == "hospital"
    assert "dari rumah sakit (serah terima)" in entry["reason"]["id"]


async def test_contradictory_calls_are_refused_with_their_reason(console: Console) -> None:
    before = await console.counts()
    cases = [
        ({"triage": "kuning", "cardiac_arrest": True}, "cardiac_arrest_not_merah"),
        ({"complaint": "paediatric", "patient_age": 40}, "age_contradicts_complaint"),
        ({"patient_age": 3, "patient_age_unit": "weeks"}, "invalid_request"),
        ({"patient_age": -1}, "invalid_request"),
    ]
    for body, code in cases:
        response = await console.post("/api/incidents", {**CALL, **body})
        assert response.status_code == 422, response.text
        assert error(response)["code"] == code
    assert await console.counts() == before
    incident = await console.create_incident()
    refused = await console.patch(f"/api/incidents/{incident['id']}", {"triage": "hijau",
                                                                       "cardiac_arrest": True})
    assert refused.status_code == 422 and error(refused)["code"] == "cardiac_arrest_not_merah"



async def test_an_alert_becomes_an_incident_with_the_clinical_fields(console: Console) -> None:
    alert = await raise_alert(console)
    response = await console.post(f"/api/alerts/{alert}/incident",
                                  {"complaint": "trauma", "triage": "merah", "patient_age": 9,
                                   "patient_age_unit": "days", "cardiac_arrest": True,
                                   "kelurahan": "kanigaran"})
    assert response.status_code == 201, response.text
    incident = response.json()
    assert (incident["age_group"], incident["cardiac_arrest"]) == ("neonate", True)
    # The officer stood in Sukabumi, about 2.3 km from Kanigaran's centre: flagged.
    assert incident["location_mismatch"]["kelurahan_code"] == "sukabumi"
