"""Reports and exports over the API: period and kecamatan filters as people type them (422,
never 500, for nonsense), the EIDO export against a schema of the standard's field list, and
the CAP 1.2 alerts of a diversion and a mass casualty incident."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import jsonschema
import pytest

from dispatch.reports import WIB
from tests.conftest import App, make_settings, running_app
from tests.dispatch.cap_schema import NS, texts, valid_cap
from tests.dispatch_api.console import Console, error

EIDO_SCHEMA = json.loads(
    (Path(__file__).resolve().parents[1] / "schemas" / "eido.schema.json").read_text())
ROUTES = ("/api/incidents", "/api/reports/intervals", "/api/reports/intervals.csv")


async def numbers(console: Console, path: str, **params: str) -> list[str]:
    response = await console.get(path, params=params)
    assert response.status_code == 200, response.text
    if path.endswith(".csv"):
        return [line.split(",")[0] for line in response.text.splitlines()[1:]]
    body = response.json()
    rows = body["incidents"] if isinstance(body, dict) else body
    return [r["number"] for r in rows]


async def test_a_date_is_a_wib_day_and_a_time_without_zone_is_wib(console: Console) -> None:
    incident = await console.create_incident()
    created = datetime.fromisoformat(incident["created_at"]).astimezone(WIB)
    day = created.date()
    before = (created - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
    after = (created + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
    for path in ROUTES:
        mine = [incident["number"]]
        assert await numbers(console, path, since=day.isoformat(),
                             until=day.isoformat()) == mine, path
        assert await numbers(console, path, until=(day - timedelta(days=1)).isoformat()) == []
        assert await numbers(console, path, since=(day + timedelta(days=1)).isoformat()) == []
        # Read as UTC, "a minute before, WIB" would be seven hours ahead and find nothing.
        assert await numbers(console, path, since=before, until=after) == mine, path
        assert await numbers(console, path, since=after) == []
        zoned = (created - timedelta(minutes=1)).isoformat()  # with its +07:00
        assert await numbers(console, path, since=zoned) == mine


@pytest.mark.parametrize(("params", "code"), [
    ({"since": "yesterday"}, "invalid_date"),
    ({"since": "2026-02-30"}, "invalid_date"),
    ({"until": "2026-12-01T25:00"}, "invalid_date"),
    ({"until": "9999-12-31"}, "invalid_date"),
    ({"since": "1733000000"}, "invalid_date"),
    ({"since": "2026-12-02", "until": "2026-12-01"}, "invalid_period"),
    ({"since": "2026-12-01T10:00", "until": "2026-12-01T10:00"}, "invalid_period"),
    ({"kecamatan": "Atlantis"}, "unknown_kecamatan"),
])
async def test_nonsense_is_a_422_naming_the_parameter(console: Console, params: dict[str, str],
                                                      code: str) -> None:
    for path in ROUTES:
        response = await console.get(path, params=params)
        assert response.status_code == 422, (path, response.text)
        assert error(response)["code"] == code
        assert error(response)["details"]["reason"]["en"]
    if code == "unknown_kecamatan":
        known = error(response)["details"]["known"]
        assert {k["name"] for k in known} == {"Kademangan", "Kanigaran", "Kedopok", "Mayangan",
                                              "Wonoasih"}
    too_long = await console.get("/api/incidents", params={"since": "2" * 41})
    assert too_long.status_code == 422


async def test_a_kecamatan_by_its_name_or_its_code(console: Console) -> None:
    kanigaran = await console.create_incident()
    await console.create_incident(kelurahan="mayangan", lat=-7.7355, lon=113.2220)
    for path in ROUTES:
        for given in ("kanigaran", "Kanigaran", " KANIGARAN "):
            assert await numbers(console, path, kecamatan=given) == [kanigaran["number"]], (
                path, given)


async def test_the_eido_export_follows_the_standard_field_list(console: Console) -> None:
    hospitals = {h["code"]: h["id"] for h in (await console.get("/api/hospitals")).json()}
    incident = await console.create_incident(determinant="09-E-01")
    assignment = await console.assign(incident["id"], await console.unit_id("AMB-KANIGARAN"),
                                      hospital_id=hospitals["rsud-saleh"])
    for trigger in ("acknowledge", "depart", "arrive"):
        assert (await console.report(assignment["id"], trigger)).status_code == 200
    response = await console.get(f"/api/incidents/{incident['id']}/eido")
    assert response.status_code == 200
    doc = response.json()
    validator = jsonschema.Draft202012Validator(EIDO_SCHEMA)
    assert list(validator.iter_errors(doc)) == []
    # What a schema cannot say: references name components that exist.
    inc = doc["incidentComponent"]
    assert inc["callReference"] in {c["componentIdentifier"] for c in doc["callComponent"]}
    assert inc["locationReference"] in {c["componentIdentifier"]
                                        for c in doc["locationComponent"]}
    ids = [c["componentIdentifier"] for key, value in doc.items() if key.endswith("Component")
           for c in (value if isinstance(value, list) else [value])]
    assert len(ids) == len(set(ids))
    [resource] = doc["emergencyResourceComponent"]
    assert set(resource["timeStamps"]) == {"dispatched_at", "acknowledged_at", "en_route_at",
                                           "on_scene_at"}

    # The schema is not a rubber stamp: a misnamed field, a stamp without its zone, a
    # component without its identifier are refused.
    for broken in (
        {**doc, "incidentComponent": {**inc, "incidentTypeText": "Medical"}},
        {**doc, "lastUpdateTimeStamp": doc["lastUpdateTimeStamp"][:19]},
        {**doc, "callComponent": [{k: v for k, v in doc["callComponent"][0].items()
                                   if k != "componentIdentifier"}]},
        {**doc, "personComponent": [{**doc["personComponent"][1], "triageCategoryText": "red"}]},
    ):
        assert list(validator.iter_errors(broken)), broken


async def test_a_diversion_as_a_cap_alert(console: Console) -> None:
    hospitals = {h["code"]: h["id"] for h in (await console.get("/api/hospitals")).json()}
    saleh = hospitals["rsud-saleh"]
    igd = Console(console.app, await console.app.login("rsud-saleh"))
    never = await console.get(f"/api/hospitals/{hospitals['rsud-arrozy']}/cap")
    assert never.status_code == 409 and error(never)["code"] == "no_diversion"

    assert (await igd.put(f"/api/hospitals/{saleh}/accepting",
                          {"accepting": False})).status_code == 200
    response = await igd.get(f"/api/hospitals/{saleh}/cap")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/cap+xml")
    root = valid_cap(response.text)
    assert texts(root, "cap:msgType") == ["Alert"]
    assert texts(root, "cap:sender") == ["psc119@127.0.0.1"]  # SIAGA_PUBLIC_URL's host
    assert texts(root, "cap:info/cap:event") == ["Pengalihan rumah sakit", "Hospital diversion"]

    assert (await igd.put(f"/api/hospitals/{saleh}/accepting",
                          {"accepting": True})).status_code == 200
    again = valid_cap((await console.get(f"/api/hospitals/{saleh}/cap")).text)
    assert texts(again, "cap:msgType") == ["Update"]
    assert texts(again, "cap:identifier") != texts(root, "cap:identifier")


@pytest.fixture
async def mci_app(sqlite_url: str, tmp_path: Path) -> AsyncIterator[App]:
    async with running_app(make_settings(sqlite_url, tmp_path,
                                         mass_casualty_patients=5)) as app:
        yield app


async def test_a_mass_casualty_incident_as_a_cap_alert(mci_app: App) -> None:
    console = Console(mci_app, await mci_app.login("dispatcher1"))
    assert console.service.config.mass_casualty_patients == 5  # SIAGA_MASS_CASUALTY_PATIENTS
    small = await console.create_incident(patients=4)
    refused = await console.get(f"/api/incidents/{small['id']}/cap")
    assert refused.status_code == 409
    details = error(refused)["details"]
    assert (error(refused)["code"], details["patients"], details["threshold"]) == (
        "not_mass_casualty", 4, 5)

    hospitals = {h["code"]: h["id"] for h in (await console.get("/api/hospitals")).json()}
    crash = await console.create_incident(patients=5, complaint="trauma")
    for callsign in ("AMB-KANIGARAN", "AMB-SUKOHARJO"):
        await console.assign(crash["id"], await console.unit_id(callsign),
                             hospital_id=hospitals["rsud-saleh"])
    root = valid_cap((await console.get(f"/api/incidents/{crash['id']}/cap")).text)
    assert texts(root, "cap:msgType") == ["Alert"]
    assert texts(root, "cap:incidents") == [crash["number"]]
    params = dict(zip(texts(root, "cap:info[1]/cap:parameter/cap:valueName"),
                      texts(root, "cap:info[1]/cap:parameter/cap:value"), strict=True))
    assert params == {"patients": "5", "units_to:RSUD dr. Mohamad Saleh": "2"}

    assert (await console.post(f"/api/incidents/{crash['id']}/cancel")).status_code == 200
    cancelled = valid_cap((await console.get(f"/api/incidents/{crash['id']}/cap")).text)
    assert texts(cancelled, "cap:msgType") == ["Cancel"]
    assert cancelled.find("cap:info", NS) is not None
    igd = Console(mci_app, await mci_app.login("rsud-saleh"))
    assert (await igd.get(f"/api/incidents/{crash['id']}/cap")).status_code == 403

