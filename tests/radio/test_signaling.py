"""The signaling protocol end to end: real websockets clients, the real server."""

from __future__ import annotations

import json

import pytest
import websockets
from sqlalchemy import select

from ptt.server import signaling
from ptt.store.models import EmergencyRow, PositionRow, TextMessageRow, TransmissionRow
from tests.conftest import LiveServer
from tests.polling import until
from tests.radio.client import RadioClient


async def joined(server: LiveServer, username: str, talkgroup: str) -> RadioClient:
    client = await RadioClient.connect(server, username)
    await client.send("join", talkgroup=talkgroup)
    await client.expect("joined", talkgroup=talkgroup)
    return client


async def test_documented_transcript(live_server: LiveServer) -> None:
    """The example transcript of docs/protocol.md, message by message."""
    s1 = await joined(live_server, "satpol1", "satpolpp")
    s2 = await joined(live_server, "satpol2", "satpolpp")
    d = await joined(live_server, "dispatcher1", "satpolpp")
    await s1.expect("member_joined", member__username="satpol2")
    await s1.expect("member_joined", member__username="dispatcher1")

    await s1.send("floor_request")
    granted = await s1.expect("floor_granted")
    assert granted["talkgroups"] == ["satpolpp"]
    assert granted["talker"]["username"] == "satpol1"
    assert granted["call_type"] == "normal" and granted["accept_within"] is None
    for listener in (s2, d):
        taken = await listener.expect("floor_taken")
        assert taken["talker"]["username"] == "satpol1"
        assert taken["talker"]["unit"] == "SATPOL-01"

    await s2.send("floor_request")
    assert (await s2.expect("floor_queued"))["position"] == 1

    await d.send("floor_request", talkgroup="satpolpp", override=True)
    assert (await s1.expect("floor_revoked"))["reason"] == "preempted"
    assert (await d.expect("floor_granted"))["talker"]["username"] == "dispatcher1"
    for listener in (s1, s2):
        assert (await listener.expect("floor_taken"))["talker"]["username"] == "dispatcher1"

    await d.send("floor_release")
    offered = await s2.expect("floor_granted")
    assert offered["accept_within"] == 2.0
    for listener in (s1, d):
        assert (await listener.expect("floor_taken"))["talker"]["username"] == "satpol2"
    await s2.send("floor_accept")
    await s2.send("floor_release")
    for everyone in (s1, s2, d):
        await everyone.expect("floor_idle", talkgroups=["satpolpp"])

    # Nobody sent audio: grants that carried no voice are not transmissions (the end
    # reasons of voiced ones are checked in tests/conformance/test_recordings.py).
    await live_server.runtime.services["radio_store"].flush()
    async with live_server.runtime.sessions() as s:
        rows = list((await s.execute(select(TransmissionRow))).scalars())
    assert rows == []


async def test_dishub_officer_cannot_use_a_satpol_pp_group(live_server: LiveServer) -> None:
    dishub = await RadioClient.connect(live_server, "dishub1")
    assert "satpolpp" not in {tg["id"] for tg in dishub.welcome["talkgroups"]}
    assert "gabungan" in {tg["id"] for tg in dishub.welcome["talkgroups"]}
    await dishub.send("join", talkgroup="satpolpp", ref="j1")
    error = await dishub.expect("error")
    assert error["code"] == "no_right" and error["ref"] == "j1"
    await dishub.send("floor_request", talkgroup="satpolpp")
    assert (await dishub.expect("error"))["code"] == "not_joined"
    await dishub.send("join", talkgroup="gabungan")
    await dishub.expect("joined", talkgroup="gabungan")


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "malformed_json"),
        ("[1, 2]", "malformed_message"),
        ('{"type": "join", "talkgroup": "satpolpp"}', "unsupported_version"),
        ('{"v": 9, "type": "join", "talkgroup": "satpolpp"}', "unsupported_version"),
        ('{"v": 1, "type": "teleport"}', "unknown_type"),
        ('{"v": 1, "type": "join"}', "invalid_message"),
        ('{"v": 1, "type": "location", "lat": 123, "lon": 0}', "invalid_message"),
        ('{"v": 1, "type": "join", "talkgroup": "satpolpp", "x": 1}', "invalid_message"),
        (json.dumps({"v": 1, "type": "text", "talkgroup": "satpolpp", "body": "x" * 17000}),
         "too_large"),
        ('{"v": 1, "type": "hello", "token": "again"}', "already_authenticated"),
        ('{"v": 1, "type": "floor_release"}', "not_holder"),
        ('{"v": 1, "type": "emergency_ack", "talkgroup": "satpolpp"}', "no_right"),
    ],
)
async def test_bad_input_gets_an_error_and_changes_nothing(
    live_server: LiveServer, frame: str, code: str
) -> None:
    bad = await joined(live_server, "satpol1", "satpolpp")
    other = await joined(live_server, "satpol2", "satpolpp")
    await bad.send_raw(frame)
    assert (await bad.expect("error"))["code"] == code
    # The connection survives and the net still works for everyone.
    await bad.send("ping", ref=5)
    assert (await bad.expect("pong"))["ref"] == 5
    await other.send("floor_request")
    await other.expect("floor_granted")
    assert (await bad.expect("floor_taken"))["talker"]["username"] == "satpol2"


