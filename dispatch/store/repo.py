"""Repositories: the SQL of dispatch, each function one statement or one small query.

Every function takes the caller's session, so a service command composes several of them
inside one transaction and commits once. Two writes here are guarded against lost updates:

- :func:`set_unit_status` is ``UPDATE units ... WHERE id = :id AND status = :expected`` and
  reports whether a row changed. Two dispatchers claiming the same AVAILABLE unit both
  issue it; PostgreSQL makes the second wait for the first's row lock and then re-checks the
  condition (no row), SQLite serialises the writers the same way. Exactly one wins.
- :func:`next_sequence` hands out the day's incident numbers with an atomic upsert
  (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``), so two call takers never get the
  same number and none is skipped unless a transaction rolls back.

Incidents and assignments use the ORM's version counter (``version_id_col``): a flush that
finds the row changed raises :class:`sqlalchemy.orm.exc.StaleDataError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.domain import TERMINAL
from dispatch.store.models import (
    AssignmentRow,
    AuditEventRow,
    HospitalBedsRow,
    HospitalRow,
    IncidentCounterRow,
    IncidentRow,
    KecamatanRow,
    KelurahanRow,
    RadioAlertRow,
    UnitRow,
)

TERMINAL_NAMES = tuple(s.name for s in TERMINAL)


async def next_sequence(s: AsyncSession, day: str) -> int:
    """The next incident sequence of ``day`` (YYYYMMDD, WIB), atomically."""
    dialect = s.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    upsert = insert(IncidentCounterRow).values(day=day, last=1).on_conflict_do_update(
        index_elements=[IncidentCounterRow.day],
        set_={"last": IncidentCounterRow.last + 1},
    )
    return int((await s.execute(upsert.returning(IncidentCounterRow.last))).scalar_one())


async def waiting_incidents(s: AsyncSession) -> list[IncidentRow]:
    """Incidents without a unit (NEW), oldest first: the dispatch queue."""
    stmt = select(IncidentRow).where(IncidentRow.status == "NEW")
    return list((await s.execute(stmt.order_by(IncidentRow.created_at, IncidentRow.id)))
                .scalars())


async def ended_by_dispatch(
    s: AsyncSession, unit_id: int, since: datetime
) -> list[AssignmentRow]:
    """The unit's jobs the dispatch room cancelled (or withdrew it from) since ``since``,
    oldest first."""
    stmt = (select(AssignmentRow)
            .where(AssignmentRow.unit_id == unit_id, AssignmentRow.status == "CANCELLED",
                   AssignmentRow.cancel_reason.in_(("DISPATCHER", "OUT_OF_SERVICE")),
                   AssignmentRow.cancelled_at >= since)
            .order_by(AssignmentRow.cancelled_at, AssignmentRow.id))
    return list((await s.execute(stmt)).scalars())


async def set_unit_status(
    s: AsyncSession, unit_id: int, expected: str, new: str, now: datetime,
    held_by: str | None = None,
) -> bool:
    """Move a unit from ``expected`` to ``new``; False when it was not in ``expected``.

    ``held_by`` is who holds an OUT_OF_SERVICE (cleared by any other status)."""
    result = await s.execute(
        update(UnitRow)
        .where(UnitRow.id == unit_id, UnitRow.status == expected)
        .values(status=new, version=UnitRow.version + 1, status_changed_at=now,
                out_of_service_by=held_by if new == "OUT_OF_SERVICE" else None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


async def unit(s: AsyncSession, unit_id: int) -> UnitRow | None:
    """The unit as committed now (bypassing whatever the session holds)."""
    stmt = select(UnitRow).where(UnitRow.id == unit_id).execution_options(populate_existing=True)
    return (await s.execute(stmt)).scalar_one_or_none()


async def units(s: AsyncSession) -> list[UnitRow]:
    return list((await s.execute(select(UnitRow).order_by(UnitRow.callsign))).scalars())


async def unit_by_phone(s: AsyncSession, phone: str) -> UnitRow | None:
    """The unit whose crew list holds ``phone`` (E.164); JSON lists are scanned in Python."""
    for row in await units(s):
        if phone in (row.crew_phones or []):
            return row
    return None


async def kelurahan_by_code(s: AsyncSession, code: str) -> KelurahanRow | None:
    stmt = select(KelurahanRow).where(KelurahanRow.code == code)
    return (await s.execute(stmt)).scalar_one_or_none()


async def kelurahan_all(s: AsyncSession) -> list[tuple[KelurahanRow, KecamatanRow]]:
    stmt = select(KelurahanRow, KecamatanRow).join(
        KecamatanRow, KelurahanRow.kecamatan_id == KecamatanRow.id
    ).order_by(KelurahanRow.id)
    return [(k, c) for k, c in (await s.execute(stmt))]


async def hospitals_with_beds(
    s: AsyncSession, hospital_id: int | None = None
) -> list[tuple[HospitalRow, list[HospitalBedsRow]]]:
    stmt = select(HospitalRow).order_by(HospitalRow.id)
    if hospital_id is not None:
        stmt = stmt.where(HospitalRow.id == hospital_id)
    hospitals = list((await s.execute(stmt)).scalars())
    ids = [h.id for h in hospitals]
    beds: dict[int, list[HospitalBedsRow]] = {i: [] for i in ids}
    if ids:
        rows = await s.execute(
            select(HospitalBedsRow).where(HospitalBedsRow.hospital_id.in_(ids))
            .order_by(HospitalBedsRow.id)
        )
        for bed in rows.scalars():
            beds[bed.hospital_id].append(bed)
    return [(h, beds[h.id]) for h in hospitals]


async def incident(s: AsyncSession, incident_id: int) -> IncidentRow | None:
    return await s.get(IncidentRow, incident_id, populate_existing=True)


async def assignment(s: AsyncSession, assignment_id: int) -> AssignmentRow | None:
    return await s.get(AssignmentRow, assignment_id, populate_existing=True)


async def assignments_of(s: AsyncSession, incident_ids: Sequence[int]) -> list[AssignmentRow]:
    if not incident_ids:
        return []
    stmt = select(AssignmentRow).where(AssignmentRow.incident_id.in_(incident_ids))
    return list((await s.execute(stmt.order_by(AssignmentRow.id))).scalars())


async def bound_for_hospitals(
    s: AsyncSession, delivered_since: datetime
) -> list[tuple[AssignmentRow, IncidentRow]]:
    """Assignments that may hold beds (dispatch.casualty rules 4 and 5): bound for a
    hospital, not cancelled, and active or delivered since ``delivered_since``."""
    delivered = func.coalesce(AssignmentRow.at_hospital_at, AssignmentRow.handover_at)
    stmt = (select(AssignmentRow, IncidentRow)
            .join(IncidentRow, AssignmentRow.incident_id == IncidentRow.id)
            .where(AssignmentRow.hospital_id.is_not(None),
                   AssignmentRow.status != "CANCELLED",
                   or_(AssignmentRow.status.not_in(TERMINAL_NAMES),
                       delivered >= delivered_since))
            .order_by(AssignmentRow.id))
    return [(a, i) for a, i in (await s.execute(stmt)).all()]


async def active_assignments(s: AsyncSession, unit_id: int | None = None) -> list[AssignmentRow]:
    stmt = select(AssignmentRow).where(AssignmentRow.status.not_in(TERMINAL_NAMES))
    if unit_id is not None:
        stmt = stmt.where(AssignmentRow.unit_id == unit_id)
    return list((await s.execute(stmt.order_by(AssignmentRow.id))).scalars())


async def lock_assignments(s: AsyncSession, ids: Sequence[int]) -> list[AssignmentRow]:
    """The assignments ``ids`` that no other transaction holds, locked until this one ends
    (PostgreSQL ``FOR UPDATE SKIP LOCKED``; on SQLite, whose writers take turns, all of
    them), read afresh."""
    stmt = (select(AssignmentRow).where(AssignmentRow.id.in_(ids)).order_by(AssignmentRow.id)
            .with_for_update(skip_locked=True).execution_options(populate_existing=True))
    return list((await s.execute(stmt)).scalars())


async def lock_incidents(s: AsyncSession, ids: Sequence[int]) -> list[IncidentRow]:
    """The incidents ``ids`` that no other transaction holds, locked and read afresh, as
    :func:`lock_assignments`."""
    stmt = (select(IncidentRow).where(IncidentRow.id.in_(ids)).order_by(IncidentRow.id)
            .with_for_update(skip_locked=True).execution_options(populate_existing=True))
    return list((await s.execute(stmt)).scalars())


def incidents_query(
    *,
    statuses: Sequence[str] = (),
    kecamatan: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select[IncidentRow]:
    stmt = select(IncidentRow)
    if statuses:
        stmt = stmt.where(IncidentRow.status.in_(statuses))
    if since is not None:
        stmt = stmt.where(IncidentRow.created_at >= since)
    if until is not None:
        stmt = stmt.where(IncidentRow.created_at < until)
    if kecamatan is not None:
        stmt = stmt.join(KelurahanRow, IncidentRow.kelurahan_id == KelurahanRow.id).join(
            KecamatanRow, KelurahanRow.kecamatan_id == KecamatanRow.id
        ).where(KecamatanRow.code == kecamatan)
    return stmt


async def incidents(
    s: AsyncSession, stmt: Select[IncidentRow], limit: int | None, offset: int = 0
) -> list[IncidentRow]:
    stmt = stmt.order_by(IncidentRow.created_at.desc(), IncidentRow.id.desc()).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list((await s.execute(stmt)).scalars())


async def count(s: AsyncSession, model: type[Any]) -> int:
    return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


def add_audit(
    s: AsyncSession,
    *,
    at: datetime,
    actor: str,
    actor_user_id: int | None,
    entity_type: str,
    entity_id: int,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    incident_id: int | None = None,
) -> None:
    s.add(AuditEventRow(
        at=at, actor=actor, actor_user_id=actor_user_id, entity_type=entity_type,
        entity_id=entity_id, action=action, before=before, after=after,
        incident_id=incident_id,
    ))


async def audit_of_incident(s: AsyncSession, incident_id: int) -> list[AuditEventRow]:
    """The incident's own events and those of its assignments, in the order written."""
    stmt = select(AuditEventRow).where(AuditEventRow.incident_id == incident_id)
    return list((await s.execute(stmt.order_by(AuditEventRow.id))).scalars())


async def radio_alert(s: AsyncSession, alert_id: int) -> RadioAlertRow | None:
    return await s.get(RadioAlertRow, alert_id, populate_existing=True)


async def radio_alerts(s: AsyncSession, status: str | None, limit: int) -> list[RadioAlertRow]:
    stmt = select(RadioAlertRow)
    if status is not None:
        stmt = stmt.where(RadioAlertRow.status == status)
    return list((await s.execute(stmt.order_by(RadioAlertRow.id.desc()).limit(limit))).scalars())
