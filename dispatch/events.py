"""Domain events of SPGDT dispatch: what happened, in the past tense.

Rules:

1. The lifecycle core returns these; it never performs anything. The service appends them to
   the audit trail in the same transaction as the new state, then acts on them after the
   commit (publish to the console, send the SMS, ask for the next best unit).
2. Every event carries its server-stamped time ``at`` (UTC, from the ``now`` passed to the
   core) and the ids a consumer needs, so no consumer has to load a row to use one.
3. Consumers ``match`` on :data:`DispatchEvent` and close with ``assert_never`` so a new event
   type is a type error everywhere it is not handled yet (see :func:`describe`).
4. :data:`Announcement` events are not returned by a core: the service builds them after a
   commit, for consumers outside the package (the SMS sender, the composition root opening an
   incident talkgroup). They carry copies of everything such a consumer needs, so it never
   has to query dispatch tables (nor import dispatch internals) to act on one.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import assert_never

from dispatch.domain import (
    AssignmentStatus,
    Authority,
    CancelReason,
    Complaint,
    EscalationCause,
    Label,
    Triage,
    UnitStatus,
    UnitType,
)


@dataclass(frozen=True, slots=True)
class UnitDispatched:
    """A unit was assigned to an incident; the crew SMS goes out after the commit."""

    assignment_id: int
    incident_id: int
    unit_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class AssignmentAdvanced:
    """The crew (or the hospital) reported progress.

    ``skipped`` lists the statuses the report jumped over, in order; they were never reported
    and have no time stamp (see :mod:`dispatch.lifecycle`, rule 3).
    """

    assignment_id: int
    incident_id: int
    unit_id: int
    previous: AssignmentStatus
    status: AssignmentStatus
    skipped: tuple[AssignmentStatus, ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class AssignmentCancelled:
    """The dispatcher cancelled the assignment, or the crew declined it."""

    assignment_id: int
    incident_id: int
    unit_id: int
    previous: AssignmentStatus
    reason: CancelReason
    at: datetime


@dataclass(frozen=True, slots=True)
class UnitStatusChanged:
    """The unit's board status changed (derived from its assignment, or set directly).

    ``held_by`` is who holds an OUT_OF_SERVICE (see :mod:`dispatch.lifecycle`, rule 9).
    """

    unit_id: int
    previous: UnitStatus
    status: UnitStatus
    at: datetime
    held_by: Authority | None = None


@dataclass(frozen=True, slots=True)
class EscalationRaised:
    """The incident needs another unit: the service recommends the next best one."""

    assignment_id: int
    incident_id: int
    unit_id: int
    cause: EscalationCause
    at: datetime


@dataclass(frozen=True, slots=True)
class ReminderRaised:
    """A crew has been in ``status`` since ``since`` without a report: remind them."""

    assignment_id: int
    incident_id: int
    unit_id: int
    status: AssignmentStatus
    since: datetime
    at: datetime


@dataclass(frozen=True, slots=True)
class DispatchOverdue:
    """A call has waited longer than its triage allows without a unit (``dispatch.queue``):
    an alarm, with sound, on every console. ``limit_s`` is the limit that was passed."""

    incident_id: int
    number: str
    triage: Triage
    since: datetime
    limit_s: int
    at: datetime


DispatchEvent = (
    UnitDispatched
    | AssignmentAdvanced
    | AssignmentCancelled
    | UnitStatusChanged
    | EscalationRaised
    | ReminderRaised
    | DispatchOverdue
)


@dataclass(frozen=True, slots=True)
class IncidentDispatched:
    """A unit was assigned (rule 4): what the crew's dispatch SMS and the hospital's
    pre-arrival SMS are composed from (see :func:`dispatch.sms_text.compose_dispatch_sms`).

    ``crew_phones`` are E.164; ``scene_lat``/``scene_lon`` WGS84; ``eta_seconds`` is the
    estimated drive from the unit to the scene (``None`` when unknown). ``patients`` is the
    incident's count, ``carried`` this unit's share of it (:mod:`dispatch.casualty`).
    """

    assignment_id: int
    incident_id: int
    number: str
    unit_id: int
    callsign: str
    unit_type: UnitType
    crew_phones: tuple[str, ...]
    triage: Triage
    complaint: Complaint
    patients: int
    address: str
    kelurahan: str
    scene_lat: float
    scene_lon: float
    notes: str
    landmark: str
    caller_phone: str | None
    location_approximate: bool
    hospital_id: int | None
    hospital_name: str | None
    hospital_phone: str | None
    eta_seconds: float | None
    dispatched_by: str
    at: datetime
    carried: int | None = None  # None: the whole incident (an event from before the share)


@dataclass(frozen=True, slots=True)
class IncidentTalkgroupRequested:
    """An assignment was made: the composition root may open (or extend) a dynamic talkgroup
    for the incident with these members (the responding crew's users and the dispatcher).

    ``code`` is a talkgroup code derived from the incident number (``psc-20261128-0007``);
    the request repeats for every unit added, with the members known so far.
    """

    incident_id: int
    number: str
    code: str
    name: str
    member_user_ids: tuple[int, ...]
    member_usernames: tuple[str, ...]
    requested_by: str
    at: datetime


@dataclass(frozen=True, slots=True)
class IncidentEnded:
    """An incident was closed or cancelled (``status``): the composition root closes its
    talkgroup (``code``, as in :class:`IncidentTalkgroupRequested`), if one was opened."""

    incident_id: int
    number: str
    code: str
    status: str
    at: datetime


class CrewNoticeKind(enum.Enum):
    """Why a crew is told their job changed (each is a short SMS, see ``sms_text``)."""

    CANCELLED = "cancelled"  # the dispatcher cancelled the job (or the whole incident)
    STOOD_DOWN = "stood_down"  # another unit was sent instead
    DESTINATION_CHANGED = "destination_changed"  # a new destination hospital (or none)
    OUT_OF_SERVICE = "out_of_service"  # the unit was taken out of service during the job


@dataclass(frozen=True, slots=True)
class CrewNotified:
    """The dispatch room changed a crew's job (rule 4): the crew gets an SMS, and their
    status link shows the change. ``by`` is who decided (an actor name);
    ``hospital_name`` the destination after the change."""

    kind: CrewNoticeKind
    assignment_id: int
    incident_id: int
    number: str
    unit_id: int
    callsign: str
    crew_phones: tuple[str, ...]
    hospital_name: str | None
    by: str
    at: datetime


Announcement = (IncidentDispatched | IncidentTalkgroupRequested | IncidentEnded
                | CrewNotified)


def describe(event: DispatchEvent) -> Label:
    """One line for the console timeline and the audit log."""
    match event:
        case UnitDispatched():
            return Label("Unit ditugaskan", "Unit dispatched")
        case AssignmentAdvanced(status=status, skipped=skipped):
            if not skipped:
                return status.label
            gap_id = ", ".join(s.label.id for s in skipped)
            gap_en = ", ".join(s.label.en for s in skipped)
            return Label(
                f"{status.label.id} (tanpa laporan: {gap_id})",
                f"{status.label.en} (not reported: {gap_en})",
            )
        case AssignmentCancelled(reason=reason):
            return reason.label
        case UnitStatusChanged(status=status):
            return Label(f"Status unit: {status.label.id}", f"Unit status: {status.label.en}")
        case EscalationRaised(cause=cause):
            return Label(f"Eskalasi: {cause.label.id}", f"Escalation: {cause.label.en}")
        case ReminderRaised(status=status):
            return Label(
                f"Pengingat: belum ada laporan sejak {status.label.id.lower()}",
                f"Reminder: no report since {status.label.en.lower()}",
            )
        case DispatchOverdue(triage=triage, limit_s=limit_s):
            return Label(
                f"{triage.name} belum dikirimi unit lewat {_duration(limit_s, 'id')}",
                f"{triage.name} without a unit for over {_duration(limit_s, 'en')}",
            )
        case _:  # pragma: no cover
            assert_never(event)


def _duration(seconds: int, lang: str) -> str:
    if seconds % 60:
        return f"{seconds} {'detik' if lang == 'id' else 's'}"
    return f"{seconds // 60} {'menit' if lang == 'id' else 'min'}"