async def test_message_flood_is_refused_then_closed(live_server: LiveServer) -> None:
    flooder = await joined(live_server, "satpol1", "satpolpp")
    calm = await joined(live_server, "satpol2", "satpolpp")
    for _ in range(400):
        await flooder.send("ping")
    assert (await flooder.expect("error"))["code"] == "rate_limited"
    with pytest.raises(websockets.ConnectionClosed) as closed:
        for _ in range(1000):  # its pongs and refusals, then the close
            await flooder.recv(timeout=3)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008
    await calm.send("floor_request")
    await calm.expect("floor_granted")


async def test_bad_token_and_hello(live_server: LiveServer) -> None:
    async with websockets.connect(f"{live_server.ws_url}/ws?token=forged") as ws:
        msg = json.loads(await ws.recv())
        assert msg["type"] == "error" and msg["code"] == "token_invalid"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
    token = await live_server.login("satpol1")
    async with websockets.connect(f"{live_server.ws_url}/ws") as ws:
        await ws.send(json.dumps({"v": 1, "type": "hello", "token": token, "ref": "h"}))
        welcome = json.loads(await ws.recv())
        assert welcome["type"] == "welcome" and welcome["ref"] == "h"
        assert welcome["user"]["username"] == "satpol1"


async def test_hello_must_come_in_time(live_server: LiveServer,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signaling, "HELLO_TIMEOUT", 0.2)
    async with websockets.connect(f"{live_server.ws_url}/ws") as ws:
        assert json.loads(await ws.recv())["code"] == "hello_timeout"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4003


async def test_reconnect_within_the_window_resumes_groups(live_server: LiveServer) -> None:
    s1 = await joined(live_server, "satpol1", "satpolpp")
    s2 = await joined(live_server, "satpol2", "satpolpp")
    session = s1.welcome["session"]
    await s1.close()
    clients = live_server.runtime.services["radio"].clients.values()
    await until(lambda: any(c.identity.username == "satpol1" and c.connection is None
                            for c in clients), "the server to see satpol1 gone")
    await s2.send("text", talkgroup="satpolpp", body="Posisi di alun-alun")  # missed by s1
    await s2.expect("text")
    back = await RadioClient.connect(live_server, "satpol1", resume=session)
    assert back.welcome["resumed"] is True
    assert back.welcome["joined"] == ["satpolpp"] and back.welcome["selected"] == "satpolpp"
    assert (await back.expect("text"))["body"] == "Posisi di alun-alun"
    await back.send("floor_request")  # no join needed
    await back.expect("floor_granted")
    await s2.expect_nothing("member_left")


async def test_session_ends_after_the_window(live_server: LiveServer) -> None:
    live_server.runtime.services["radio"].resume_window = 0.2
    s1 = await joined(live_server, "satpol1", "satpolpp")
    s2 = await joined(live_server, "satpol2", "satpolpp")
    session = s1.welcome["session"]
    await s1.close()
    assert (await s2.expect("member_left"))["user_id"] == s1.welcome["user"]["user_id"]
    late = await RadioClient.connect(live_server, "satpol1", resume=session)
    assert late.welcome["resumed"] is False and late.welcome["joined"] == []


