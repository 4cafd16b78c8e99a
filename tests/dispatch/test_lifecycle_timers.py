"""Lifecycle timers, stepped by hand: acknowledgement escalation and status reminders."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from dispatch.domain import AssignmentStatus, EscalationCause
from dispatch.events import EscalationRaised, ReminderRaised
from dispatch.lifecycle import (
    TimerPolicy,
    Trigger,
    apply,
    deadline,
    due_timers,
    handle_timer,
    next_deadline,
)

from .helpers import assignment_in, at

S = AssignmentStatus


class TestAcknowledgementEscalation:
    def test_deadline_is_two_minutes_after_dispatch(self) -> None:
        assert deadline(assignment_in(S.DISPATCHED)) == at(120)

    def test_nothing_fires_before_the_deadline(self) -> None:
        a = assignment_in(S.DISPATCHED)
        assert handle_timer(a, at(119.999)) == (a, [])

    def test_escalation_names_the_assignment_and_fires_once(self) -> None:
        a = assignment_in(S.DISPATCHED)
        a, events = handle_timer(a, at(120))
        assert events == [EscalationRaised(1, 100, 10, EscalationCause.NOT_ACKNOWLEDGED, at(120))]
        assert a.escalated_at == at(120) and a.status is S.DISPATCHED
        assert deadline(a) is None
        assert handle_timer(a, at(600)).events == []

    def test_acknowledgement_stops_the_timer(self) -> None:
        a = apply(assignment_in(S.DISPATCHED), Trigger.ACKNOWLEDGE, at(60)).assignment
        assert deadline(a) is None
        assert handle_timer(a, at(121)).events == []

    def test_a_crew_report_also_stops_it(self) -> None:
        a = apply(assignment_in(S.DISPATCHED), Trigger.DEPART, at(60)).assignment
        assert handle_timer(a, at(121)).events == []

    def test_configured_timeout(self) -> None:
        policy = TimerPolicy(acknowledge_within=timedelta(seconds=45))
        assert deadline(assignment_in(S.DISPATCHED), policy) == at(45)


class TestReminders:
    def test_on_scene_thirty_minutes_without_a_report(self) -> None:
        a = assignment_in(S.ON_SCENE)
        since = a.times.on_scene_at
        assert since is not None
        assert deadline(a) == since + timedelta(minutes=30)
        assert handle_timer(a, since + timedelta(minutes=29)).events == []
        a, events = handle_timer(a, since + timedelta(minutes=30))
        assert events == [ReminderRaised(1, 100, 10, S.ON_SCENE, since,
                                         since + timedelta(minutes=30))]

    def test_reminder_repeats_every_interval_until_a_report(self) -> None:
        a = assignment_in(S.ON_SCENE)
        since = a.times.on_scene_at
        assert since is not None
        a = handle_timer(a, since + timedelta(minutes=31)).assignment
        assert deadline(a) == since + timedelta(minutes=61)
        a = apply(a, Trigger.TRANSPORT, since + timedelta(minutes=40)).assignment
        assert deadline(a) is None  # TRANSPORTING has no reminder by default

    def test_reminders_for_other_statuses_are_configurable(self) -> None:
        policy = TimerPolicy(remind_after={S.EN_ROUTE: timedelta(minutes=15)})
        a = assignment_in(S.EN_ROUTE)
        assert a.times.en_route_at is not None
        assert deadline(a, policy) == a.times.en_route_at + timedelta(minutes=15)
        assert deadline(assignment_in(S.ON_SCENE), policy) is None

    def test_a_reminder_from_an_earlier_status_does_not_shorten_the_next(self) -> None:
        policy = TimerPolicy(remind_after={S.EN_ROUTE: timedelta(minutes=15),
                                           S.ON_SCENE: timedelta(minutes=30)})
        a = assignment_in(S.EN_ROUTE)
        a = handle_timer(a, at(3600), policy).assignment
        a = apply(a, Trigger.ARRIVE, at(3700)).assignment
        assert deadline(a, policy) == at(3700) + timedelta(minutes=30)


class TestManyAssignments:
    def test_next_deadline_is_the_earliest(self) -> None:
        late = dataclasses.replace(
            assignment_in(S.DISPATCHED, assignment_id=2),
            times=dataclasses.replace(assignment_in(S.DISPATCHED).times, dispatched_at=at(100)),
        )
        on_scene = assignment_in(S.ON_SCENE, assignment_id=3)
        closed = assignment_in(S.BACK_IN_SERVICE, assignment_id=4)
        assert next_deadline([late, on_scene, closed]) == at(220)
        assert next_deadline([closed]) is None
        assert next_deadline([]) is None

    def test_due_timers_returns_only_what_fired(self) -> None:
        first = assignment_in(S.DISPATCHED, assignment_id=1)
        second = dataclasses.replace(
            assignment_in(S.DISPATCHED, assignment_id=2),
            times=dataclasses.replace(first.times, dispatched_at=at(100)),
        )
        fired = due_timers([first, second], at(150))
        assert [o.assignment.id for o in fired] == [1]
        assert fired[0].assignment.escalated_at == at(150)
        assert [o.assignment.id for o in due_timers([fired[0].assignment, second], at(220))] == [2]
