"""Assignment and unit lifecycle: a pure state machine with its timers.

An *assignment* is one ambulance working one incident. Its record
(:class:`~dispatch.domain.Assignment`) is immutable; every command returns the next record
and the events that explain the change (:class:`Outcome`). The service loads the row, calls
a command, stores the new record and the events in one transaction, then acts on the events.

Rules:

1. Everything that moves an assignment is in :data:`TRANSITIONS`
   (``status -> trigger -> status``). A missing entry is an :class:`IllegalTransition` with a
   code and a bilingual reason; nothing else in the package changes a status.
2. ``now`` is always an argument (aware UTC ``datetime``); the status a trigger reaches is
   stamped with it, once. Stamps are never overwritten, so the chain gives response intervals.
3. Forward skips are legal. Real crews forget to send "acknowledged" or "on scene" and reply
   "en route" or "transporting" straight away; refusing would leave the console wrong while the
   ambulance is moving. A crew report implies acknowledgement (``acknowledged_at`` is stamped
   with it), but the statuses it jumps over are *not* stamped: they were never reported and a
   fabricated time would corrupt the response-interval reports. The event lists them as
   ``skipped``. Backward moves are refused (a late SMS must not rewind the board).
4. Repeating the current status (the crew sends "2" twice) is a no-op with no event, and so is
   an acknowledgement once past ACKNOWLEDGED.
5. A crew may decline (BATAL) only before reaching the scene, and may only report back in
   service (SIAP) once the scene was reached; the dispatcher may cancel any active assignment.
6. Unit status is derived from the active assignment (:func:`unit_status_for`). A unit whose
   crew declined goes OUT_OF_SERVICE, so it is not recommended again for the same call; the
   crew's "SIAP" (:data:`UNIT_TRANSITIONS`) or the dispatcher puts it back.
7. Timers are data (:class:`TimerPolicy`): no acknowledgement within 120 s raises one
   :class:`EscalationRaised`; a status held longer than its reminder interval (ON_SCENE: 30 min)
   raises :class:`ReminderRaised`, again every interval. The adapter arms one timer at
   :func:`next_deadline` and calls :func:`due_timers` when it fires.
8. The dispatch room may take a unit out of service in the middle of a job (``WITHDRAW``: a
   breakdown, a crew member hurt): the assignment is cancelled with the reason OUT_OF_SERVICE,
   the unit goes OUT_OF_SERVICE, and unless the patient was already delivered the incident
   needs another unit (:class:`EscalationRaised`).
9. Who may override whom: every OUT_OF_SERVICE has a holder (:class:`Authority`: the crew for
   a decline, else the role of whoever decided). Only the same authority or a higher one puts
   the unit back (:func:`apply_unit`): a crew's "5 SIAP" or an old status link never undoes a
   dispatcher's or a supervisor's decision, a dispatcher never undoes a supervisor's.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from dispatch.domain import (
    TERMINAL,
    Assignment,
    AssignmentStatus,
    Authority,
    CancelReason,
    EscalationCause,
    IncidentStatus,
    Label,
    TimeChain,
    UnitStatus,
)
from dispatch.errors import IllegalTransition
from dispatch.events import (
    AssignmentAdvanced,
    AssignmentCancelled,
    DispatchEvent,
    EscalationRaised,
    ReminderRaised,
    UnitDispatched,
    UnitStatusChanged,
)


class Trigger(enum.Enum):
    """Inputs of the assignment machine (crew replies, hospital and dispatcher actions)."""

    ACKNOWLEDGE = "acknowledge"
    DEPART = "depart"
    ARRIVE = "arrive"
    TRANSPORT = "transport"
    REACH_HOSPITAL = "reach_hospital"
    HAND_OVER = "hand_over"
    CLEAR = "clear"
    DECLINE = "decline"
    CANCEL = "cancel"
    WITHDRAW = "withdraw"


class UnitTrigger(enum.Enum):
    TAKE_OUT_OF_SERVICE = "take_out_of_service"
    RETURN_TO_SERVICE = "return_to_service"


S, T = AssignmentStatus, Trigger
TRANSITIONS: dict[AssignmentStatus, dict[Trigger, AssignmentStatus]] = {
    S.DISPATCHED: {
        T.ACKNOWLEDGE: S.ACKNOWLEDGED, T.DEPART: S.EN_ROUTE, T.ARRIVE: S.ON_SCENE,
        T.TRANSPORT: S.TRANSPORTING, T.REACH_HOSPITAL: S.AT_HOSPITAL,
        T.DECLINE: S.CANCELLED, T.CANCEL: S.CANCELLED, T.WITHDRAW: S.CANCELLED,
    },
    S.ACKNOWLEDGED: {
        T.ACKNOWLEDGE: S.ACKNOWLEDGED, T.DEPART: S.EN_ROUTE, T.ARRIVE: S.ON_SCENE,
        T.TRANSPORT: S.TRANSPORTING, T.REACH_HOSPITAL: S.AT_HOSPITAL,
        T.DECLINE: S.CANCELLED, T.CANCEL: S.CANCELLED, T.WITHDRAW: S.CANCELLED,
    },
    S.EN_ROUTE: {
        T.ACKNOWLEDGE: S.EN_ROUTE, T.DEPART: S.EN_ROUTE, T.ARRIVE: S.ON_SCENE,
        T.TRANSPORT: S.TRANSPORTING, T.REACH_HOSPITAL: S.AT_HOSPITAL,
        T.DECLINE: S.CANCELLED, T.CANCEL: S.CANCELLED, T.WITHDRAW: S.CANCELLED,
    },
    S.ON_SCENE: {
        T.ACKNOWLEDGE: S.ON_SCENE, T.ARRIVE: S.ON_SCENE, T.TRANSPORT: S.TRANSPORTING,
        T.REACH_HOSPITAL: S.AT_HOSPITAL, T.CLEAR: S.BACK_IN_SERVICE, T.CANCEL: S.CANCELLED,
        T.WITHDRAW: S.CANCELLED,
    },
    S.TRANSPORTING: {
        T.ACKNOWLEDGE: S.TRANSPORTING, T.TRANSPORT: S.TRANSPORTING,
        T.REACH_HOSPITAL: S.AT_HOSPITAL, T.HAND_OVER: S.HANDOVER,
        T.CLEAR: S.BACK_IN_SERVICE, T.CANCEL: S.CANCELLED,
        T.WITHDRAW: S.CANCELLED,
    },
    S.AT_HOSPITAL: {
        T.ACKNOWLEDGE: S.AT_HOSPITAL, T.REACH_HOSPITAL: S.AT_HOSPITAL,
        T.HAND_OVER: S.HANDOVER, T.CLEAR: S.BACK_IN_SERVICE, T.CANCEL: S.CANCELLED,
        T.WITHDRAW: S.CANCELLED,
    },
    S.HANDOVER: {
        T.ACKNOWLEDGE: S.HANDOVER, T.HAND_OVER: S.HANDOVER,
        T.CLEAR: S.BACK_IN_SERVICE, T.CANCEL: S.CANCELLED,
        T.WITHDRAW: S.CANCELLED,
    },
    S.BACK_IN_SERVICE: {},
    S.CANCELLED: {},
}

U, UT = UnitStatus, UnitTrigger
UNIT_TRANSITIONS: dict[UnitStatus, dict[UnitTrigger, UnitStatus]] = {
    U.AVAILABLE: {UT.TAKE_OUT_OF_SERVICE: U.OUT_OF_SERVICE, UT.RETURN_TO_SERVICE: U.AVAILABLE},
    U.OUT_OF_SERVICE: {UT.RETURN_TO_SERVICE: U.AVAILABLE, UT.TAKE_OUT_OF_SERVICE: U.OUT_OF_SERVICE},
}

# Chain order of the assignment statuses, used for "skipped" and for "backwards" refusals.
ORDER: tuple[AssignmentStatus, ...] = (
    S.DISPATCHED, S.ACKNOWLEDGED, S.EN_ROUTE, S.ON_SCENE, S.TRANSPORTING,
    S.AT_HOSPITAL, S.HANDOVER, S.BACK_IN_SERVICE,
)
_RANK = {status: i for i, status in enumerate(ORDER)}
_CREW_REPORTS = frozenset({T.DEPART, T.ARRIVE, T.TRANSPORT, T.REACH_HOSPITAL, T.CLEAR})
_CANCEL_REASON = {T.DECLINE: CancelReason.DECLINED, T.CANCEL: CancelReason.DISPATCHER,
                  T.WITHDRAW: CancelReason.OUT_OF_SERVICE}
# Withdrawn before the patient reached a hospital: the incident still needs a unit (rule 8).
_STILL_NEEDED = frozenset({S.DISPATCHED, S.ACKNOWLEDGED, S.EN_ROUTE, S.ON_SCENE, S.TRANSPORTING})
_UNIT_FOR: dict[AssignmentStatus, UnitStatus] = {
    S.DISPATCHED: U.DISPATCHED, S.ACKNOWLEDGED: U.ACKNOWLEDGED, S.EN_ROUTE: U.EN_ROUTE,
    S.ON_SCENE: U.ON_SCENE, S.TRANSPORTING: U.TRANSPORTING, S.AT_HOSPITAL: U.AT_HOSPITAL,
    S.HANDOVER: U.AT_HOSPITAL, S.BACK_IN_SERVICE: U.AVAILABLE,
}
_INCIDENT_FOR: dict[AssignmentStatus, IncidentStatus] = {
    S.DISPATCHED: IncidentStatus.DISPATCHED, S.ACKNOWLEDGED: IncidentStatus.DISPATCHED,
    S.EN_ROUTE: IncidentStatus.DISPATCHED, S.ON_SCENE: IncidentStatus.ON_SCENE,
    S.TRANSPORTING: IncidentStatus.TRANSPORTING, S.AT_HOSPITAL: IncidentStatus.AT_HOSPITAL,
    S.HANDOVER: IncidentStatus.AT_HOSPITAL,
}
_INCIDENT_ORDER = list(IncidentStatus)
del S, T, U, UT


class Outcome(NamedTuple):
    """The next record and what happened; ``events`` is empty for a no-op."""

    assignment: Assignment
    events: list[DispatchEvent]


@dataclass(frozen=True, slots=True)
class TimerPolicy:
    acknowledge_within: timedelta = timedelta(seconds=120)
    remind_after: Mapping[AssignmentStatus, timedelta] = field(
        default_factory=lambda: {AssignmentStatus.ON_SCENE: timedelta(minutes=30)}
    )


DEFAULT_TIMERS = TimerPolicy()


def dispatch_unit(
    *, assignment_id: int, incident_id: int, unit_id: int, unit_status: UnitStatus, now: datetime
) -> Outcome:
    """Create an assignment. Only an AVAILABLE unit can be dispatched."""
    _check_now(now)
    if unit_status is not UnitStatus.AVAILABLE:
        raise IllegalTransition(
            "unit_not_available",
            Label(
                f"Unit tidak bisa ditugaskan: status {unit_status.label.id}",
                f"Unit cannot be dispatched: status {unit_status.label.en}",
            ),
            state=unit_status, trigger=None,
        )
    assignment = Assignment(
        assignment_id, incident_id, unit_id, AssignmentStatus.DISPATCHED, TimeChain(now)
    )
    return Outcome(assignment, [
        UnitDispatched(assignment_id, incident_id, unit_id, now),
        UnitStatusChanged(unit_id, unit_status, UnitStatus.DISPATCHED, now),
    ])


class UnitOutcome(NamedTuple):
    """A unit's next status, who holds it out of service (rule 9), and what happened."""

    status: UnitStatus
    held_by: Authority | None
    events: list[DispatchEvent]