async def test_dropped_talker_loses_the_floor_at_once(live_server: LiveServer) -> None:
    s1 = await joined(live_server, "satpol1", "satpolpp")
    s2 = await joined(live_server, "satpol2", "satpolpp")
    await s1.send("floor_request")
    await s2.expect("floor_taken")
    await s1.close()
    await s2.expect("floor_idle")


async def test_second_connection_replaces_the_first(live_server: LiveServer) -> None:
    first = await joined(live_server, "satpol1", "satpolpp")
    second = await RadioClient.connect(live_server, "satpol1")
    assert second.welcome["resumed"] is False
    with pytest.raises(websockets.ConnectionClosed) as closed:
        for _ in range(10):
            await first.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4002


async def test_emergency_alerts_dispatchers_until_acknowledged(
    live_server: LiveServer,
) -> None:
    live_server.runtime.services["radio"].radio.config = type(
        live_server.runtime.services["radio"].radio.config)(alert_interval=0.3)
    d = await RadioClient.connect(live_server, "dispatcher1")
    officer = await joined(live_server, "satpol1", "satpolpp")
    await officer.send("emergency_raise", lat=-7.7543, lon=113.2159)
    raised = await d.expect("emergency_raised", talkgroup="satpolpp")
    assert raised["raised_by"]["username"] == "satpol1"
    assert (await d.expect("emergency_alert"))["count"] == 1
    assert (await d.expect("emergency_alert"))["count"] == 2  # repeats
    assert (await officer.expect("floor_granted"))["call_type"] == "emergency"
    location = await d.expect("location")
    assert (location["lat"], location["lon"]) == (-7.7543, 113.2159)
    await officer.send("emergency_clear", talkgroup="satpolpp")  # only dispatchers clear
    assert (await officer.expect("error"))["code"] == "no_right"
    await d.send("emergency_ack", talkgroup="satpolpp")
    await d.expect("emergency_acknowledged")
    await officer.expect("emergency_acknowledged")
    # Acknowledged: no alert is due any more (the radio's timer is what repeats them), and
    # none came after the acknowledgement.
    radio = live_server.runtime.services["radio"].radio
    emergency = radio.emergency("satpolpp")
    assert emergency is not None and emergency.next_alert is None
    await d.expect_nothing("emergency_alert")
    await d.send("emergency_clear", talkgroup="satpolpp")
    await officer.expect("emergency_cleared")
    await live_server.runtime.services["radio_store"].flush()
    async with live_server.runtime.sessions() as s:
        row = (await s.execute(select(EmergencyRow))).scalar_one()
    assert row.acknowledged_at is not None and row.cleared_at is not None
    assert (row.lat, row.lon) == (-7.7543, 113.2159)


async def test_positions_and_texts(live_server: LiveServer) -> None:
    d = await joined(live_server, "dispatcher1", "gabungan")
    officer = await joined(live_server, "dishub1", "gabungan")
    other = await joined(live_server, "satpol1", "gabungan")
    await officer.send("location", lat=-7.75, lon=113.21, accuracy=8.5)
    loc = await d.expect("location")
    assert loc["user"]["username"] == "dishub1" and loc["accuracy"] == 8.5
    await other.expect_nothing("location")  # positions go to dispatchers
    await officer.send("text", talkgroup="gabungan", body="Lampu lalu lintas mati", ref=1)
    for who in (d, other, officer):
        assert (await who.expect("text"))["body"] == "Lampu lalu lintas mati"
    await live_server.runtime.services["radio_store"].flush()
    async with live_server.runtime.sessions() as s:
        pos = (await s.execute(select(PositionRow))).scalar_one()
        text = (await s.execute(select(TextMessageRow))).scalar_one()
    assert (pos.lat, pos.lon, pos.accuracy_m) == (-7.75, 113.21, 8.5)
    assert text.body == "Lampu lalu lintas mati" and text.talkgroup == "gabungan"


