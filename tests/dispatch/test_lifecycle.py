"""Assignment lifecycle: the transition table, the time chain and derived statuses."""

from __future__ import annotations

import pytest

from dispatch.domain import (
    TERMINAL,
    AssignmentStatus,
    Authority,
    CancelReason,
    EscalationCause,
    IncidentStatus,
    UnitStatus,
)
from dispatch.errors import IllegalTransition, LocalDispatchError
from dispatch.events import (
    AssignmentAdvanced,
    AssignmentCancelled,
    EscalationRaised,
    UnitDispatched,
    UnitStatusChanged,
    describe,
)
from dispatch.lifecycle import (
    ORDER,
    TRANSITIONS,
    UNIT_TRANSITIONS,
    Trigger,
    UnitTrigger,
    apply,
    apply_unit,
    dispatch_unit,
    incident_status,
    unit_status_for,
)

from .helpers import T0, assignment_in, at

S, T = AssignmentStatus, Trigger
PAIRS = [(s, t) for s in AssignmentStatus for t in Trigger]
LEGAL = [(s, t, TRANSITIONS[s][t]) for s, t in PAIRS if t in TRANSITIONS[s]]
ILLEGAL = [(s, t) for s, t in PAIRS if t not in TRANSITIONS[s]]
ACTIVE = [s for s in AssignmentStatus if s not in TERMINAL]
BEFORE_SCENE = [S.DISPATCHED, S.ACKNOWLEDGED, S.EN_ROUTE]


def ids(value: object) -> str:
    return getattr(value, "name", str(value))


def expected_refusal(status: AssignmentStatus, trigger: Trigger) -> str:
    """The refusal code the module docstring promises for an illegal pair."""
    if status in TERMINAL:
        return "assignment_closed"
    return {
        T.DECLINE: "decline_too_late",  # rule 5: only before the scene
        T.CLEAR: "scene_not_reached",  # rule 5: only once the scene was reached
        T.HAND_OVER: "no_patient_on_board",
    }.get(trigger, "status_already_passed")  # rule 3: no backward moves


class TestTable:
    """The table itself obeys the documented rules."""

    def test_every_status_has_a_row(self) -> None:
        assert set(TRANSITIONS) == set(AssignmentStatus)

    @pytest.mark.parametrize(("status", "trigger", "target"), LEGAL, ids=ids)
    def test_no_legal_move_goes_backwards(self, status, trigger, target) -> None:
        if target is not S.CANCELLED:
            assert ORDER.index(target) >= ORDER.index(status)

    @pytest.mark.parametrize("status", ACTIVE, ids=ids)
    def test_cancel_from_every_active_state(self, status) -> None:
        assert TRANSITIONS[status][T.CANCEL] is S.CANCELLED

    @pytest.mark.parametrize("status", [s for s in AssignmentStatus if s in TERMINAL], ids=ids)
    def test_terminal_states_have_no_exit(self, status) -> None:
        assert TRANSITIONS[status] == {}

    def test_decline_only_before_the_scene(self) -> None:
        assert [s for s in AssignmentStatus if T.DECLINE in TRANSITIONS[s]] == BEFORE_SCENE

    def test_clear_only_once_the_scene_was_reached(self) -> None:
        reached = [s for s in ORDER if ORDER.index(s) >= ORDER.index(S.ON_SCENE)]
        assert [s for s in AssignmentStatus if T.CLEAR in TRANSITIONS[s]] == reached[:-1]


class TestEveryPair:
    @pytest.mark.parametrize(("status", "trigger", "target"), LEGAL, ids=ids)
    def test_legal_pair_reaches_its_target_and_stamps_it_once(self, status, trigger, target):
        before = assignment_in(status)
        after, events = apply(before, trigger, at(3600))
        assert after.status is target
        if target is status:
            assert after == before and events == []
            return
        assert after.times.at(target) == at(3600)
        for step in ORDER:  # earlier stamps are never rewritten
            if before.times.at(step) is not None:
                assert after.times.at(step) == before.times.at(step)
        assert isinstance(events[0], AssignmentAdvanced | AssignmentCancelled)

    @pytest.mark.parametrize(("status", "trigger"), ILLEGAL, ids=ids)
    def test_illegal_pair_is_refused_with_a_reason(self, status, trigger) -> None:
        before = assignment_in(status)
        with pytest.raises(IllegalTransition) as refused:
            apply(before, trigger, at(3600))
        error = refused.value
        assert isinstance(error, LocalDispatchError)
        assert (error.state, error.trigger) == (status, trigger)
        assert error.message.id and error.message.en and error.message.id != error.message.en
        assert error.code == expected_refusal(status, trigger)
        assert error.text("en") == error.message.en and error.text() == error.message.id
        assert str(error).startswith(f"{error.code}: ")