def apply(
    assignment: Assignment, trigger: Trigger, now: datetime, *, by: Authority = Authority.CREW
) -> Outcome:
    """Move ``assignment`` by ``trigger`` at ``now`` or raise :class:`IllegalTransition`.

    ``by`` is who decided; it matters for WITHDRAW, whose OUT_OF_SERVICE it holds (rule 9).
    """
    _check_now(now)
    previous = assignment.status
    target = TRANSITIONS[previous].get(trigger)
    if target is None:
        raise _refusal(previous, trigger)
    if target is previous:
        return Outcome(assignment, [])
    times = assignment.times.stamped(target, now)
    if trigger in _CREW_REPORTS:
        times = times.stamped(AssignmentStatus.ACKNOWLEDGED, now)
    reason = _CANCEL_REASON.get(trigger)
    after = dataclasses.replace(assignment, status=target, times=times, cancel_reason=reason)
    a_id, i_id, u_id = assignment.id, assignment.incident_id, assignment.unit_id
    events: list[DispatchEvent] = []
    if reason is None:
        events.append(AssignmentAdvanced(a_id, i_id, u_id, previous, target,
                                         _skipped(previous, target), now))
    else:
        events.append(AssignmentCancelled(a_id, i_id, u_id, previous, reason, now))
    unit_before, unit_after = unit_status_for(assignment), unit_status_for(after)
    if unit_after is not unit_before:
        held = None
        if unit_after is UnitStatus.OUT_OF_SERVICE:
            held = Authority.CREW if reason is CancelReason.DECLINED else by
        events.append(UnitStatusChanged(u_id, unit_before, unit_after, now, held))
    if reason is CancelReason.DECLINED:
        events.append(EscalationRaised(a_id, i_id, u_id, EscalationCause.DECLINED, now))
    elif reason is CancelReason.OUT_OF_SERVICE and previous in _STILL_NEEDED:
        events.append(EscalationRaised(a_id, i_id, u_id, EscalationCause.OUT_OF_SERVICE, now))
    return Outcome(after, events)


