"""The demo set-up (console gateway): SMS kept in memory, a crew's reply simulated by a
dispatcher, and the console's view of every SMS."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from dispatch.replies import HELP_TEXT
from dispatch.sms.console import ConsoleGateway
from dispatch.store.models import HospitalRow, UnitRow
from tests.sms_flow.conftest import CREW, Site, site_for


async def simulate(site: Site, body: str, from_: str = CREW) -> dict[str, object]:
    response = await site.console.post("/api/sms/simulate", {"from": from_, "body": body})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_simulated_reply_goes_through_the_reply_path(console_site: Site) -> None:
    incident, _ = await console_site.dispatch()
    gateway = console_site.sms.outbox.gateway
    assert isinstance(gateway, ConsoleGateway)
    [sent] = gateway.recent()
    assert sent.to == CREW and sent.body.startswith(incident["number"])

    done = await simulate(console_site, "0812-0001-0008 is not a command")
    assert done["answer"] == HELP_TEXT
    done = await simulate(console_site, "1", from_="081200010008")  # national form
    assert done["answer"] is None
    assert (await console_site.assignment(incident["id"]))["status"] == "en_route"
    await console_site.settle()
    thread = await console_site.thread(incident["id"])
    assert [(m["direction"], m["kind"], m.get("result")) for m in thread] == [
        ("out", "dispatch", None), ("in", "crew", "bad_reply"), ("out", "reply", None),
        ("in", "crew", "applied")]
    assert thread[2]["body"] == HELP_TEXT and gateway.recent()[-1].body == HELP_TEXT


async def test_the_sms_api_is_for_dispatchers(console_site: Site) -> None:
    incident, _ = await console_site.dispatch()
    officer = {"Authorization": f"Bearer {await console_site.live.login('satpol1')}"}
    client = console_site.console.client
    for method, path in (("GET", f"/api/incidents/{incident['id']}/sms"), ("GET", "/api/sms"),
                         ("POST", "/api/sms/simulate")):
        response = await client.request(method, path, headers=officer,
                                        json={"from": CREW, "body": "1"})
        assert response.status_code == 403, path
        assert (await client.request(method, path, json={})).status_code == 401
    assert (await console_site.console.get("/api/incidents/999/sms")).status_code == 404
    assert (await client.post("/sms/http/inbound", content=b"{}")).status_code == 404


async def test_prearrival_sms_a_unit_without_a_phone_and_the_ack_time(
        db_url: str, tmp_path: Path) -> None:
    async with site_for(db_url, tmp_path, None, hospital_prearrival_sms=True,
                        sms_ack_timeout_seconds=45) as site:
        async with site.live.runtime.sessions() as s, s.begin():
            await s.execute(update(HospitalRow).where(HospitalRow.code == "rsud-saleh")
                            .values(phone="+62335421118"))
            await s.execute(update(UnitRow).where(UnitRow.callsign == "AMB-MAYANGAN")
                            .values(crew_phones=[]))
        incident, assignment = await site.dispatch(hospital="rsud-saleh")
        dispatched = datetime.fromisoformat(assignment["times"]["dispatched_at"])
        assert await site.service.rearm() == dispatched + timedelta(seconds=45)
        thread = await site.thread(incident["id"])
        assert [(m["kind"], m["phone"]) for m in thread] == [
            ("dispatch", CREW), ("prearrival", "+62335421118")]
        assert thread[1]["body"].startswith(f"PSC 119 pra-RS {incident['number']}\n"
                                            "MERAH Jantung, 1 pasien")
        assert "Unit AMB-KANIGARAN (ALS" in thread[1]["body"]

        second, _ = await site.dispatch("AMB-MAYANGAN")
        event = await site.next_event("sms.failed")
        assert (event["incident_id"], event["callsign"], event["status"]) == (
            second["id"], "AMB-MAYANGAN", "no_phone")
        assert event["advice"]["en"] == "Call the crew / use the radio / send the next unit"
        assert await site.thread(second["id"]) == []


async def test_a_hospital_without_a_phone_is_shown_on_the_console(
        db_url: str, tmp_path: Path) -> None:
    async with site_for(db_url, tmp_path, None, hospital_prearrival_sms=True) as site:
        incident, _ = await site.dispatch(hospital="rsud-saleh")  # the demo has no phone
        event = await site.next_event("sms.failed")
        assert (event["kind"], event["incident_id"], event["status"], event["error_code"]) == (
            "prearrival", incident["id"], "no_phone", "no_hospital_phone")
        assert event["label"]["id"] == ("RSUD dr. Mohamad Saleh tidak punya nomor telepon: "
                                        "SMS pra-RS tidak dikirim")
        assert event["advice"]["en"] == "Call the hospital's emergency department"
        assert [m["kind"] for m in await site.thread(incident["id"])] == ["dispatch"]