class TestTimeChain:
    def test_dispatch_stamps_and_announces(self) -> None:
        a, events = dispatch_unit(assignment_id=1, incident_id=100, unit_id=10,
                                  unit_status=UnitStatus.AVAILABLE, now=T0)
        assert a.status is S.DISPATCHED and a.times.dispatched_at == T0
        assert events == [UnitDispatched(1, 100, 10, T0),
                          UnitStatusChanged(10, UnitStatus.AVAILABLE, UnitStatus.DISPATCHED, T0)]

    @pytest.mark.parametrize("status", [s for s in UnitStatus if s is not UnitStatus.AVAILABLE],
                             ids=ids)
    def test_only_an_available_unit_is_dispatched(self, status) -> None:
        with pytest.raises(IllegalTransition) as refused:
            dispatch_unit(assignment_id=1, incident_id=100, unit_id=10, unit_status=status,
                          now=T0)
        assert refused.value.code == "unit_not_available"

    def test_full_chain_gives_every_interval(self) -> None:
        a = dispatch_unit(assignment_id=1, incident_id=100, unit_id=10,
                          unit_status=UnitStatus.AVAILABLE, now=T0).assignment
        steps = [T.ACKNOWLEDGE, T.DEPART, T.ARRIVE, T.TRANSPORT, T.REACH_HOSPITAL,
                 T.HAND_OVER, T.CLEAR]
        for i, trigger in enumerate(steps, start=1):
            a = apply(a, trigger, at(30 * i)).assignment
        assert [a.times.at(s) for s in ORDER] == [at(30 * i) for i in range(len(ORDER))]
        assert a.times.cancelled_at is None and not a.active

    def test_skip_ahead_implies_acknowledgement_but_invents_no_times(self) -> None:
        a = assignment_in(S.DISPATCHED)
        after, events = apply(a, T.TRANSPORT, at(600))
        assert after.times.acknowledged_at == at(600)
        assert after.times.en_route_at is None and after.times.on_scene_at is None
        assert events[0] == AssignmentAdvanced(1, 100, 10, S.DISPATCHED, S.TRANSPORTING,
                                               (S.EN_ROUTE, S.ON_SCENE), at(600))
        assert "tanpa laporan" in describe(events[0]).id

    def test_hospital_handover_before_the_crew_says_rs_skips_at_hospital(self) -> None:
        after, events = apply(assignment_in(S.TRANSPORTING), T.HAND_OVER, at(3600))
        assert after.status is S.HANDOVER and after.times.at_hospital_at is None
        assert isinstance(events[0], AssignmentAdvanced)
        assert events[0].skipped == (S.AT_HOSPITAL,)

    def test_clear_from_the_scene_means_no_transport_not_skipped_steps(self) -> None:
        after, events = apply(assignment_in(S.ON_SCENE), T.CLEAR, at(3600))
        assert after.status is S.BACK_IN_SERVICE
        assert isinstance(events[0], AssignmentAdvanced) and events[0].skipped == ()
        assert after.times.transporting_at is None

    def test_repeated_report_is_a_silent_no_op(self) -> None:
        a = apply(assignment_in(S.ACKNOWLEDGED), T.DEPART, at(300)).assignment
        again = apply(a, T.DEPART, at(400))
        assert again.assignment is a and again.events == []
        assert a.times.en_route_at == at(300)

    def test_naive_now_is_refused(self) -> None:
        with pytest.raises(ValueError, match="aware"):
            apply(assignment_in(S.DISPATCHED), T.ACKNOWLEDGE, T0.replace(tzinfo=None))