def apply_unit(
    unit_id: int, status: UnitStatus, trigger: UnitTrigger, now: datetime, *,
    by: Authority, held_by: Authority | None = None,
) -> UnitOutcome:
    """Take an idle unit out of service or put it back; a repeat is a no-op (rule 4).

    A busy unit is refused: its status follows its assignment until that one ends (the
    dispatch room withdraws it from the job first, rule 8). ``by`` is who asks, ``held_by``
    who holds the current OUT_OF_SERVICE: a lower authority cannot put it back (rule 9). A
    higher authority repeating the decision takes it over.
    """
    _check_now(now)
    if (trigger is UnitTrigger.RETURN_TO_SERVICE and status is UnitStatus.OUT_OF_SERVICE
            and held_by is not None and held_by.rank > by.rank):
        raise IllegalTransition(
            "out_of_service_held",
            Label(f"Unit dinonaktifkan oleh {held_by.label.id}: hanya {held_by.label.id} "
                  "yang bisa mengaktifkan kembali; hubungi PSC 119",
                  f"The unit was taken out of service by the {held_by.label.en}: only the "
                  f"{held_by.label.en} can put it back; call PSC 119"),
            state=status, trigger=trigger,
        )
    target = UNIT_TRANSITIONS.get(status, {}).get(trigger)
    if target is None:
        raise IllegalTransition(
            "unit_busy",
            Label(
                f"Tidak bisa: unit sedang bertugas ({status.label.id})",
                f"Not possible: unit is on an assignment ({status.label.en})",
            ),
            state=status, trigger=trigger,
        )
    held = _holder(target, by, held_by)
    if target is status:
        return UnitOutcome(status, held, [])
    return UnitOutcome(target, held, [UnitStatusChanged(unit_id, status, target, now, held)])


