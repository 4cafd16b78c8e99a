"""Radio and dispatch meet through events: an officer's emergency becomes a dispatch alert,
and an assignment opens an incident talkgroup on the radio."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from siaga_radio.audio import ToneSource
from sqlalchemy import select

from ptt.store.models import EmergencyRow
from tests.clients.helpers import radio
from tests.conftest import LiveServer, live_server_for, loopback_socket, make_settings, port_of
from tests.dispatch_api.console import CALL, incident_with_unit
from tests.polling import until
from tests.radio.client import RadioClient, first_radio_alert


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
        assert alert["talkgroup_name"] == "Satpol PP"  # people read names, not codes
        incident = await http.post(f"/api/alerts/{alert['id']}/incident",
                                   json={k: v for k, v in CALL.items()
                                         if k not in ("source", "notes")})
        assert incident.status_code == 201, incident.text
        assert incident.json()["notes"] == ("Alarm darurat radio dari Satpol PP Regu 1 "
                                            "(SATPOL-01), kanal Satpol PP")


async def dispatcher_and_officer(server: LiveServer) -> tuple[RadioClient, RadioClient]:
    """A connected dispatcher, and an officer joined to ``satpolpp``."""
    dispatcher = await RadioClient.connect(server, "dispatcher1")
    officer = await RadioClient.connect(server, "satpol1")
    await officer.send("join", talkgroup="satpolpp")
    await officer.expect("joined")
    return dispatcher, officer


async def test_an_emergency_kept_offline_arrives_with_the_time_it_was_raised(
        live_server: LiveServer) -> None:
    dispatcher, officer = await dispatcher_and_officer(live_server)
    raised = (datetime.now(UTC) - timedelta(minutes=7)).replace(microsecond=0)
    wib = raised.astimezone(timezone(timedelta(hours=7)))
    await officer.send("emergency_raise", lat=-7.7543, lon=113.2159, raised_at=wib.isoformat())
    answer = await officer.expect("emergency_raised")
    assert answer["raised_at"] == raised.isoformat()
    alert = await dispatcher.expect("emergency_alert", talkgroup="satpolpp")
    assert alert["raised_at"] == raised.isoformat()

    found = await first_radio_alert(live_server)
    assert datetime.fromisoformat(found["at"]) == raised
    received = datetime.fromisoformat(found["received_at"])
    assert raised + timedelta(minutes=7) <= received < raised + timedelta(minutes=8)
    await live_server.runtime.services["radio_store"].flush()
    async with live_server.runtime.sessions() as s:
        row = (await s.execute(select(EmergencyRow))).scalar_one()
    assert row.raised_at == raised
    assert row.received_at is not None and row.received_at - row.raised_at >= timedelta(
        minutes=7)


async def test_a_raise_time_from_the_future_or_too_old_is_refused(
        live_server: LiveServer) -> None:
    dispatcher, officer = await dispatcher_and_officer(live_server)
    for raised in (datetime.now(UTC) + timedelta(minutes=5),
                   datetime.now(UTC) - timedelta(hours=13)):
        await officer.send("emergency_raise", raised_at=raised.isoformat())
        error = await officer.expect("error")
        assert error["code"] == "invalid_raised_at", error
    await officer.send("emergency_raise", raised_at="2026-12-07T14:03:11")
    assert (await officer.expect("error"))["code"] == "invalid_message"
    await dispatcher.expect_nothing("emergency_raised")
    assert live_server.runtime.services["radio"].radio.emergency("satpolpp") is None


async def test_welcome_names_the_command_centre_phone(sqlite_url: str, tmp_path: Path) -> None:
    sock = loopback_socket()
    port = port_of(sock)
    settings = make_settings(sqlite_url, tmp_path, port=port,
                             public_url=f"http://127.0.0.1:{port}",
                             command_centre_phone="+62335421119")
    async with live_server_for(settings, sock) as server:
        officer = await RadioClient.connect(server, "satpol1")
        assert officer.welcome["command_centre_phone"] == "+62335421119"


async def test_assignment_opens_an_incident_talkgroup(live_server: LiveServer) -> None:
    async with dispatcher_with_api(live_server) as (dispatcher, http):
        incident, _, code = await open_incident_talkgroup(http, dispatcher)
        assert code == incident["number"].lower()
        await dispatcher.send("join", talkgroup=code)
        await dispatcher.expect("joined", talkgroup=code)
        talkgroups = {tg["id"] for tg in (await http.get("/api/talkgroups")).json()}
        assert code in talkgroups


@asynccontextmanager
async def dispatcher_with_api(server: LiveServer
                              ) -> AsyncIterator[tuple[RadioClient, httpx.AsyncClient]]:
    """dispatcher1 on the radio, and an HTTP client signed in as dispatcher1."""
    dispatcher = await RadioClient.connect(server, "dispatcher1")
    token = await server.login("dispatcher1")
    async with httpx.AsyncClient(base_url=server.http_url,
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        yield dispatcher, http


async def open_incident_talkgroup(http: httpx.AsyncClient, dispatcher: RadioClient
                                  ) -> tuple[dict[str, Any], dict[str, Any], str]:
    """An incident with AMB-KANIGARAN assigned: (incident, assignment, talkgroup code)."""
    incident, assignment = await incident_with_unit(http)
    code = (await dispatcher.expect("talkgroup_added", timeout=5))["talkgroup"]["id"]
    return incident, assignment, code


async def test_a_cancelled_incident_closes_its_talkgroup_and_keeps_its_recordings(
        live_server: LiveServer) -> None:
    # The watcher's socket is replaced when dispatcher1 talks from another client below.
    async with dispatcher_with_api(live_server) as (watcher, http):
        incident, _, code = await open_incident_talkgroup(http, watcher)
        async with radio(live_server, "dispatcher1", transport="websocket",
                         join=[code]) as talker:
            await talker.talk(code, ToneSource(440), 1.0)
        listed = await until(lambda: transmissions(http, code), "the recorded transmission")
        assert listed[0]["incident_ref"] == incident["number"]

        cancelled = await http.post(f"/api/incidents/{incident['id']}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        await until(lambda: code not in live_server.runtime.services["radio"].radio.roster
                    .talkgroups, "the talkgroup closed")
        assert code not in {tg["id"] for tg in (await http.get("/api/talkgroups")).json()}
        kept = await transmissions(http, code)  # under the normal retention, not deleted
        assert [t["id"] for t in kept] == [t["id"] for t in listed]
        audio = await http.get(f"/api/transmissions/{kept[0]['id']}/audio")
        assert audio.status_code == 200 and audio.content.startswith(b"OggS")


async def test_a_closed_incident_closes_its_talkgroup(live_server: LiveServer) -> None:
    async with dispatcher_with_api(live_server) as (dispatcher, http):
        incident, assignment, code = await open_incident_talkgroup(http, dispatcher)
        await dispatcher.send("join", talkgroup=code)
        await dispatcher.expect("joined", talkgroup=code)
        for trigger in ("acknowledge", "depart", "arrive", "transport", "reach_hospital",
                        "hand_over"):
            reported = await http.post(f"/api/assignments/{assignment['id']}/status",
                                       json={"trigger": trigger})
            assert reported.status_code == 200, reported.text
        await dispatcher.expect_nothing("talkgroup_removed")  # still under way
        reported = await http.post(f"/api/assignments/{assignment['id']}/status",
                                   json={"trigger": "clear"})
        assert reported.status_code == 200, reported.text
        removed = await dispatcher.expect("talkgroup_removed", timeout=5)
        assert removed["talkgroup"] == code
        final = (await http.get(f"/api/incidents/{incident['id']}")).json()
        assert final["incident"]["status"] == "closed"


async def transmissions(http: httpx.AsyncClient, code: str) -> list[dict[str, Any]]:
    found = (await http.get("/api/transmissions", params={"talkgroup": code})).json()
    return list(found["items"])