class TestCancelAndDecline:
    @pytest.mark.parametrize("status", ACTIVE, ids=ids)
    def test_dispatcher_cancel_frees_the_unit(self, status) -> None:
        after, events = apply(assignment_in(status), T.CANCEL, at(3600))
        assert after.cancel_reason is CancelReason.DISPATCHER
        assert after.times.cancelled_at == at(3600)
        assert events[0] == AssignmentCancelled(1, 100, 10, status, CancelReason.DISPATCHER,
                                                at(3600))
        assert unit_status_for(after) is UnitStatus.AVAILABLE
        assert not any(isinstance(e, EscalationRaised) for e in events)

    @pytest.mark.parametrize("status", BEFORE_SCENE, ids=ids)
    def test_decline_escalates_and_takes_the_unit_out_of_service(self, status) -> None:
        before = assignment_in(status)
        after, events = apply(before, T.DECLINE, at(3600))
        assert after.cancel_reason is CancelReason.DECLINED
        assert events[1:] == [
            UnitStatusChanged(10, unit_status_for(before), UnitStatus.OUT_OF_SERVICE, at(3600),
                              Authority.CREW),
            EscalationRaised(1, 100, 10, EscalationCause.DECLINED, at(3600)),
        ]


class TestWithdraw:
    """Rule 8: the dispatch room takes a unit out of service in the middle of a job."""

    def test_every_active_status_can_be_withdrawn(self) -> None:
        assert [s for s in AssignmentStatus if T.WITHDRAW in TRANSITIONS[s]] == ACTIVE

    @pytest.mark.parametrize("status", [S.DISPATCHED, S.EN_ROUTE, S.ON_SCENE, S.TRANSPORTING],
                             ids=ids)
    def test_before_delivery_the_incident_needs_another_unit(self, status) -> None:
        before = assignment_in(status)
        after, events = apply(before, T.WITHDRAW, at(3600), by=Authority.SUPERVISOR)
        assert after.status is S.CANCELLED
        assert after.cancel_reason is CancelReason.OUT_OF_SERVICE
        assert unit_status_for(after) is UnitStatus.OUT_OF_SERVICE
        assert events == [
            AssignmentCancelled(1, 100, 10, status, CancelReason.OUT_OF_SERVICE, at(3600)),
            UnitStatusChanged(10, unit_status_for(before), UnitStatus.OUT_OF_SERVICE, at(3600),
                              Authority.SUPERVISOR),
            EscalationRaised(1, 100, 10, EscalationCause.OUT_OF_SERVICE, at(3600)),
        ]

    @pytest.mark.parametrize("status", [S.AT_HOSPITAL, S.HANDOVER], ids=ids)
    def test_after_delivery_nothing_is_escalated(self, status) -> None:
        after, events = apply(assignment_in(status), T.WITHDRAW, at(3600),
                              by=Authority.DISPATCHER)
        assert [type(e) for e in events] == [AssignmentCancelled, UnitStatusChanged]
        assert events[1] == UnitStatusChanged(10, UnitStatus.AT_HOSPITAL,
                                              UnitStatus.OUT_OF_SERVICE, at(3600),
                                              Authority.DISPATCHER)


class TestDerivedStatus:
    @pytest.mark.parametrize("status", ACTIVE, ids=ids)
    def test_busy_unit_is_never_available(self, status) -> None:
        assert unit_status_for(assignment_in(status)) not in {
            UnitStatus.AVAILABLE, UnitStatus.OUT_OF_SERVICE}

    def test_unit_status_change_is_announced_only_when_it_changes(self) -> None:
        _, events = apply(assignment_in(S.AT_HOSPITAL), T.HAND_OVER, at(3600))
        assert not any(isinstance(e, UnitStatusChanged) for e in events)  # still at hospital
        _, events = apply(assignment_in(S.HANDOVER), T.CLEAR, at(3600))
        assert events[-1] == UnitStatusChanged(10, UnitStatus.AT_HOSPITAL, UnitStatus.AVAILABLE,
                                               at(3600))

    @pytest.mark.parametrize(
        ("statuses", "expected"),
        [
            ([], IncidentStatus.NEW),
            ([S.CANCELLED], IncidentStatus.NEW),
            ([S.ACKNOWLEDGED], IncidentStatus.DISPATCHED),
            ([S.EN_ROUTE, S.ON_SCENE], IncidentStatus.ON_SCENE),
            ([S.ON_SCENE, S.TRANSPORTING, S.CANCELLED], IncidentStatus.TRANSPORTING),
            ([S.HANDOVER], IncidentStatus.AT_HOSPITAL),
            ([S.BACK_IN_SERVICE, S.CANCELLED], IncidentStatus.CLOSED),
            ([S.BACK_IN_SERVICE, S.DISPATCHED], IncidentStatus.DISPATCHED),
        ],
    )
    def test_incident_status_follows_its_furthest_active_unit(self, statuses, expected):
        assert incident_status(statuses) is expected

    def test_cancelled_incident(self) -> None:
        assert incident_status([S.BACK_IN_SERVICE], cancelled=True) is IncidentStatus.CANCELLED