def _holder(
    status: UnitStatus, by: Authority, held_by: Authority | None
) -> Authority | None:
    if status is not UnitStatus.OUT_OF_SERVICE:
        return None
    if held_by is not None and held_by.rank > by.rank:
        return held_by
    return by


def unit_status_for(assignment: Assignment) -> UnitStatus:
    """The unit's board status while (or after) it works this assignment (rule 6)."""
    if assignment.status is AssignmentStatus.CANCELLED:
        if assignment.cancel_reason in (CancelReason.DECLINED, CancelReason.OUT_OF_SERVICE):
            return UnitStatus.OUT_OF_SERVICE
        return UnitStatus.AVAILABLE
    return _UNIT_FOR[assignment.status]


def incident_status(
    statuses: Iterable[AssignmentStatus], *, cancelled: bool = False, unassigned: int = 0
) -> IncidentStatus:
    """An incident is as far along as its furthest active unit.

    With no active unit it is CLOSED once a unit completed and no patient is left without
    one (``unassigned``, :mod:`dispatch.casualty`), else NEW (waiting for a unit).
    ``cancelled`` is the dispatcher's decision, stored on the incident itself.
    """
    if cancelled:
        return IncidentStatus.CANCELLED
    statuses = list(statuses)
    active = [_INCIDENT_FOR[s] for s in statuses if s in _INCIDENT_FOR]
    if active:
        return max(active, key=_INCIDENT_ORDER.index)
    if AssignmentStatus.BACK_IN_SERVICE in statuses and not unassigned:
        return IncidentStatus.CLOSED
    return IncidentStatus.NEW


def deadline(assignment: Assignment, policy: TimerPolicy = DEFAULT_TIMERS) -> datetime | None:
    """When this assignment's next timer fires, if it has one."""
    candidates = [d for d in (_ack_deadline(assignment, policy),
                              _reminder_deadline(assignment, policy)) if d is not None]
    return min(candidates, default=None)