async def test_texts_reach_every_console_and_the_group_both_ways(
        live_server: LiveServer) -> None:
    console = await RadioClient.connect(live_server, "dispatcher1")  # monitors nothing
    officer = await joined(live_server, "satpol1", "satpolpp")
    mate = await joined(live_server, "satpol2", "satpolpp")
    elsewhere = await joined(live_server, "dishub1", "dishub")
    await officer.send("text", talkgroup="satpolpp", body="Pasar Baru ramai, butuh bantuan")
    for reader in (console, mate, officer):
        got = await reader.expect("text", talkgroup="satpolpp")
        assert got["body"] == "Pasar Baru ramai, butuh bantuan"
        assert got["sender"]["username"] == "satpol1"
    await elsewhere.expect_nothing("text")

    await console.send("text", talkgroup="satpolpp", body="Regu 2 menuju lokasi")
    assert (await console.expect("error"))["code"] == "not_joined"  # talks where it listens
    await console.send("join", talkgroup="satpolpp")
    await console.expect("joined")
    await console.send("text", talkgroup="satpolpp", body="Regu 2 menuju lokasi", ref="t1")
    assert (await console.expect("text"))["ref"] == "t1"
    for reader in (officer, mate):
        got = await reader.expect("text", talkgroup="satpolpp")
        assert (got["body"], got["sender"]["username"]) == ("Regu 2 menuju lokasi",
                                                            "dispatcher1")
        assert "ref" not in got
    await elsewhere.expect_nothing("text")


async def test_dynamic_talkgroup_for_an_incident(live_server: LiveServer) -> None:
    import httpx

    officer = await RadioClient.connect(live_server, "dishub2")
    token = await live_server.login("dispatcher1")
    async with httpx.AsyncClient(base_url=live_server.http_url,
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        created = await http.post("/api/talkgroups", json={
            "name": "Insiden PSC-0007", "members": ["dishub2"], "incident_ref": "PSC-0007"})
        assert created.status_code == 201, created.text
        code = created.json()["id"]
        assert code == "insiden-psc-0007"
        added = await officer.expect("talkgroup_added")
        assert added["talkgroup"]["id"] == code
        await officer.send("join", talkgroup=code)
        await officer.expect("joined", talkgroup=code)
        refused = await http.post("/api/talkgroups", json={"name": "x", "members": ["ghost"]})
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "unknown_user"
        assert (await http.delete("/api/talkgroups/satpolpp")).status_code == 409
        assert (await http.delete(f"/api/talkgroups/{code}")).status_code == 204
        await officer.expect("talkgroup_removed", talkgroup=code)
    officer_token = await live_server.login("satpol1")
    async with httpx.AsyncClient(base_url=live_server.http_url) as http:
        forbidden = await http.post("/api/talkgroups", json={"name": "mine"},
                                    headers={"Authorization": f"Bearer {officer_token}"})
        assert forbidden.status_code == 403


async def test_a_talkgroup_names_who_may_claim_imminent_peril(live_server: LiveServer) -> None:
    import httpx

    satpol = await RadioClient.connect(live_server, "satpol1")
    dishub = await RadioClient.connect(live_server, "dishub1")
    token = await live_server.login("dispatcher1")
    async with httpx.AsyncClient(base_url=live_server.http_url,
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        refused = await http.post("/api/talkgroups", json={
            "name": "Patroli", "members": ["satpol1"], "peril_agencies": ["satpolpp"]})
        assert refused.status_code == 422   # an agency that does not talk there
        created = await http.post("/api/talkgroups", json={
            "name": "Patroli", "agencies": ["satpolpp", "dishub"],
            "peril_agencies": ["satpolpp"]})
        assert created.status_code == 201, created.text
    code = created.json()["id"]
    for client in (satpol, dishub):
        await client.expect("talkgroup_added")
        await client.send("join", talkgroup=code)
        await client.expect("joined", talkgroup=code)
    await dishub.send("floor_request", talkgroup=code, call_type="imminent_peril")
    denied = await dishub.expect("floor_denied")
    assert denied["reason"] == "no_right"
    await satpol.send("floor_request", talkgroup=code, call_type="imminent_peril")
    await satpol.expect("floor_granted")
