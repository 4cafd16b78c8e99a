"""Rows to core records and back, and the JSON snapshots the audit trail keeps.

The cores speak immutable records (:class:`~dispatch.domain.Assignment`,
:class:`~dispatch.recommend.UnitCandidate`, ...); the tables store enum names and one column
per time stamp. Everything that crosses between the two goes through here, so a renamed field
breaks in one place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import inspect

from dispatch.casualty import Carried
from dispatch.domain import (
    Assignment,
    AssignmentStatus,
    BedCategory,
    CancelReason,
    Capability,
    TimeChain,
    UnitStatus,
    UnitType,
)
from dispatch.recommend import BedCount, HospitalCandidate, Origin, UnitCandidate
from dispatch.store.models import AssignmentRow, HospitalBedsRow, HospitalRow, UnitRow
from dispatch.travel import LatLon
from kernel.db import Base

TIME_FIELDS = tuple(f.name for f in dataclasses.fields(TimeChain))


def json_value(value: Any) -> Any:
    """A column value as JSON: datetimes as ISO 8601 with offset, everything else as is."""
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def snapshot(row: Base) -> dict[str, Any]:
    """Every column of ``row`` as JSON-ready data (the audit trail's before/after)."""
    mapper = inspect(type(row))
    return {c.key: json_value(getattr(row, c.key)) for c in mapper.column_attrs}


def assignment_record(row: AssignmentRow) -> Assignment:
    times = TimeChain(**{name: getattr(row, name) for name in TIME_FIELDS})
    return Assignment(
        id=row.id,
        incident_id=row.incident_id,
        unit_id=row.unit_id,
        status=AssignmentStatus[row.status],
        times=times,
        cancel_reason=CancelReason[row.cancel_reason] if row.cancel_reason else None,
        escalated_at=row.escalated_at,
        reminded_at=row.reminded_at,
    )


def carried(row: AssignmentRow) -> Carried:
    """The assignment's share of its incident's patients (dispatch.casualty)."""
    return Carried(AssignmentStatus[row.status], row.patients, row.hospital_id,
                   row.at_hospital_at or row.handover_at)


def store_assignment(row: AssignmentRow, record: Assignment) -> None:
    """Copy a core record onto its row (the ORM's version check guards the write).

    Only differing values are set, so an unchanged record costs no UPDATE (nor a version).
    """
    values = {
        "status": record.status.name,
        "cancel_reason": record.cancel_reason.name if record.cancel_reason else None,
        "escalated_at": record.escalated_at,
        "reminded_at": record.reminded_at,
        **{name: getattr(record.times, name) for name in TIME_FIELDS},
    }
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)


def unit_position(row: UnitRow, home: LatLon | None) -> tuple[LatLon, datetime | None]:
    """Last fix when there is one; else the home post (``position_at`` None = home base)."""
    if row.last_lat is not None and row.last_lon is not None:
        at = row.last_position_at if row.last_position_source != "home_post" else None
        return LatLon(row.last_lat, row.last_lon), at
    if home is None:
        raise ValueError(f"unit {row.callsign} has neither a position nor a home kelurahan")
    return home, None


#: ``units.last_position_source`` values that are a place a crew reported, not a GPS fix.
REPORTED = {"scene": Origin.SCENE, "hospital": Origin.HOSPITAL}


def unit_candidate(row: UnitRow, home: LatLon | None) -> UnitCandidate:
    position, at = unit_position(row, home)
    origin = Origin.POST if at is None else REPORTED.get(row.last_position_source or "",
                                                         Origin.GPS)
    return UnitCandidate(row.id, UnitType[row.unit_type], UnitStatus[row.status], position, at,
                         origin, home)


def bed_counts(
    beds: Iterable[HospitalBedsRow], reserved: Mapping[BedCategory, int] | None = None
) -> dict[BedCategory, BedCount]:
    """Free beds as reported, less those ``reserved`` for patients on their way
    (dispatch.casualty rule 4), never below 0."""
    reserved = reserved or {}
    counts = {}
    for bed in beds:
        category = BedCategory[bed.category]
        free = max(bed.free - reserved.get(category, 0), 0)
        counts[category] = BedCount(category, free, bed.updated_at)
    return counts


def capabilities(row: HospitalRow) -> frozenset[Capability]:
    known = {c.value for c in Capability}
    return frozenset(Capability(tag) for tag in row.capabilities if tag in known)


def unavailable(row: HospitalRow) -> frozenset[Capability]:
    """The hospital's capabilities it reports out of action for now (CT down, ...)."""
    down = set(row.capabilities_unavailable or ())
    return frozenset(c for c in capabilities(row) if c.value in down)


def hospital_candidate(
    row: HospitalRow, beds: Iterable[HospitalBedsRow],
    reserved: Mapping[BedCategory, int] | None = None,
) -> HospitalCandidate:
    """What the ranking sees: only the capabilities in action now, reserved beds taken."""
    return HospitalCandidate(
        row.id, row.name, LatLon(row.lat, row.lon), capabilities(row) - unavailable(row),
        bed_counts(beds, reserved),
        row.accepting,
    )