def next_deadline(
    assignments: Iterable[Assignment], policy: TimerPolicy = DEFAULT_TIMERS
) -> datetime | None:
    """The earliest deadline of all ``assignments``: the one timer the adapter arms."""
    deadlines = [d for a in assignments if (d := deadline(a, policy)) is not None]
    return min(deadlines, default=None)


def handle_timer(
    assignment: Assignment, now: datetime, policy: TimerPolicy = DEFAULT_TIMERS
) -> Outcome:
    """Fire whatever is due at ``now``; an early call is a no-op."""
    _check_now(now)
    events: list[DispatchEvent] = []
    after = assignment
    a_id, i_id, u_id = assignment.id, assignment.incident_id, assignment.unit_id
    ack = _ack_deadline(assignment, policy)
    if ack is not None and ack <= now:
        events.append(EscalationRaised(a_id, i_id, u_id, EscalationCause.NOT_ACKNOWLEDGED, now))
        after = dataclasses.replace(after, escalated_at=now)
    remind = _reminder_deadline(assignment, policy)
    if remind is not None and remind <= now:
        since = assignment.times.at(assignment.status)
        assert since is not None  # a reminder deadline exists only for a stamped status
        events.append(ReminderRaised(a_id, i_id, u_id, assignment.status, since, now))
        after = dataclasses.replace(after, reminded_at=now)
    return Outcome(after, events)


def due_timers(
    assignments: Iterable[Assignment], now: datetime, policy: TimerPolicy = DEFAULT_TIMERS
) -> list[Outcome]:
    """:func:`handle_timer` over many assignments; only those that fired are returned."""
    fired = (handle_timer(a, now, policy) for a in assignments)
    return [outcome for outcome in fired if outcome.events]


def _ack_deadline(assignment: Assignment, policy: TimerPolicy) -> datetime | None:
    if assignment.status is not AssignmentStatus.DISPATCHED or assignment.escalated_at is not None:
        return None
    return assignment.times.dispatched_at + policy.acknowledge_within


def _reminder_deadline(assignment: Assignment, policy: TimerPolicy) -> datetime | None:
    interval = policy.remind_after.get(assignment.status)
    since = assignment.times.at(assignment.status)
    if interval is None or since is None:
        return None
    last = max(since, assignment.reminded_at) if assignment.reminded_at else since
    return last + interval


def _skipped(
    previous: AssignmentStatus, target: AssignmentStatus
) -> tuple[AssignmentStatus, ...]:
    """Statuses jumped over (rule 3). Closing from the scene skips nothing: no transport."""
    if target is AssignmentStatus.BACK_IN_SERVICE:
        return ()
    between = ORDER[_RANK[previous] + 1 : _RANK[target]]
    return tuple(s for s in between if s is not AssignmentStatus.ACKNOWLEDGED)


# Why an input was refused: code -> (Indonesian, English); {now} is the current status.
_REFUSALS: dict[str, tuple[str, str]] = {
    "assignment_closed": ("Tugas sudah ditutup ({now})", "Assignment is closed ({now})"),
    "decline_too_late": ("Tidak bisa BATAL: unit sudah {now}; hubungi dispatcher",
                         "Cannot decline: unit is already {now}; call the dispatcher"),
    "scene_not_reached": (
        "Belum tiba di lokasi: balas BATAL bila tidak bisa, atau hubungi dispatcher",
        "Scene not reached yet: reply BATAL if you cannot go, or call the dispatcher"),
    "no_patient_on_board": ("Serah terima belum bisa: unit masih {now}",
                            "No handover yet: unit is still {now}"),
    "status_already_passed": ("Status itu sudah lewat: unit sekarang {now}",
                              "That status has already passed: unit is now {now}"),
}
_REFUSED_TRIGGER = {
    Trigger.DECLINE: "decline_too_late",  # rule 5
    Trigger.CLEAR: "scene_not_reached",  # rule 5
    Trigger.HAND_OVER: "no_patient_on_board",
}


def _refusal(status: AssignmentStatus, trigger: Trigger) -> IllegalTransition:
    if status in TERMINAL:
        code = "assignment_closed"
    else:  # what is left is a backward move (rule 3)
        code = _REFUSED_TRIGGER.get(trigger, "status_already_passed")
    text_id, text_en = _REFUSALS[code]
    message = Label(text_id.format(now=status.label.id), text_en.format(now=status.label.en))
    return IllegalTransition(code, message, state=status, trigger=trigger)


def _check_now(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime (UTC)")
