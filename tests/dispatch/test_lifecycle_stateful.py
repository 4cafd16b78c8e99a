"""Any sequence of inputs and timer ticks keeps the lifecycle's invariants."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from dispatch.domain import AssignmentStatus, EscalationCause, UnitStatus
from dispatch.errors import IllegalTransition
from dispatch.events import EscalationRaised
from dispatch.lifecycle import (
    ORDER,
    TRANSITIONS,
    Trigger,
    apply,
    deadline,
    dispatch_unit,
    handle_timer,
    unit_status_for,
)

from .helpers import T0


class AssignmentMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.assignment, self.events = dispatch_unit(
            assignment_id=1, incident_id=100, unit_id=10, unit_status=UnitStatus.AVAILABLE,
            now=T0)
        self.furthest = 0

    @rule(trigger=st.sampled_from(Trigger), seconds=st.integers(0, 900))
    def send(self, trigger: Trigger, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)
        before = self.assignment
        try:
            self.assignment, events = apply(before, trigger, self.now)
        except IllegalTransition:
            assert trigger not in TRANSITIONS[before.status]
            return
        assert self.assignment.status is TRANSITIONS[before.status][trigger]
        self.events += events

    @rule(seconds=st.integers(0, 3600))
    def tick(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)
        due = deadline(self.assignment)
        self.assignment, events = handle_timer(self.assignment, self.now)
        assert bool(events) == (due is not None and due <= self.now)
        self.events += events

    @invariant()
    def never_moves_backwards(self) -> None:
        status = self.assignment.status
        if status is not AssignmentStatus.CANCELLED:
            assert ORDER.index(status) >= self.furthest
            self.furthest = ORDER.index(status)

    @invariant()
    def stamps_follow_the_chain(self) -> None:
        stamps = [t for s in ORDER if (t := self.assignment.times.at(s)) is not None]
        assert stamps == sorted(stamps)
        assert self.assignment.times.at(self.assignment.status) is not None

    @invariant()
    def escalates_at_most_once_for_silence(self) -> None:
        silent = [e for e in self.events if isinstance(e, EscalationRaised)
                  and e.cause is EscalationCause.NOT_ACKNOWLEDGED]
        assert len(silent) <= 1

    @invariant()
    def unit_is_busy_exactly_while_active(self) -> None:
        idle = unit_status_for(self.assignment) in {UnitStatus.AVAILABLE,
                                                    UnitStatus.OUT_OF_SERVICE}
        assert idle == (not self.assignment.active)


TestAssignmentMachine = AssignmentMachine.TestCase
