"""Who may do what: dispatch roles work incidents, hospitals report their own beds only."""

from __future__ import annotations

from tests.conftest import App
from tests.dispatch_api.console import CALL, Console, error

DISPATCH_ONLY = [
    ("GET", "/api/incidents"), ("POST", "/api/incidents"), ("GET", "/api/units"),
    ("GET", "/api/alerts"), ("GET", "/api/reports/intervals"),
    ("GET", "/api/reports/intervals.csv"),
]


async def test_officers_and_hospitals_cannot_work_incidents(app: App) -> None:
    for username in ("satpol1", "dishub1", "rsud-saleh"):
        headers = await app.login(username)
        for method, path in DISPATCH_ONLY:
            response = await app.client.request(method, path, headers=headers,
                                                json=CALL if method == "POST" else None)
            assert response.status_code == 403, (username, path, response.text)
            assert error(response)["code"] == "forbidden"


async def test_officers_cannot_see_hospitals(app: App) -> None:
    response = await app.client.get("/api/hospitals", headers=await app.login("satpol1"))
    assert response.status_code == 403


async def test_no_token_is_401(app: App) -> None:
    response = await app.client.get("/api/incidents")
    assert response.status_code == 401
    assert error(response)["code"] == "unauthorized"


async def _hospital_ids(console: Console) -> dict[str, int]:
    return {h["code"]: h["id"] for h in (await console.get("/api/hospitals")).json()}


async def test_a_hospital_reports_its_own_beds(console: Console) -> None:
    ids = await _hospital_ids(console)
    hospital = Console(console.app, await console.app.login("rsud-saleh"))
    response = await hospital.put(f"/api/hospitals/{ids['rsud-saleh']}/beds",
                                  {"beds": [{"category": "icu", "total": 10, "free": 2}]})
    assert response.status_code == 200, response.text
    icu = next(b for b in response.json()["beds"] if b["category"] == "icu")
    assert (icu["free"], icu["total"], icu["age_seconds"]) == (2, 10, 0.0)
    response = await hospital.put(f"/api/hospitals/{ids['rsud-saleh']}/accepting",
                                  {"accepting": False})
    assert response.json()["accepting"] is False


async def test_a_hospital_cannot_touch_another_hospital(console: Console) -> None:
    ids = await _hospital_ids(console)
    hospital = Console(console.app, await console.app.login("rsud-saleh"))
    before = await console.counts()
    response = await hospital.put(f"/api/hospitals/{ids['rsud-arrozy']}/beds",
                                  {"beds": [{"category": "icu", "total": 4, "free": 4}]})
    assert response.status_code == 403
    assert error(response)["code"] == "not_your_hospital"
    response = await hospital.put(f"/api/hospitals/{ids['rsud-arrozy']}/accepting",
                                  {"accepting": False})
    assert response.status_code == 403
    assert await console.counts() == before
    arrozy = (await console.get(f"/api/hospitals/{ids['rsud-arrozy']}")).json()
    assert arrozy["accepting"] is True


async def test_a_hospital_reads_only_its_own_hospital(console: Console) -> None:
    ids = await _hospital_ids(console)
    hospital = Console(console.app, await console.app.login("rsud-saleh"))
    listed = (await hospital.get("/api/hospitals")).json()
    assert [h["code"] for h in listed] == ["rsud-saleh"]
    assert (await hospital.get(f"/api/hospitals/{ids['rsud-saleh']}")).status_code == 200
    other = await hospital.get(f"/api/hospitals/{ids['rsud-arrozy']}")
    assert other.status_code == 404
    assert len(await _hospital_ids(console)) == 2  # dispatchers still see every hospital


async def test_psc_staff_may_report_any_hospital_by_phone(console: Console) -> None:
    ids = await _hospital_ids(console)
    response = await console.put(f"/api/hospitals/{ids['rsud-arrozy']}/beds",
                                 {"beds": [{"category": "igd", "total": 12, "free": 0}]})
    assert response.status_code == 200


async def test_impossible_bed_counts_are_refused(console: Console) -> None:
    ids = await _hospital_ids(console)
    before = await console.counts()
    response = await console.put(f"/api/hospitals/{ids['rsud-saleh']}/beds",
                                 {"beds": [{"category": "icu", "total": 2, "free": 3}]})
    assert response.status_code == 422
    assert error(response)["code"] == "invalid_beds"
    assert await console.counts() == before


async def test_a_diverting_hospital_ranks_last(console: Console) -> None:
    ids = await _hospital_ids(console)
    await console.put(f"/api/hospitals/{ids['rsud-saleh']}/accepting", {"accepting": False})
    incident = await console.create_incident(complaint="trauma", triage="kuning")
    recs = (await console.get(f"/api/incidents/{incident['id']}/recommendations")).json()
    assert [h["hospital"]["code"] for h in recs["hospitals"]] == ["rsud-arrozy", "rsud-saleh"]
    assert recs["hospitals"][1]["bed_band"] == "diverting"
