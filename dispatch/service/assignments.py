"""Assignments and unit statuses: the lifecycle core applied to rows.

Every status change, whoever asks (dispatcher, crew SMS, tap link, timer), goes through
:meth:`Assignments.write_outcome`: store the core's new record (version-checked), move the
unit with a conditional UPDATE from the status the core saw, audit both, refresh the
incident's derived status, and queue the announcements. The rules of what may move where
are :mod:`dispatch.lifecycle`'s alone.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import assert_never

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import casualty, lifecycle
from dispatch.domain import (
    TERMINAL,
    Assignment,
    AssignmentStatus,
    Authority,
    CancelReason,
    Label,
    UnitStatus,
)
from dispatch.errors import IllegalTransition
from dispatch.events import (
    AssignmentAdvanced,
    AssignmentCancelled,
    CrewNoticeKind,
    DispatchOverdue,
    EscalationRaised,
    ReminderRaised,
    UnitDispatched,
    UnitStatusChanged,
    describe,
)
from dispatch.lifecycle import Outcome, Trigger, UnitTrigger
from dispatch.replies import EndedJob
from dispatch.service import briefs
from dispatch.service.actor import Actor
from dispatch.service.base import Outbox, Stale
from dispatch.service.errors import Conflict, InvalidInput
from dispatch.service.recommending import Recommending
from dispatch.service.views import AssignmentView, CrewStatusResult, Text, UnitView
from dispatch.store import repo
from dispatch.store.models import AssignmentRow, IncidentRow, UnitRow
from dispatch.store.records import assignment_record, carried, snapshot, store_assignment

CLOSED = frozenset({"CANCELLED", "CLOSED"})
ENDED_WITHIN = timedelta(hours=12)  # a late reply about a job ended this long ago is answered


@dataclass(frozen=True, slots=True)
class CrewContext:
    """What :func:`dispatch.replies.resolve_reply` needs about the sender's unit."""

    unit_id: int
    callsign: str
    active: list[Assignment]
    numbers: dict[int, str]
    ended: list[EndedJob]