D, SUP, CREW = Authority.DISPATCHER, Authority.SUPERVISOR, Authority.CREW
OUT, BACK = UnitTrigger.TAKE_OUT_OF_SERVICE, UnitTrigger.RETURN_TO_SERVICE


class TestUnitMachine:
    def test_out_of_service_and_back(self) -> None:
        status, held, events = apply_unit(10, UnitStatus.AVAILABLE, OUT, T0, by=D)
        assert status is UnitStatus.OUT_OF_SERVICE and held is D
        assert events == [UnitStatusChanged(10, UnitStatus.AVAILABLE, status, T0, D)]
        status, held, _ = apply_unit(10, status, BACK, at(60), by=D, held_by=D)
        assert status is UnitStatus.AVAILABLE and held is None

    def test_repeat_is_a_no_op(self) -> None:
        assert apply_unit(10, UnitStatus.AVAILABLE, BACK, T0, by=CREW) == (
            UnitStatus.AVAILABLE, None, [])


class TestWhoMayOverrideWhom:
    """Rule 9: a decision is undone by the same authority or a higher one, never a lower."""

    @pytest.mark.parametrize(("held", "by"), [(D, CREW), (SUP, CREW), (SUP, D)], ids=ids)
    def test_a_lower_authority_cannot_put_the_unit_back(self, held, by) -> None:
        with pytest.raises(IllegalTransition) as refused:
            apply_unit(10, UnitStatus.OUT_OF_SERVICE, BACK, T0, by=by, held_by=held)
        assert refused.value.code == "out_of_service_held"
        assert held.label.id in refused.value.message.id
        assert "PSC 119" in refused.value.message.id

    @pytest.mark.parametrize(("held", "by"), [(CREW, CREW), (CREW, D), (D, D), (D, SUP),
                                              (SUP, SUP), (None, CREW)], ids=ids)
    def test_the_same_or_a_higher_authority_can(self, held, by) -> None:
        status, after, events = apply_unit(10, UnitStatus.OUT_OF_SERVICE, BACK, T0, by=by,
                                           held_by=held)
        assert status is UnitStatus.AVAILABLE and after is None
        assert events == [UnitStatusChanged(10, UnitStatus.OUT_OF_SERVICE, status, T0)]

    def test_a_higher_authority_repeating_the_decision_takes_it_over(self) -> None:
        assert apply_unit(10, UnitStatus.OUT_OF_SERVICE, OUT, T0, by=SUP, held_by=CREW) == (
            UnitStatus.OUT_OF_SERVICE, SUP, [])

    def test_a_lower_one_repeating_it_changes_nothing(self) -> None:
        assert apply_unit(10, UnitStatus.OUT_OF_SERVICE, OUT, T0, by=D, held_by=SUP) == (
            UnitStatus.OUT_OF_SERVICE, SUP, [])

    def test_roles_map_to_authorities(self) -> None:
        assert [Authority.of_role(r) for r in ("supervisor", "admin", "dispatcher", "hospital",
                                               None)] == [SUP, SUP, D, CREW, CREW]

    @pytest.mark.parametrize("status", [s for s in UnitStatus if s not in UNIT_TRANSITIONS],
                             ids=ids)
    @pytest.mark.parametrize("trigger", list(UnitTrigger), ids=ids)
    def test_busy_unit_cannot_be_toggled(self, status, trigger) -> None:
        with pytest.raises(IllegalTransition) as refused:
            apply_unit(10, status, trigger, T0, by=SUP)
        assert refused.value.code == "unit_busy"
