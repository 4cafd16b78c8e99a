"""Radio and dispatch meet through events: an officer's emergency becomes a dispatch alert,
and an assignment opens an incident talkgroup on the radio."""

from __future__ import annotations

import httpx

from tests.conftest import LiveServer
from tests.dispatch_api.console import CALL
from tests.polling import until
from tests.radio.client import RadioClient


async def test_officer_emergency_becomes_a_dispatch_alert(live_server: LiveServer) -> None:
    officer = await RadioClient.connect(live_server, "satpol1")
    await officer.send("join", talkgroup="satpolpp")
    await officer.expect("joined")
    await officer.send("location", lat=-7.7481, lon=113.2123, accuracy=12)
    await officer.send("emergency_raise")
    await officer.expect("floor_granted")
    token = await live_server.login("dispatcher1")
    async with httpx.AsyncClient(base_url=live_server.http_url,
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        async def alerts() -> list[dict[str, object]]:
            return list((await http.get("/api/alerts")).json())

        found = await until(alerts, "the radio alert")
        alert = found[0]
        assert (alert["talkgroup"], alert["username"], alert["unit"]) == (
            "satpolpp", "satpol1", "SATPOL-01")
        assert (alert["lat"], alert["lon"]) == (-7.7481, 113.2123)
        incident = await http.post(f"/api/alerts/{alert['id']}/incident",
                                   json={k: v for k, v in CALL.items() if k != "source"})
        assert incident.status_code == 201, incident.text


async def test_assignment_opens_an_incident_talkgroup(live_server: LiveServer) -> None:
    dispatcher = await RadioClient.connect(live_server, "dispatcher1")
    token = await live_server.login("dispatcher1")
    async with httpx.AsyncClient(base_url=live_server.http_url,
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        incident = (await http.post("/api/incidents", json=CALL)).json()
        units = (await http.get("/api/units")).json()
        unit = next(u for u in units if u["callsign"] == "AMB-KANIGARAN")
        assigned = await http.post(f"/api/incidents/{incident['id']}/assignments",
                                   json={"unit_id": unit["id"]})
        assert assigned.status_code == 201, assigned.text
        added = await dispatcher.expect("talkgroup_added", timeout=5)
        code = added["talkgroup"]["id"]
        assert code == incident["number"].lower()
        await dispatcher.send("join", talkgroup=code)
        await dispatcher.expect("joined", talkgroup=code)
        talkgroups = {tg["id"] for tg in (await http.get("/api/talkgroups")).json()}
        assert code in talkgroups
