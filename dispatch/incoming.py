"""Patients coming to a hospital: who, how urgent, how far along, and when they arrive.

What a hospital's emergency department (IGD) sees of dispatch. Pure: assignments and
travel times in, the hospital's list out; the service reads the rows and the travel model.

Rules:

1. A patient is *coming* while an assignment names the hospital as its destination and has
   not been handed over: from DISPATCHED to AT_HOSPITAL. A cancelled assignment, one handed
   over, and one back in service are not listed (the IGD has the patient, or never will).
2. The stage is what the IGD plans by: the unit is on its way to the patient (ASSIGNED:
   dispatched, acknowledged, en route), with the patient at the scene (ON_SCENE), bringing
   the patient (TRANSPORTING), or at the door (ARRIVED).
3. The expected arrival is known once the crew leaves the scene: the departure stamp plus
   the travel time from the scene to the hospital. Before that only the travel time is
   known (the least time between departure and arrival); once arrived, the arrival stamp.
   An arrival time is never guessed from a stage the crew has not reported.
4. Order: triage first (MERAH on top), then the soonest expected arrival, then those not yet
   on the road in dispatch order: the patient an IGD must be ready for first comes first.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from dispatch.domain import (
    AssignmentStatus,
    Complaint,
    Label,
    TimeChain,
    Triage,
    UnitType,
)


class Stage(enum.Enum):
    ASSIGNED = "assigned"
    ON_SCENE = "on_scene"
    TRANSPORTING = "transporting"
    ARRIVED = "arrived"

    @property
    def label(self) -> Label:
        return _STAGE_LABELS[self]


_STAGE_LABELS = {
    Stage.ASSIGNED: Label("Unit menuju pasien", "Unit on its way to the patient"),
    Stage.ON_SCENE: Label("Unit bersama pasien di lokasi", "Unit with the patient on scene"),
    Stage.TRANSPORTING: Label("Pasien dalam perjalanan", "Patient on the way"),
    Stage.ARRIVED: Label("Pasien tiba di RS", "Patient arrived"),
}

STAGES: dict[AssignmentStatus, Stage] = {
    AssignmentStatus.DISPATCHED: Stage.ASSIGNED,
    AssignmentStatus.ACKNOWLEDGED: Stage.ASSIGNED,
    AssignmentStatus.EN_ROUTE: Stage.ASSIGNED,
    AssignmentStatus.ON_SCENE: Stage.ON_SCENE,
    AssignmentStatus.TRANSPORTING: Stage.TRANSPORTING,
    AssignmentStatus.AT_HOSPITAL: Stage.ARRIVED,
}

_TRIAGE_ORDER = (Triage.MERAH, Triage.KUNING, Triage.HIJAU, Triage.HITAM)


@dataclass(frozen=True, slots=True)
class Transport:
    """One assignment bound for the hospital, with what the IGD may know of it."""

    assignment_id: int
    incident_id: int
    number: str
    triage: Triage
    complaint: Complaint
    patients: int
    callsign: str
    unit_type: UnitType
    status: AssignmentStatus
    times: TimeChain
    kelurahan: str
    travel_seconds: float  # scene -> hospital, from the configured travel model


@dataclass(frozen=True, slots=True)
class Incoming:
    transport: Transport
    stage: Stage
    expected_at: datetime | None  # rule 3
    arrived_at: datetime | None


def expected_arrival(t: Transport) -> datetime | None:
    """Rule 3."""
    if t.status is AssignmentStatus.AT_HOSPITAL:
        return t.times.at_hospital_at
    if t.status is AssignmentStatus.TRANSPORTING and t.times.transporting_at is not None:
        return t.times.transporting_at + timedelta(seconds=t.travel_seconds)
    return None


def incoming(transports: Iterable[Transport]) -> list[Incoming]:
    """The hospital's list (rules 1, 2 and 4)."""
    out = []
    for t in transports:
        stage = STAGES.get(t.status)
        if stage is None:
            continue
        arrived = t.times.at_hospital_at if stage is Stage.ARRIVED else None
        out.append(Incoming(t, stage, expected_arrival(t), arrived))

    def key(item: Incoming) -> tuple[int, int, datetime, int]:
        t = item.transport
        on_road = item.expected_at is not None
        return (_TRIAGE_ORDER.index(t.triage), 0 if on_road else 1,
                item.expected_at or t.times.dispatched_at, t.assignment_id)

    return sorted(out, key=key)
