"""Mass casualty incidents over the API: patients shared out over ambulances and hospitals,
beds reserved as they are assigned, the close rule, reopening, and each hospital's own count
(dispatch.casualty, through the real app on each backend)."""

from __future__ import annotations

from typing import Any

from tests.dispatch_api.console import Console, error
from tests.polling import until

MCI: dict[str, Any] = {"complaint": "trauma", "triage": "kuning", "patients": 12,
                       "notes": "Tabrakan bus dan truk"}


async def hospital_ids(console: Console) -> dict[str, int]:
    return {h["code"]: h["id"] for h in (await console.get("/api/hospitals")).json()}


async def ranked(console: Console, incident_id: int, hospital_id: int) -> dict[str, Any]:
    recs = (await console.get(f"/api/incidents/{incident_id}/recommendations")).json()
    return dict(next(h for h in recs["hospitals"] if h["hospital"]["id"] == hospital_id))


async def test_patients_are_shared_out_and_the_remaining_count_is_kept(
        console: Console) -> None:
    ids = await hospital_ids(console)
    incident = await console.create_incident(**MCI)
    first = await console.assign(incident["id"], await console.unit_id("AMB-KANIGARAN"),
                                 hospital_id=ids["rsud-saleh"], patients=3)
    assert first["patients"] == 3
    second = await console.assign(incident["id"], await console.unit_id("AMB-MAYANGAN"),
                                  hospital_id=ids["rsud-arrozy"], patients=4)
    assert (await console.detail(incident["id"]))["unassigned"] == 5

    before = await console.counts()
    too_many = await console.post(f"/api/incidents/{incident['id']}/assignments",
                                  {"unit_id": await console.unit_id("AMB-JATI"), "patients": 6})
    assert too_many.status_code == 409
    body = error(too_many)
    assert body["code"] == "patients_exceed_remaining"
    assert body["message"] == "Hanya 5 dari 12 pasien yang belum mendapat ambulans"
    assert {k: body["details"][k] for k in ("asked", "unassigned", "patients")} == {
        "asked": 6, "unassigned": 5, "patients": 12}
    assert await console.counts() == before

    # Without a count a unit takes every patient left; a cancel gives its patients back.
    rest = await console.assign(incident["id"], await console.unit_id("AMB-JATI"))
    assert rest["patients"] == 5
    assert (await console.detail(incident["id"]))["unassigned"] == 0
    cancelled = await console.post(f"/api/assignments/{second['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert (await console.detail(incident["id"]))["unassigned"] == 4

    negative = await console.post(f"/api/incidents/{incident['id']}/assignments",
                                  {"unit_id": await console.unit_id("AMB-SUKOHARJO"),
                                   "patients": -1})
    assert negative.status_code == 422


async def test_a_reassigned_unit_passes_its_patients_on(console: Console) -> None:
    incident = await console.create_incident(**MCI)
    first = await console.assign(incident["id"], await console.unit_id("AMB-KANIGARAN"),
                                 patients=3)
    moved = await console.post(f"/api/assignments/{first['id']}/reassign",
                               {"unit_id": await console.unit_id("AMB-MAYANGAN")})
    assert moved.status_code == 201, moved.text
    assert moved.json()["patients"] == 3
    assert (await console.detail(incident["id"]))["unassigned"] == 9


async def test_assigned_patients_reserve_beds_for_the_next_recommendation(
        console: Console) -> None:
    ids = await hospital_ids(console)
    arrozy = ids["rsud-arrozy"]
    fresh = await console.put(f"/api/hospitals/{arrozy}/beds",
                          {"beds": [{"category": "umum", "total": 70, "free": 6}]})
    assert fresh.status_code == 200, fresh.text
    incident = await console.create_incident(**MCI)
    assert "Rawat umum kosong 6" in (await ranked(console, incident["id"], arrozy))[
        "reason"]["id"]

    await console.assign(incident["id"], await console.unit_id("AMB-KANIGARAN"),
                         hospital_id=arrozy, patients=4)
    assert "Rawat umum kosong 2" in (await ranked(console, incident["id"], arrozy))[
        "reason"]["id"]
    last = await console.assign(incident["id"], await console.unit_id("AMB-MAYANGAN"),
                                hospital_id=arrozy, patients=2)
    entry = await ranked(console, incident["id"], arrozy)
    assert "Rawat umum penuh" in entry["reason"]["id"] and entry["bed_band"] == "full"
    other = await console.create_incident(complaint="other", triage="kuning")
    assert "Rawat umum penuh" in (await ranked(console, other["id"], arrozy))["reason"]["id"]

    # A cancel releases; a delivered patient holds the bed until the hospital reports again.
    await console.post(f"/api/assignments/{last['id']}/cancel")
    assert "Rawat umum kosong 2" in (await ranked(console, incident["id"], arrozy))[
        "reason"]["id"]
    first = (await console.detail(incident["id"]))["assignments"][0]
    for trigger in ("arrive", "transport", "reach_hospital", "hand_over"):
        assert (await console.report(first["id"], trigger)).status_code == 200
    assert "Rawat umum kosong 2" in (await ranked(console, incident["id"], arrozy))[
        "reason"]["id"]
    await console.put(f"/api/hospitals/{arrozy}/beds",
                  {"beds": [{"category": "umum", "total": 70, "free": 2}]})
    assert "Rawat umum kosong 2" in (await ranked(console, incident["id"], arrozy))[
        "reason"]["id"]  # the hospital's own count now has them: not taken twice


async def test_the_incident_closes_only_when_no_patient_and_no_unit_remains(
        console: Console) -> None:
    incident = await console.create_incident(**{**MCI, "patients": 5})
    url = f"/api/incidents/{incident['id']}"
    first = await console.assign(incident["id"], await console.unit_id("AMB-KANIGARAN"),
                                 patients=3)
    refused = await console.post(f"{url}/close")
    assert refused.status_code == 409
    body = error(refused)
    assert body["code"] == "patients_unassigned"
    assert body["message"] == ("Kejadian belum bisa ditutup: 2 pasien belum mendapat "
                               "ambulans, 1 unit masih bertugas")
    english = await console.client.post(f"{url}/close",
                                        headers={**console.headers, "Accept-Language": "en"})
    assert error(english)["message"] == ("The incident cannot be closed yet: 2 patients have "
                                         "no ambulance yet, 1 units still working")

    for trigger in ("arrive", "transport", "reach_hospital", "hand_over", "clear"):
        assert (await console.report(first["id"], trigger)).status_code == 200
    detail = await console.detail(incident["id"])
    assert detail["incident"]["status"] == "new"  # waits for a unit, not closed
    assert error(await console.post(f"{url}/close"))["code"] == "patients_unassigned"

    second = await console.assign(incident["id"], await console.unit_id("AMB-MAYANGAN"))
    assert second["patients"] == 2
    assert error(await console.post(f"{url}/close"))["code"] == "units_working"
    for trigger in ("arrive", "clear"):
        assert (await console.report(second["id"], trigger)).status_code == 200
    assert (await console.detail(incident["id"]))["incident"]["status"] == "closed"
    assert error(await console.post(f"{url}/close"))["code"] == "incident_closed"


async def test_a_closed_incident_is_reopened_with_more_patients(console: Console) -> None:
    incident = await console.create_incident(**{**MCI, "patients": 2})
    url = f"/api/incidents/{incident['id']}"
    assert error(await console.post(f"{url}/reopen"))["code"] == "incident_open"
    job = await console.assign(incident["id"], await console.unit_id("AMB-KANIGARAN"))
    for trigger in ("arrive", "clear"):
        assert (await console.report(job["id"], trigger)).status_code == 200
    assert (await console.detail(incident["id"]))["incident"]["status"] == "closed"

    assert (await console.post(f"{url}/reopen", {"patients": 0})).status_code == 422
    reopened = await console.post(f"{url}/reopen", {"patients": 4})
    assert reopened.status_code == 200, reopened.text
    assert (reopened.json()["status"], reopened.json()["patients"]) == ("new", 4)
    detail = await console.detail(incident["id"])
    assert detail["unassigned"] == 2
    last = detail["audit"][-1]
    assert (last["action"], last["actor"]) == ("reopened", "dispatcher1")
    more = await console.assign(incident["id"], await console.unit_id("AMB-MAYANGAN"))
    assert more["patients"] == 2


async def test_raising_the_count_of_a_closed_incident_reopens_it(console: Console) -> None:
    incident = await console.create_incident()
    job = await console.assign(incident["id"], await console.unit_id("AMB-KANIGARAN"))
    for trigger in ("arrive", "clear"):
        assert (await console.report(job["id"], trigger)).status_code == 200
    response = await console.patch(f"/api/incidents/{incident['id']}", {"patients": 3})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "new"
    assert (await console.detail(incident["id"]))["unassigned"] == 2


async def test_each_hospital_sees_only_the_patients_bound_for_it(console: Console) -> None:
    ids = await hospital_ids(console)
    incident = await console.create_incident(**MCI)
    for callsign, code, n in (("AMB-KANIGARAN", "rsud-saleh", 3),
                              ("AMB-MAYANGAN", "rsud-arrozy", 4),
                              ("AMB-JATI", "rsud-saleh", 2)):
        await console.assign(incident["id"], await console.unit_id(callsign),
                             hospital_id=ids[code], patients=n)

    async def counts(code: str) -> list[int]:
        listed = (await console.get(f"/api/hospitals/{ids[code]}/incoming")).json()
        return sorted(p["patients"] for p in listed["patients"])

    assert await counts("rsud-saleh") == [2, 3]
    assert await counts("rsud-arrozy") == [4]


async def test_the_crew_sms_says_how_many_of_how_many(console: Console) -> None:
    incident = await console.create_incident(**MCI)
    await console.assign(incident["id"], await console.unit_id("AMB-KANIGARAN"), patients=3)

    async def dispatch_sms() -> list[dict[str, Any]]:
        listed = (await console.get(f"/api/incidents/{incident['id']}/sms")).json()
        return [m for m in listed if m["kind"] == "dispatch"]

    sent = await until(dispatch_sms, "the crew's dispatch SMS")
    assert "Bawa 3 dari 12 pasien" in sent[0]["body"]
    assert sent[0]["parts"] <= 2
    # The status link behind it says the same.
    link = next(line for line in sent[0]["body"].split("\n") if line.startswith("Lapor: "))
    page = await console.client.get("/t/" + link.rsplit("/t/", 1)[1])
    assert page.status_code == 200, page.text
    assert "Bawa 3 dari 12 pasien</p>" in page.text


async def test_an_incident_reopened_by_mistake_is_closed_again(console: Console) -> None:
    incident = await console.create_incident()
    url = f"/api/incidents/{incident['id']}"
    job = await console.assign(incident["id"], await console.unit_id("AMB-KANIGARAN"))
    for trigger in ("arrive", "clear"):
        assert (await console.report(job["id"], trigger)).status_code == 200
    assert (await console.post(f"{url}/reopen")).json()["status"] == "new"
    closed = await console.post(f"{url}/close")
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    actions = [e["action"] for e in (await console.detail(incident["id"]))["audit"]
               if e["entity_type"] == "incident"]
    assert actions[-2:] == ["reopened", "closed"]
