"""The queue follows triage: overdue calls alarm every console once; with no ambulance free,
the recommendation says so and names the units free soonest.

Time is stepped by hand (``run_timers(now=...)``), on SQLite and, when configured, PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dispatch.domain import Triage
from dispatch.events import DispatchOverdue
from dispatch.service.stream import Subscription
from dispatch.store.models import IncidentRow
from dispatch.wiring import queue_policy
from tests.conftest import make_settings
from tests.dispatch_api.console import Console


async def next_message(sub: Subscription, kind: str) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(sub.get(), 5))
        if message["type"] == kind:
            return dict(message)


def created(incident: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(incident["created_at"])


async def test_a_merah_call_without_a_unit_alarms_once_after_a_minute(
        console: Console) -> None:
    service = console.service
    incident = await console.create_incident(triage="merah")
    t0 = created(incident)
    assert await service.rearm() == t0 + timedelta(seconds=60)
    assert await service.run_timers(now=t0 + timedelta(seconds=59)) == []

    sub = service.hub.subscribe("test")
    fired = await service.run_timers(now=t0 + timedelta(seconds=61))
    assert fired == [DispatchOverdue(incident["id"], incident["number"], Triage.MERAH, t0, 60,
                                     t0 + timedelta(seconds=61))]
    message = await next_message(sub, "incident.overdue")
    assert (message["incident"]["id"], message["triage"], message["limit_s"]) == (
        incident["id"], "merah", 60)
    assert message["label"] == {"id": "MERAH belum dikirimi unit lewat 1 menit",
                                "en": "MERAH without a unit for over 1 min"}
    assert message["incident"]["overdue_at"] is not None

    assert await service.run_timers(now=t0 + timedelta(seconds=600)) == []  # once only
    detail = await console.detail(incident["id"])
    assert [e["actor"] for e in detail["audit"] if e["action"] == "overdue"] == ["system"]
    assert await service.rearm() is None


async def test_each_colour_has_its_limit_and_hitam_none(console: Console) -> None:
    service = console.service
    kuning = await console.create_incident(triage="kuning")
    hijau = await console.create_incident(triage="hijau")
    await console.create_incident(triage="hitam")
    assert await service.rearm() == created(kuning) + timedelta(minutes=3)
    fired = await service.run_timers(now=created(hijau) + timedelta(minutes=10))
    assert [(e.incident_id, e.limit_s) for e in fired] == [(kuning["id"], 180),
                                                           (hijau["id"], 600)]
    assert await service.rearm() is None


async def test_raising_the_triage_brings_the_alarm_forward(console: Console) -> None:
    service = console.service
    incident = await console.create_incident(triage="kuning")
    assert await service.rearm() == created(incident) + timedelta(minutes=3)
    response = await console.patch(f"/api/incidents/{incident['id']}", {"triage": "merah"})
    assert response.status_code == 200, response.text
    assert await service.rearm() == created(incident) + timedelta(seconds=60)


async def test_a_call_another_node_holds_is_left_to_it_and_looked_at_again(
        console: Console) -> None:
    """Two nodes run the same timer: the call another transaction holds (as the other
    node's run does while it alarms) is skipped, retried a moment later, and alarmed once."""
    if not console.app.runtime.settings.database_url.startswith("postgresql"):
        pytest.skip("row locks are PostgreSQL's; SQLite's writers take turns")
    service = console.service
    incident = await console.create_incident(triage="merah")
    due = created(incident) + timedelta(seconds=61)
    async with service.sessions() as other, other.begin():
        await other.execute(select(IncidentRow).where(IncidentRow.id == incident["id"])
                            .with_for_update())
        assert await service.run_timers(now=due) == []
        assert await service.rearm() == due + timedelta(seconds=1)  # looked at again
    fired = await service.run_timers(now=due + timedelta(seconds=1))
    assert [e.incident_id for e in fired] == [incident["id"]]
    assert await service.run_timers(now=due + timedelta(seconds=2)) == []


async def test_a_call_with_a_unit_never_alarms(console: Console) -> None:
    service = console.service
    incident = await console.create_incident(triage="merah")
    await console.assign(incident["id"], await console.unit_id("AMB-KANIGARAN"))
    later = created(incident) + timedelta(minutes=5)
    assert [e for e in await service.run_timers(now=later)
            if isinstance(e, DispatchOverdue)] == []


def test_the_limits_are_settings(tmp_path: Path) -> None:
    settings = make_settings("sqlite+aiosqlite:///:memory:", tmp_path, queue_merah_seconds=45,
                             queue_kuning_seconds=120, queue_hijau_seconds=300)
    assert queue_policy(settings).limits == {
        Triage.MERAH: timedelta(seconds=45), Triage.KUNING: timedelta(seconds=120),
        Triage.HIJAU: timedelta(seconds=300)}


async def test_no_ambulance_free_is_said_with_the_units_free_soonest(console: Console) -> None:
    first = await console.create_incident(triage="merah")
    second = await console.create_incident(triage="merah")
    busy = {name: await console.unit_id(name) for name in ("AMB-KANIGARAN", "AMB-MAYANGAN")}
    await console.assign(first["id"], busy["AMB-KANIGARAN"])
    mayangan = await console.assign(second["id"], busy["AMB-MAYANGAN"])
    for step in ("acknowledge", "depart", "arrive", "transport", "reach_hospital"):
        response = await console.report(mayangan["id"], step)
        assert response.status_code == 200, response.text
    units = (await console.get("/api/units")).json()
    for unit in units:
        if unit["id"] not in busy.values():
            response = await console.post(f"/api/units/{unit['id']}/service",
                                          {"in_service": False})
            assert response.status_code == 200, response.text

    waiting = await console.create_incident(triage="merah")
    recs = (await console.get(f"/api/incidents/{waiting['id']}/recommendations")).json()
    assert recs["units"] == [] and recs["no_unit_available"] is True
    assert recs["notice"]["id"].startswith("Tidak ada ambulans yang sesuai tersedia")
    soon = [(f["unit"]["callsign"], f["status"]) for f in recs["free_soon"]]
    assert soon == [("AMB-MAYANGAN", "at_hospital"), ("AMB-KANIGARAN", "dispatched")]
    assert recs["free_soon"][0]["free_in_s"] <= 15 * 60
    assert "perkiraan bebas" in recs["free_soon"][0]["reason"]["id"]

    ok = (await console.get(f"/api/incidents/{first['id']}/recommendations")).json()
    assert ok["no_unit_available"] is True  # the same board for any MERAH call
    back = await console.post(f"/api/units/{units[-1]['id']}/service", {"in_service": True})
    assert back.status_code == 200
    recs = (await console.get(f"/api/incidents/{waiting['id']}/recommendations")).json()
    assert recs["no_unit_available"] is False and recs["free_soon"] == []
