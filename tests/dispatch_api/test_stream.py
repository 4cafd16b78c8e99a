"""The console stream end to end: the real server on a loopback port, the websockets client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from dispatch.service import DispatchService
from dispatch.service.stream import DISPATCH, Audience, Dropped, StreamHub
from kernel.identity import get_user
from tests.conftest import LiveServer
from tests.dispatch_api.console import CALL


async def expect(ws: ClientConnection, kind: str, timeout: float = 5.0) -> dict[str, Any]:
    """The next message of ``kind``, skipping others."""
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == kind:
                return dict(message)


async def closed_with(ws: ClientConnection) -> tuple[int, list[dict[str, Any]]]:
    said = []
    try:
        async with asyncio.timeout(5):
            while True:
                said.append(json.loads(await ws.recv()))
    except ConnectionClosed as exc:
        assert exc.rcvd is not None
        return exc.rcvd.code, said


async def test_a_console_sees_the_call_the_assignment_and_the_unit(
        live_server: LiveServer) -> None:
    token = await live_server.login("dispatcher1")
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{live_server.ws_url}/api/dispatch/stream?token={token}"
    async with websockets.connect(url) as ws, httpx.AsyncClient(
            base_url=live_server.http_url, headers=headers) as http:
        welcome = await expect(ws, "welcome")
        assert (welcome["user"], welcome["role"]) == ("dispatcher1", "dispatcher")
        incident = (await http.post("/api/incidents", json=CALL)).json()
        created = await expect(ws, "incident.created")
        assert created["incident"]["number"] == incident["number"]

        units = (await http.get("/api/units")).json()
        unit = next(u for u in units if u["callsign"] == "AMB-KANIGARAN")
        response = await http.post(f"/api/incidents/{incident['id']}/assignments",
                                   json={"unit_id": unit["id"]})
        assert response.status_code == 201
        assignment = await expect(ws, "assignment.created")
        assert assignment["assignment"]["unit"]["callsign"] == "AMB-KANIGARAN"
        status = await expect(ws, "unit.status")
        assert status["unit"]["status"] == "dispatched"
        updated = await expect(ws, "incident.updated")
        assert updated["incident"]["status"] == "dispatched"

        await ws.send(json.dumps({"type": "ping"}))
        assert (await expect(ws, "pong"))["type"] == "pong"

        hospitals = (await http.get("/api/hospitals")).json()
        await http.put(f"/api/hospitals/{hospitals[0]['id']}/beds",
                       json={"beds": [{"category": "icu", "total": 10, "free": 3}]})
        beds = await expect(ws, "beds.updated")
        assert beds["hospital"]["id"] == hospitals[0]["id"]


async def test_the_token_may_come_as_the_first_message(live_server: LiveServer) -> None:
    token = await live_server.login("admin")
    async with websockets.connect(f"{live_server.ws_url}/api/dispatch/stream") as ws:
        await ws.send(json.dumps({"token": token}))
        assert (await expect(ws, "welcome"))["user"] == "admin"
        service: DispatchService = live_server.runtime.services["dispatch"]
        async with live_server.runtime.sessions() as s:
            officer = await get_user(s, "satpol1")
        assert officer is not None
        await service.record_radio_alert("satpolpp", officer.id, "satpol1", "Satpol PP Regu 1",
                                         None, None, None, service.now())
        alert = await expect(ws, "alert.created")
        assert alert["alert"]["username"] == "satpol1"


async def test_other_roles_are_turned_away(live_server: LiveServer) -> None:
    for username in ("satpol1",):  # hospital accounts: tests/dispatch_api/test_hospital_desk.py
        token = await live_server.login(username)
        url = f"{live_server.ws_url}/api/dispatch/stream?token={token}"
        async with websockets.connect(url) as ws:
            closed, said = await closed_with(ws)
        assert closed == 4030, username
        assert said[-1]["code"] == "forbidden"


async def test_a_bad_token_is_unauthorized(live_server: LiveServer) -> None:
    async with websockets.connect(f"{live_server.ws_url}/api/dispatch/stream") as ws:
        await ws.send(json.dumps({"token": "not-a-token"}))
        closed, said = await closed_with(ws)
    assert closed == 4001
    assert said[-1]["code"] == "token_invalid"


async def test_a_console_that_does_not_keep_up_is_dropped(live_server: LiveServer) -> None:
    service: DispatchService = live_server.runtime.services["dispatch"]
    service.hub.backlog = 8
    token = await live_server.login("dispatcher1")
    async with websockets.connect(f"{live_server.ws_url}/api/dispatch/stream?token={token}"
                                  ) as ws:
        await expect(ws, "welcome")
        for i in range(100):  # faster than any socket: no await between publishes
            service.hub.publish({"type": "test", "i": i})
        closed, said = await closed_with(ws)
    assert closed == 4009
    assert said[-1]["code"] == "too_slow"
    assert len(service.hub) == 0


class TestHub:
    async def test_a_slow_subscriber_is_dropped_and_the_others_served(self) -> None:
        hub = StreamHub(backlog=3)
        slow, fast = hub.subscribe("slow"), hub.subscribe("fast")
        for i in range(5):
            hub.publish({"i": i})
            assert json.loads(await fast.get()) == {"i": i}
        assert slow.dropped and not fast.dropped
        assert len(hub) == 1 and hub.dropped == 1
        with pytest.raises(Dropped):
            await slow.get()

    async def test_memory_is_bounded_by_the_backlog(self) -> None:
        hub = StreamHub(backlog=4)
        sub = hub.subscribe("idle")
        for i in range(4):
            hub.publish({"i": i})
        assert sub.pending() == 4 and not sub.dropped
        hub.publish({"i": 4})
        assert sub.dropped

    async def test_what_is_published_is_forwarded_and_what_is_delivered_is_not(self) -> None:
        hub = StreamHub()
        sub = hub.subscribe("console")
        desk = hub.subscribe("desk", hospital_id=3)
        forwarded: list[tuple[dict[str, Any], str, Audience]] = []
        hub.forward = lambda message, text, audience: forwarded.append((message, text, audience))
        hub.publish({"type": "here"})
        hub.publish({"type": "beds"}, Audience.hospital(3))
        hub.deliver('{"type":"from another node"}')
        hub.deliver('{"type":"beds elsewhere"}', Audience.hospital(3))
        assert [json.loads(await sub.get()) for _ in range(2)] == [
            {"type": "here"}, {"type": "from another node"}]
        assert [json.loads(await desk.get()) for _ in range(2)] == [
            {"type": "beds"}, {"type": "beds elsewhere"}]
        assert forwarded == [({"type": "here"}, '{"type":"here"}', DISPATCH),
                             ({"type": "beds"}, '{"type":"beds"}', Audience.hospital(3))]

    async def test_dropping_everyone_wakes_a_waiting_reader(self) -> None:
        hub = StreamHub(backlog=1)
        waiting, full = hub.subscribe("waiting"), hub.subscribe("full")
        reader = asyncio.create_task(waiting.get())
        await asyncio.sleep(0)  # the reader waits on its empty queue
        full.offer("x")
        hub.drop_all()
        with pytest.raises(Dropped):
            await reader
        with pytest.raises(Dropped):
            await full.get()
        assert len(hub) == 0 and hub.dropped == 2