class Assignments(Recommending):
    # --- dispatcher commands ---------------------------------------------------------------

    async def assign(
        self, incident_id: int, unit_id: int, *, actor: Actor, hospital_id: int | None = None,
        patients: int | None = None, now: datetime | None = None,
    ) -> AssignmentView:
        """Send ``unit_id`` to the incident; 409 ``unit_busy``/``unit_out_of_service`` if it
        is not AVAILABLE (also when another dispatcher took it a moment earlier).

        ``patients`` is how many of the incident's patients it carries; without it, every
        patient not yet carried; 409 ``patients_exceed_remaining`` beyond those
        (:func:`dispatch.casualty.patients_to_carry`)."""
        at = now or self.now()

        async def command(s: AsyncSession, out: Outbox) -> AssignmentView:
            incident = await self.need_incident(s, incident_id)
            self.check_open(incident)
            row = await self.dispatch(s, out, incident, unit_id, hospital_id, actor, at,
                                      patients)
            return await self.assignment_view(s, row)

        return await self.run(command)

    async def reassign(
        self, assignment_id: int, unit_id: int, *, actor: Actor, now: datetime | None = None
    ) -> AssignmentView:
        """Cancel this assignment and send ``unit_id`` instead, in one transaction."""
        at = now or self.now()

        async def command(s: AsyncSession, out: Outbox) -> AssignmentView:
            old = await self.need_assignment(s, assignment_id)
            if old.unit_id == unit_id:
                raise InvalidInput("same_unit", Label("Unit pengganti sama dengan unit lama",
                                                      "The new unit is the one being replaced"))
            incident = await self.need_incident(s, old.incident_id)
            self.check_open(incident)
            await self.apply_trigger(s, out, old, Trigger.CANCEL, actor, at, "reassigned",
                                     notice=CrewNoticeKind.STOOD_DOWN)
            row = await self.dispatch(s, out, incident, unit_id, old.hospital_id, actor, at,
                                      old.patients)
            return await self.assignment_view(s, row)

        return await self.run(command)

    async def cancel_assignment(
        self, assignment_id: int, *, actor: Actor, now: datetime | None = None
    ) -> AssignmentView:
        at = now or self.now()

        async def command(s: AsyncSession, out: Outbox) -> AssignmentView:
            row = await self.need_assignment(s, assignment_id)
            await self.apply_trigger(s, out, row, Trigger.CANCEL, actor, at)
            return await self.assignment_view(s, row)

        return await self.run(command)

    async def set_destination(
        self, assignment_id: int, hospital_id: int | None, *, actor: Actor,
        now: datetime | None = None,
    ) -> AssignmentView:
        at = now or self.now()

        async def command(s: AsyncSession, out: Outbox) -> AssignmentView:
            row = await self.need_assignment(s, assignment_id)
            if AssignmentStatus[row.status] in TERMINAL:
                raise Conflict("assignment_closed", Label("Tugas sudah ditutup",
                                                          "Assignment is closed"))
            if hospital_id is not None:
                await self.need_hospital(s, hospital_id)
            if row.hospital_id != hospital_id:
                before = snapshot(row)
                row.hospital_id = hospital_id
                await s.flush()
                self.audit(s, actor, at, "assignment", row.id, "destination_set", before,
                           snapshot(row), row.incident_id)
                view = await self.assignment_view(s, row)
                out.message("assignment.updated", at, assignment=view.model_dump(mode="json"))
                out.bus.append(await briefs.notice(
                    s, row, CrewNoticeKind.DESTINATION_CHANGED, actor, at))
            return await self.assignment_view(s, row)

        return await self.run(command)

    # --- crew (SMS webhook, tap link) and dispatcher status changes -------------------------

    async def apply_crew_status(
        self, *, trigger: Trigger | UnitTrigger, actor: Actor, assignment_id: int | None = None,
        unit_id: int | None = None, now: datetime | None = None,
    ) -> CrewStatusResult:
        """Move an assignment (``Trigger``) or an idle unit (``UnitTrigger``).

        Give ``assignment_id``, or ``unit_id`` when the unit has exactly one active
        assignment. An illegal move raises the core's :class:`IllegalTransition` (its
        bilingual reason) and writes nothing; a repeat is a no-op (``changed`` False).
        """
        at = now or self.now()

        async def command(s: AsyncSession, out: Outbox) -> CrewStatusResult:
            if isinstance(trigger, UnitTrigger):
                if unit_id is None:
                    raise InvalidInput("unit_required", Label("Unit harus disebut",
                                                              "A unit is required"))
                unit = await self.need_unit(s, unit_id)
                by = Authority.of_role(actor.role)
                if trigger is UnitTrigger.TAKE_OUT_OF_SERVICE:  # lifecycle rule 8
                    for job in await repo.active_assignments(s, unit.id):
                        await self.apply_trigger(s, out, job, Trigger.WITHDRAW, actor, at,
                                                 notice=CrewNoticeKind.OUT_OF_SERVICE)
                    unit = await self.need_unit(s, unit_id)
                held = Authority[unit.out_of_service_by] if unit.out_of_service_by else None
                _, held_after, events = lifecycle.apply_unit(
                    unit.id, UnitStatus[unit.status], trigger, at, by=by, held_by=held)
                if not events and held_after is not held:  # a higher authority takes it over
                    unit.out_of_service_by = held_after.name if held_after else None
                    await s.flush()
                for event in events:
                    if isinstance(event, UnitStatusChanged):
                        await self.move_unit(s, out, event, actor, at, None)
                out.bus.extend(events)
                view = await self.unit_view(s, await self.need_unit(s, unit.id))
                return CrewStatusResult(changed=bool(events), assignment=None, unit=view,
                                        events=[type(e).__name__ for e in events])
            row = await self.target(s, assignment_id, unit_id)
            outcome = await self.apply_trigger(s, out, row, trigger, actor, at)
            unit_row = await self.need_unit(s, row.unit_id)
            return CrewStatusResult(
                changed=bool(outcome.events), assignment=await self.assignment_view(s, row),
                unit=await self.unit_view(s, unit_row),
                events=[type(e).__name__ for e in outcome.events])

        return await self.run(command)

    async def set_unit_service(
        self, unit_id: int, trigger: UnitTrigger, *, actor: Actor, now: datetime | None = None
    ) -> UnitView:
        result = await self.apply_crew_status(trigger=trigger, actor=actor, unit_id=unit_id,
                                              now=now)
        return result.unit

    async def crew_context(self, phone: str) -> CrewContext | None:
        """The unit whose crew uses ``phone`` and its active assignments (for SMS replies)."""
        async with self.sessions() as s:
            unit = await repo.unit_by_phone(s, phone)
            if unit is None:
                return None
            rows = await repo.active_assignments(s, unit.id)
            numbers = {}
            for row in rows:
                incident = await s.get(IncidentRow, row.incident_id)
                if incident is not None:
                    numbers[row.incident_id] = incident.number
            ended = []
            for row in await repo.ended_by_dispatch(s, unit.id, self.now() - ENDED_WITHIN):
                incident = await s.get(IncidentRow, row.incident_id)
                assert incident is not None and row.cancelled_at is not None
                ended.append(EndedJob(incident.number, CancelReason[row.cancel_reason or ""],
                                      row.cancelled_by or "PSC 119", row.cancelled_at))
            return CrewContext(unit.id, unit.callsign, [assignment_record(r) for r in rows],
                               numbers, ended)

    async def dispatch_brief(self, assignment_id: int) -> briefs.IncidentDispatched:
        """Everything an SMS about this assignment needs, as of now."""
        async with self.sessions() as s:
            row = await self.need_assignment(s, assignment_id)
            return await briefs.dispatched(self, s, row, Actor.system(), self.now())

    # --- shared steps (inside a command's transaction) -----------------------------------

    def check_open(self, incident: IncidentRow) -> None:
        if incident.status in CLOSED:
            status = incident.status.lower()
            raise Conflict("incident_closed",
                           Label(f"Kejadian {incident.number} sudah ditutup ({status})",
                                 f"Incident {incident.number} is closed ({status})"),
                           {"incident": self.incident_view(incident).model_dump(mode="json")})

    async def target(
        self, s: AsyncSession, assignment_id: int | None, unit_id: int | None
    ) -> AssignmentRow:
        if assignment_id is not None:
            row = await self.need_assignment(s, assignment_id)
            if unit_id is not None and row.unit_id != unit_id:
                raise InvalidInput("assignment_not_of_unit",
                                   Label("Penugasan itu bukan milik unit ini",
                                         "That assignment belongs to another unit"))
            return row
        if unit_id is None:
            raise InvalidInput("assignment_required", Label("Sebutkan penugasan atau unit",
                                                            "Name an assignment or a unit"))
        await self.need_unit(s, unit_id)
        active = await repo.active_assignments(s, unit_id)
        if len(active) != 1:
            code = "no_active_assignment" if not active else "ambiguous_assignment"
            raise Conflict(code, Label("Unit tidak punya tepat satu tugas aktif",
                                       "The unit does not have exactly one active assignment"),
                           {"active": [a.id for a in active]})
        return active[0]

    async def dispatch(
        self, s: AsyncSession, out: Outbox, incident: IncidentRow, unit_id: int,
        hospital_id: int | None, actor: Actor, now: datetime, patients: int | None = None,
    ) -> AssignmentRow:
        shares = [carried(a) for a in await repo.assignments_of(s, [incident.id])]
        try:
            patients = casualty.patients_to_carry(incident.patients, shares, patients)
        except casualty.PatientRefusal as exc:
            raise Conflict(exc.code, exc.message, exc.details) from None
        unit = await self.need_unit(s, unit_id)
        hospital = await self.need_hospital(s, hospital_id) if hospital_id is not None else None
        unit_before = snapshot(unit)
        if not await repo.set_unit_status(s, unit_id, "AVAILABLE", "DISPATCHED", now):
            current = await self.need_unit(s, unit_id)
            try:  # the core says why not (or, if it became AVAILABLE again, retry)
                lifecycle.dispatch_unit(assignment_id=0, incident_id=incident.id,
                                        unit_id=unit_id, unit_status=UnitStatus[current.status],
                                        now=now)
            except IllegalTransition as exc:
                raise await self.unit_refusal(s, current, exc) from None
            raise Stale(f"unit {unit_id} changed while being claimed")
        row = AssignmentRow(incident_id=incident.id, unit_id=unit_id, hospital_id=hospital_id,
                            patients=patients, status="DISPATCHED", dispatched_at=now,
                            dispatched_by_id=actor.user_id)
        s.add(row)
        await s.flush()
        outcome = lifecycle.dispatch_unit(assignment_id=row.id, incident_id=incident.id,
                                          unit_id=unit_id, unit_status=UnitStatus.AVAILABLE,
                                          now=now)
        store_assignment(row, outcome.assignment)
        await s.flush()
        self.audit(s, actor, now, "assignment", row.id, "dispatched", None, snapshot(row),
                   incident.id)
        unit = await self.need_unit(s, unit_id)
        self.audit(s, actor, now, "unit", unit_id, "status_changed", unit_before,
                   snapshot(unit), incident.id)
        out.bus.extend(outcome.events)
        out.bus.append(await briefs.dispatched(self, s, row, actor, now, hospital=hospital))
        out.bus.append(await briefs.talkgroup(s, incident, actor, now))
        view = await self.assignment_view(s, row)
        out.message("assignment.created", now, assignment=view.model_dump(mode="json"))
        out.message("unit.status", now,
                    unit=(await self.unit_view(s, unit)).model_dump(mode="json"))
        await self.refresh_incident(s, out, incident, actor, now)
        out.rearm = True
        return row

    async def unit_refusal(
        self, s: AsyncSession, unit: UnitRow, exc: IllegalTransition
    ) -> Conflict:
        code = "unit_out_of_service" if unit.status == "OUT_OF_SERVICE" else "unit_busy"
        view = await self.unit_view(s, unit)
        return Conflict(code, exc.message, {"unit": view.model_dump(mode="json"),
                                            "core_code": exc.code})

    async def apply_trigger(
        self, s: AsyncSession, out: Outbox, row: AssignmentRow, trigger: Trigger, actor: Actor,
        now: datetime, action: str | None = None, *, notice: CrewNoticeKind | None = None,
    ) -> Outcome:
        """Apply the core; ``notice`` (or, for a dispatcher's cancel, CANCELLED) tells the
        crew of the change by SMS after the commit."""
        outcome = lifecycle.apply(assignment_record(row), trigger, now,
                                  by=Authority.of_role(actor.role))
        if outcome.events:
            await self.write_outcome(s, out, row, outcome, actor, now, action or trigger.value)
            if notice is None and trigger is Trigger.CANCEL:
                notice = CrewNoticeKind.CANCELLED
            if notice is not None:
                out.bus.append(await briefs.notice(s, row, notice, actor, now))
        return outcome

    async def write_outcome(
        self, s: AsyncSession, out: Outbox, row: AssignmentRow, outcome: Outcome, actor: Actor,
        now: datetime, action: str,
    ) -> None:
        before = snapshot(row)
        store_assignment(row, outcome.assignment)
        if outcome.assignment.status is AssignmentStatus.CANCELLED:
            row.cancelled_by = actor.name
        await s.flush()  # version check: StaleDataError makes the command retry
        self.audit(s, actor, now, "assignment", row.id, action, before, snapshot(row),
                   row.incident_id)
        for event in outcome.events:
            match event:
                case UnitStatusChanged():
                    await self.move_unit(s, out, event, actor, now, row.incident_id)
                case EscalationRaised():
                    out.after.append(functools.partial(self.announce_escalation, event))
                case ReminderRaised():
                    out.message("reminder", now, assignment_id=event.assignment_id,
                                incident_id=event.incident_id, unit_id=event.unit_id,
                                status=event.status.value, since=event.since.isoformat(),
                                label=Text.of(describe(event)).model_dump())
                case (UnitDispatched() | AssignmentAdvanced() | AssignmentCancelled()
                      | DispatchOverdue()):
                    pass
                case _:
                    assert_never(event)
        if before["status"] != row.status:
            await self.place_unit(s, row, outcome.assignment.status, actor, now)
        out.bus.extend(outcome.events)
        view = await self.assignment_view(s, row)
        out.message("assignment.updated", now, assignment=view.model_dump(mode="json"),
                    events=[Text.of(describe(e)).model_dump() for e in outcome.events])
        incident = await s.get(IncidentRow, row.incident_id)
        assert incident is not None  # foreign key
        await self.refresh_incident(s, out, incident, actor, now)
        out.rearm = True

    async def move_unit(
        self, s: AsyncSession, out: Outbox, event: UnitStatusChanged, actor: Actor,
        now: datetime, incident_id: int | None,
    ) -> None:
        before = await self.unit_snapshot(s, event.unit_id)
        held = event.held_by.name if event.held_by else None
        if not await repo.set_unit_status(s, event.unit_id, event.previous.name,
                                          event.status.name, now, held):
            raise Stale(f"unit {event.unit_id} is no longer {event.previous.name}")
        unit = await self.need_unit(s, event.unit_id)
        self.audit(s, actor, now, "unit", unit.id, "status_changed", before, snapshot(unit),
                   incident_id)
        view = await self.unit_view(s, unit)
        out.message("unit.status", now, unit=view.model_dump(mode="json"))

    async def refresh_incident(
        self, s: AsyncSession, out: Outbox, incident: IncidentRow, actor: Actor, now: datetime
    ) -> None:
        """Store the status derived from the assignments (:func:`lifecycle.incident_status`)."""
        rows = await repo.assignments_of(s, [incident.id])
        status = lifecycle.incident_status(
            [AssignmentStatus[r.status] for r in rows], cancelled=incident.status == "CANCELLED",
            unassigned=casualty.unassigned(incident.patients, map(carried, rows)))
        if status.name == incident.status:
            return
        before = snapshot(incident)
        incident.status = status.name
        incident.updated_at = now
        await s.flush()
        self.audit(s, actor, now, "incident", incident.id, "status_changed", before,
                   snapshot(incident), incident.id)
        out.message("incident.updated", now,
                    incident=self.incident_view(incident).model_dump(mode="json"))
        if incident.status in CLOSED:
            out.bus.append(briefs.ended(incident, now))

    async def announce_escalation(self, event: EscalationRaised) -> None:
        """After the commit: tell consoles, with the next best units (excluding this one)."""
        recs = await self.recommend(event.incident_id, exclude={event.unit_id}, limit=3)
        self.hub.publish({
            "type": "escalation", "at": event.at.isoformat(), "cause": event.cause.value,
            "label": Text.of(describe(event)).model_dump(), "assignment_id": event.assignment_id,
            "incident_id": event.incident_id, "unit_id": event.unit_id,
            "next_best": [u.model_dump(mode="json") for u in recs.units],
        })
