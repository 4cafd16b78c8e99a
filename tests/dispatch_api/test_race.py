"""Two dispatchers, one ambulance: exactly one assignment wins, on every backend."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.store import repo
from dispatch.store.models import AssignmentRow
from tests.dispatch_api.console import Console, error


async def test_two_dispatchers_assigning_the_same_unit_at_once(
        console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    claims: list[bool] = []
    claim = repo.set_unit_status

    async def watched(s: AsyncSession, *args: Any, **kw: Any) -> bool:
        won = await claim(s, *args, **kw)
        claims.append(won)
        return won

    monkeypatch.setattr(repo, "set_unit_status", watched)
    other = Console(console.app, await console.app.login("admin"))
    for callsign in ("AMB-KANIGARAN", "AMB-JATI", "AMB-WONOASIH"):
        unit = await console.unit_id(callsign)
        first, second = await console.create_incident(), await console.create_incident()
        responses = await asyncio.gather(
            console.post(f"/api/incidents/{first['id']}/assignments", {"unit_id": unit}),
            other.post(f"/api/incidents/{second['id']}/assignments", {"unit_id": unit}),
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201, 409], [r.text for r in responses]
        # Both read the unit as AVAILABLE and raced to the conditional UPDATE: the
        # database, not an earlier read, decided (one row changed, the other none).
        assert sorted(claims) == [False, True]
        claims.clear()
        winner = next(r for r in responses if r.status_code == 201).json()
        loser = error(next(r for r in responses if r.status_code == 409))
        assert loser["code"] == "unit_busy"
        assert loser["details"]["unit"]["assignment_id"] == winner["id"]
        assert loser["details"]["unit"]["incident_number"] == winner["incident_number"]
        async with console.app.runtime.sessions() as s:
            rows = (await s.execute(select(func.count()).select_from(AssignmentRow)
                                    .where(AssignmentRow.unit_id == unit))).scalar_one()
        assert rows == 1
        assert (await console.unit(unit))["status"] == "dispatched"


async def test_many_requests_for_one_unit_make_one_assignment(console: Console) -> None:
    unit = await console.unit_id("AMB-MAYANGAN")
    incidents = [await console.create_incident() for _ in range(5)]
    responses = await asyncio.gather(*(
        console.post(f"/api/incidents/{i['id']}/assignments", {"unit_id": unit})
        for i in incidents))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 4
    assert {error(r)["code"] for r in responses if r.status_code == 409} == {"unit_busy"}


async def test_concurrent_crew_reports_each_apply_once(console: Console) -> None:
    """An SMS and a tap on the link arriving together: the version check makes one of
    them re-read; the result is the same as in sequence and nothing is lost."""
    incident = await console.create_incident()
    assignment = await console.assign(incident["id"], await console.unit_id("AMB-KANIGARAN"))
    responses = await asyncio.gather(console.report(assignment["id"], "depart"),
                                     console.report(assignment["id"], "depart"))
    assert [r.status_code for r in responses] == [200, 200]
    assert sorted(r.json()["changed"] for r in responses) == [False, True]
    detail = await console.detail(incident["id"])
    advanced = [e for e in detail["audit"] if e["action"] == "depart"]
    assert len(advanced) == 1
