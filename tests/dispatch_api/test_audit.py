"""The audit trail: append-only, and complete enough to rebuild every record exactly."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from dispatch.lifecycle import Trigger
from dispatch.service import Actor
from dispatch.store.models import AssignmentRow, AuditEventRow, IncidentRow, UnitRow
from dispatch.store.records import snapshot
from tests.dispatch_api.console import Console


def replay(events: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any] | None]:
    """Fold the trail: each event's ``before`` must be the previous ``after`` of its entity.

    Incidents and assignments are born in the trail (first ``before`` is None); units are
    reference data, so their first ``before`` is taken as the starting state.
    """
    state: dict[tuple[str, int], dict[str, Any] | None] = {}
    for event in events:
        key = (event["entity_type"], event["entity_id"])
        start = event["before"] if event["entity_type"] == "unit" else None
        assert event["before"] == state.get(key, start), f"gap in the trail before {event}"
        state[key] = event["after"]
    return state


async def test_an_incident_is_rebuilt_exactly_from_its_audit_trail(console: Console) -> None:
    incident = await console.create_incident()
    await console.patch(f"/api/incidents/{incident['id']}",
                        {"patients": 3, "notes": "Tiga korban", "version": incident["version"]})
    first = await console.assign(incident["id"], await console.unit_id("AMB-KANIGARAN"))
    await console.report(first["id"], "acknowledge")
    second = await console.post(f"/api/assignments/{first['id']}/reassign",
                                {"unit_id": await console.unit_id("AMB-TISNONEGARAN")})
    assert second.status_code == 201, second.text
    for trigger in ("depart", "arrive", "transport", "reach_hospital", "hand_over", "clear"):
        assert (await console.report(second.json()["id"], trigger)).status_code == 200

    trail = (await console.get(f"/api/incidents/{incident['id']}/audit")).json()
    assert [e["id"] for e in trail] == sorted(e["id"] for e in trail)
    rebuilt = replay(trail)

    async with console.app.runtime.sessions() as s:
        row = await s.get(IncidentRow, incident["id"])
        assignments = (await s.execute(select(AssignmentRow).where(
            AssignmentRow.incident_id == incident["id"]))).scalars().all()
        units = {a.unit_id: await s.get(UnitRow, a.unit_id) for a in assignments}
        assert row is not None
        assert rebuilt[("incident", row.id)] == snapshot(row)
        assert len(assignments) == 2
        for a in assignments:
            assert rebuilt[("assignment", a.id)] == snapshot(a)
        for unit in units.values():
            assert unit is not None
            assert rebuilt[("unit", unit.id)] == snapshot(unit)
    final = rebuilt[("incident", incident["id"])]
    assert final is not None
    assert (final["status"], final["patients"], final["notes"]) == ("CLOSED", 3, "Tiga korban")
    actors = {e["actor"] for e in trail}
    assert actors == {"dispatcher1"}


async def test_a_crew_sms_is_audited_with_its_phone(console: Console) -> None:
    incident = await console.create_incident()
    assignment = await console.assign(incident["id"], await console.unit_id("AMB-KANIGARAN"))
    await console.service.apply_crew_status(trigger=Trigger.DEPART,
                                            actor=Actor.sms("+6281200010008"),
                                            assignment_id=assignment["id"])
    trail = (await console.get(f"/api/incidents/{incident['id']}/audit")).json()
    depart = next(e for e in trail if e["action"] == "depart")
    assert (depart["actor"], depart["actor_user_id"]) == ("sms:+6281200010008", None)
    assert depart["before"]["status"] == "DISPATCHED"
    assert depart["after"]["status"] == "EN_ROUTE"


async def test_the_database_refuses_to_rewrite_the_trail(console: Console) -> None:
    await console.create_incident()
    sessions = console.app.runtime.sessions
    for statement in (update(AuditEventRow).values(actor="someone else"), delete(AuditEventRow)):
        with pytest.raises(DBAPIError, match="append-only"):
            async with sessions() as s, s.begin():
                await s.execute(statement)
    async with sessions() as s:
        rows = (await s.execute(select(AuditEventRow))).scalars().all()
    assert [r.actor for r in rows] == ["dispatcher1"]
