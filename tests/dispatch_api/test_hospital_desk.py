"""The hospital desk over the API: incoming patients as the crew reports, capabilities out of
action, the pre-arrival phone, and a hospital account confined to its own hospital (REST
and the live stream)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import httpx
import websockets
from sqlalchemy import select

from dispatch.store.models import AuditEventRow
from dispatch.travel import STRAIGHT_LINE, LatLon
from kernel.identity import Role, add_user
from tests.conftest import LiveServer
from tests.dispatch_api.console import CALL, KANIGARAN, Console, error
from tests.dispatch_api.test_stream import expect

SALEH = LatLon(-7.7530, 113.2104)  # the demo hospital's position


async def hospital_ids(console: Console) -> dict[str, int]:
    return {h["code"]: h["id"] for h in (await console.get("/api/hospitals")).json()}


async def add_arrozy_account(app_runtime: Any) -> None:
    async with app_runtime.sessions() as s, s.begin():
        await add_user(s, username="rsud-arrozy", password="demo", role=Role.HOSPITAL,
                       agency_code="rsud-arrozy", display_name="IGD RSUD Ar-Rozy")


async def test_a_patient_comes_in_as_the_crew_reports(console: Console) -> None:
    saleh = (await hospital_ids(console))["rsud-saleh"]
    igd = Console(console.app, await console.app.login("rsud-saleh"))
    path = f"/api/hospitals/{saleh}/incoming"
    assert (await igd.get(path)).json()["patients"] == []

    incident = await console.create_incident(patients=2)
    assignment = await console.assign(incident["id"], await console.unit_id("AMB-KANIGARAN"),
                                      hospital_id=saleh)
    travel = round(STRAIGHT_LINE.estimate(LatLon(**KANIGARAN), SALEH).seconds, 1)

    async def patient() -> dict[str, Any]:
        response = await igd.get(path)
        assert response.status_code == 200, response.text
        [one] = response.json()["patients"]
        return dict(one)

    first = await patient()
    assert (first["number"], first["triage"], first["complaint"], first["patients"],
            first["unit"], first["unit_type"], first["kelurahan"]) == (
        incident["number"], "merah", "cardiac", 2, "AMB-KANIGARAN", "als", "Kanigaran")
    assert first["complaint_label"] == {"id": "Jantung", "en": "Cardiac"}
    assert (first["stage"], first["expected_at"], first["travel_seconds"]) == (
        "assigned", None, travel)
    assert "caller_phone" not in first and "address" not in first  # not the IGD's business

    for trigger in ("acknowledge", "depart", "arrive"):
        assert (await console.report(assignment["id"], trigger)).status_code == 200
    assert ((await patient())["stage"], (await patient())["expected_at"]) == ("on_scene", None)

    assert (await console.report(assignment["id"], "transport")).status_code == 200
    moving = await patient()
    departed = datetime.fromisoformat(moving["times"]["transporting_at"])
    assert moving["stage"] == "transporting"
    assert datetime.fromisoformat(moving["expected_at"]) == departed + timedelta(
        seconds=travel)

    assert (await console.report(assignment["id"], "reach_hospital")).status_code == 200
    arrived = await patient()
    assert arrived["stage"] == "arrived"
    assert arrived["arrived_at"] == arrived["times"]["at_hospital_at"] == arrived["expected_at"]

    assert (await console.report(assignment["id"], "hand_over")).status_code == 200
    assert (await igd.get(path)).json()["patients"] == []


async def test_merah_comes_before_kuning_and_the_road_before_the_scene(
        console: Console) -> None:
    saleh = (await hospital_ids(console))["rsud-saleh"]
    kuning = await console.create_incident(triage="kuning")
    merah = await console.create_incident()
    moving = await console.create_incident(triage="kuning", complaint="trauma")
    await console.assign(kuning["id"], await console.unit_id("AMB-KANIGARAN"),
                         hospital_id=saleh)
    await console.assign(merah["id"], await console.unit_id("AMB-SUKOHARJO"),
                         hospital_id=saleh)
    on_road = await console.assign(moving["id"], await console.unit_id("AMB-TISNONEGARAN"),
                                   hospital_id=saleh)
    for trigger in ("acknowledge", "depart", "arrive", "transport"):
        assert (await console.report(on_road["id"], trigger)).status_code == 200
    listed = (await console.get(f"/api/hospitals/{saleh}/incoming")).json()["patients"]
    assert [p["number"] for p in listed] == [merah["number"], moving["number"],
                                             kuning["number"]]


async def test_a_hospital_account_reads_and_changes_only_its_own(console: Console) -> None:
    ids = await hospital_ids(console)
    igd = Console(console.app, await console.app.login("rsud-saleh"))
    other = ids["rsud-arrozy"]
    incident = await console.create_incident()
    await console.assign(incident["id"], await console.unit_id("AMB-KANIGARAN"),
                         hospital_id=other)
    for path in (f"/api/hospitals/{other}/incoming", f"/api/hospitals/{other}",
                 f"/api/hospitals/{other}/cap"):
        response = await igd.get(path)
        assert response.status_code == 404, path
        assert error(response)["code"] == "unknown_hospital"
    for path, body in ((f"/api/hospitals/{other}/capabilities", {"unavailable": []}),
                       (f"/api/hospitals/{other}/phone", {"phone": "081234567890"}),
                       (f"/api/hospitals/{other}/accepting", {"accepting": False})):
        response = await igd.put(path, body)
        assert response.status_code == 403, path
        assert error(response)["code"] == "not_your_hospital"
    # The dispatcher sees the patient there; the account's own list stays empty.
    assert len((await console.get(f"/api/hospitals/{other}/incoming")).json()["patients"]) == 1
    own = (await igd.get(f"/api/hospitals/{ids['rsud-saleh']}/incoming")).json()
    assert own["patients"] == []
    officer = Console(console.app, await console.app.login("satpol1"))
    assert (await officer.get(f"/api/hospitals/{other}/incoming")).status_code == 403
    assert (await igd.get(f"/api/incidents/{incident['id']}/cap")).status_code == 403


async def test_capabilities_out_of_action_leave_the_ranking(console: Console) -> None:
    saleh = (await hospital_ids(console))["rsud-saleh"]
    igd = Console(console.app, await console.app.login("rsud-saleh"))
    incident = await console.create_incident(complaint="obstetric", triage="kuning")

    async def saleh_missing() -> list[str]:
        recs = (await console.get(f"/api/incidents/{incident['id']}/recommendations")).json()
        return list(next(h for h in recs["hospitals"] if h["hospital"]["id"] == saleh)[
            "missing"])

    assert await saleh_missing() == []
    note = "Tidak ada dokter kandungan malam ini"
    response = await igd.put(f"/api/hospitals/{saleh}/capabilities",
                             {"unavailable": ["obstetric", "cardiac"], "note": note})
    assert response.status_code == 200, response.text
    view = response.json()
    assert (view["capabilities_unavailable"], view["capabilities_note"]) == (
        ["cardiac", "obstetric"], note)
    assert "obstetric" in view["capabilities"]  # still its own capability, out of action
    changed = view["capabilities_changed_at"]
    assert changed is not None
    assert await saleh_missing() == ["obstetric"]
    async with console.app.runtime.sessions() as s:
        last = (await s.execute(select(AuditEventRow).where(
            AuditEventRow.entity_type == "hospital", AuditEventRow.entity_id == saleh)
            .order_by(AuditEventRow.id.desc()).limit(1))).scalar_one()
    assert (last.action, last.actor) == ("capabilities_changed", "rsud-saleh")
    assert last.before is not None and last.after is not None
    assert (last.before["capabilities_unavailable"], last.after["capabilities_unavailable"]) \
        == ([], ["cardiac", "obstetric"])

    back = (await igd.put(f"/api/hospitals/{saleh}/capabilities", {"unavailable": []})).json()
    assert back["capabilities_unavailable"] == [] and back["capabilities_note"] == ""
    assert back["capabilities_changed_at"] >= changed
    assert await saleh_missing() == []

    ct = await igd.put(f"/api/hospitals/{saleh}/capabilities", {"unavailable": ["ct_scan"]})
    assert ct.status_code == 422 and error(ct)["code"] == "capability_not_offered"
    assert error(ct)["details"]["capabilities"] == ["ct_scan"]
    for body in ({"unavailable": ["teleport"]}, {"unavailable": [], "note": "x" * 201},
                 {"unavailable": [], "extra": 1}, {}):
        response = await igd.put(f"/api/hospitals/{saleh}/capabilities", body)
        assert response.status_code == 422 and error(response)["code"] == "invalid_request"


async def test_a_hospital_phone_is_stored_e164(console: Console) -> None:
    saleh = (await hospital_ids(console))["rsud-saleh"]
    igd = Console(console.app, await console.app.login("rsud-saleh"))
    response = await igd.put(f"/api/hospitals/{saleh}/phone", {"phone": "0812-3456-7890"})
    assert response.status_code == 200, response.text
    assert response.json()["phone"] == "+6281234567890"
    bad = await console.put(f"/api/hospitals/{saleh}/phone", {"phone": "12"})
    assert bad.status_code == 422
    assert (error(bad)["code"], error(bad)["details"]["phone"]) == ("invalid_phone", "12")
    cleared = await console.put(f"/api/hospitals/{saleh}/phone", {"phone": None})
    assert cleared.status_code == 200 and cleared.json()["phone"] is None
    missing = await console.put(f"/api/hospitals/{saleh}/phone", {})
    assert missing.status_code == 422


async def test_the_stream_sends_a_hospital_only_its_own(live_server: LiveServer) -> None:
    await add_arrozy_account(live_server.runtime)
    tokens = {u: await live_server.login(u) for u in ("dispatcher1", "rsud-saleh",
                                                      "rsud-arrozy")}

    def stream(user: str) -> Any:
        return websockets.connect(
            f"{live_server.ws_url}/api/dispatch/stream?token={tokens[user]}")

    async with stream("rsud-saleh") as saleh_ws, stream("rsud-arrozy") as arrozy_ws, \
            httpx.AsyncClient(base_url=live_server.http_url, headers={
                "Authorization": f"Bearer {tokens['dispatcher1']}"}) as http:
        welcome = await expect(saleh_ws, "welcome")
        ids = {h["code"]: h["id"] for h in (await http.get("/api/hospitals")).json()}
        assert (welcome["role"], welcome["hospital_id"]) == ("hospital", ids["rsud-saleh"])
        assert (await expect(arrozy_ws, "welcome"))["hospital_id"] == ids["rsud-arrozy"]

        incident = (await http.post("/api/incidents", json=CALL)).json()
        units = {u["callsign"]: u["id"] for u in (await http.get("/api/units")).json()}
        assignment = (await http.post(f"/api/incidents/{incident['id']}/assignments", json={
            "unit_id": units["AMB-KANIGARAN"], "hospital_id": ids["rsud-saleh"]})).json()
        # Saleh's first message is its list with the patient: no incident, unit or
        # assignment message (they carry the caller's name and phone) came before it.
        first = json.loads(await asyncio.wait_for(saleh_ws.recv(), 5))
        assert (first["type"], first["hospital_id"]) == ("incoming", ids["rsud-saleh"])
        assert [p["number"] for p in first["patients"]] == [incident["number"]]

        assert (await http.post(f"/api/assignments/{assignment['id']}/status",
                                json={"trigger": "acknowledge"})).status_code == 200
        acked = json.loads(await asyncio.wait_for(saleh_ws.recv(), 5))
        assert acked["type"] == "incoming"
        assert acked["patients"][0]["status"] == "acknowledged"

        # The destination moves: the patient leaves Saleh's screen and reaches Ar-Rozy's.
        assert (await http.put(f"/api/assignments/{assignment['id']}/destination",
                               json={"hospital_id": ids["rsud-arrozy"]})).status_code == 200
        left = json.loads(await asyncio.wait_for(saleh_ws.recv(), 5))
        assert (left["type"], left["patients"]) == ("incoming", [])
        # Ar-Rozy's first list (sent on the first change after it connected) was empty:
        # nothing of the patient while it was bound for Saleh.
        empty = json.loads(await asyncio.wait_for(arrozy_ws.recv(), 5))
        assert (empty["type"], empty["patients"]) == ("incoming", [])
        came = json.loads(await asyncio.wait_for(arrozy_ws.recv(), 5))
        assert (came["type"], came["hospital_id"]) == ("incoming", ids["rsud-arrozy"])
        assert [p["assignment_id"] for p in came["patients"]] == [assignment["id"]]

        # Another hospital's beds are not Saleh's business; its own are.
        beds = {"beds": [{"category": "icu", "total": 4, "free": 0}]}
        assert (await http.put(f"/api/hospitals/{ids['rsud-arrozy']}/beds",
                               json=beds)).status_code == 200
        assert (await expect(arrozy_ws, "beds.updated"))["hospital"]["code"] == "rsud-arrozy"
        assert (await http.put(f"/api/hospitals/{ids['rsud-saleh']}/beds",
                               json=beds)).status_code == 200
        own = json.loads(await asyncio.wait_for(saleh_ws.recv(), 5))
        assert (own["type"], own["hospital"]["code"]) == ("beds.updated", "rsud-saleh")


async def test_a_failing_incoming_list_does_not_undo_the_command(
        console: Console, monkeypatch: Any, caplog: Any) -> None:
    saleh = (await hospital_ids(console))["rsud-saleh"]
    screen = console.service.hub.subscribe("igd", saleh)

    async def broken(*args: Any) -> Any:
        raise RuntimeError("database went away")

    monkeypatch.setattr(console.service, "_incoming_lists", broken)
    incident = await console.create_incident()
    assignment = await console.assign(incident["id"], await console.unit_id("AMB-KANIGARAN"),
                                      hospital_id=saleh)  # 201: committed and answered
    assert (await console.detail(incident["id"]))["assignments"][0]["id"] == assignment["id"]
    assert screen.pending() == 0
    assert "incoming lists not sent" in caplog.text
    screen.close()
