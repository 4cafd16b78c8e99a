"""The floor's transition table: every pair it lists is taken, every other pair is refused,
and the public commands that would make an illegal transition change nothing."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from helpers import officer

from ptt.errors import CommandRefused, ErrorCode, IllegalTransition, UsageError
from ptt.events import CallType, RevokeReason
from ptt.floor import TRANSITIONS, Floor, FloorInput, FloorState, next_state
from ptt.talkgroup import FloorConfig

ILLEGAL = [(s, i) for s, i in itertools.product(FloorState, FloorInput)
           if i not in TRANSITIONS[s]]

CODES = {FloorInput.RELEASE: ErrorCode.NOT_HOLDER, FloorInput.ACCEPT: ErrorCode.NO_PENDING_GRANT,
         FloorInput.REVOKE: ErrorCode.FLOOR_IDLE}


def test_the_table_covers_every_state_and_leads_only_to_states() -> None:
    assert set(TRANSITIONS) == set(FloorState)
    assert all(isinstance(t, FloorState) for row in TRANSITIONS.values() for t in row.values())
    # nothing is granted or offered while someone holds the floor; nothing is queued,
    # pre-empted, accepted, released or revoked while nobody does
    assert {s for s, i in ILLEGAL if i in (FloorInput.GRANT, FloorInput.OFFER)} == {
        FloorState.TAKEN, FloorState.GRANT_PENDING}
    assert {i for s, i in ILLEGAL if s is FloorState.IDLE} == set(FloorInput) - {
        FloorInput.GRANT, FloorInput.OFFER}


@pytest.mark.parametrize(("state", "event"), [
    (s, i) for s, row in TRANSITIONS.items() for i in row])
def test_every_listed_transition_is_taken(state: FloorState, event: FloorInput) -> None:
    assert next_state(state, event) is TRANSITIONS[state][event]


@pytest.mark.parametrize(("state", "event"), ILLEGAL)
def test_every_unlisted_transition_is_refused_with_a_clear_reason(
        state: FloorState, event: FloorInput) -> None:
    with pytest.raises(IllegalTransition) as refused:
        next_state(state, event)
    assert refused.value.code is CODES.get(event, ErrorCode.ILLEGAL_TRANSITION)
    assert event.name in str(refused.value) and state.name in str(refused.value)


A, B, C = officer("A"), officer("B"), officer("C")


def _floor_in(state: FloorState) -> Floor:
    """A floor in ``state``: A holds (or is offered) it, C is queued when busy."""
    floor = Floor(["satpol"])
    if state is not FloorState.IDLE:
        floor.request(B, CallType.NORMAL, 0, 0.0)
        floor.request(A, CallType.NORMAL, 0, 0.0)
        floor.request(C, CallType.NORMAL, 0, 0.0)
        floor.release(B.user_id, 0.0)   # A is offered the floor
        if state is FloorState.TAKEN:
            floor.accept_grant(A.user_id, 0.0)
    assert floor.state is state
    floor.events()
    return floor


Command = Callable[[Floor], None]
REFUSED: list[tuple[FloorState, str, Command, ErrorCode]] = [
    (FloorState.IDLE, "release", lambda f: f.release(A.user_id, 1.0), ErrorCode.NOT_HOLDER),
    (FloorState.IDLE, "accept", lambda f: f.accept_grant(A.user_id, 1.0),
     ErrorCode.NO_PENDING_GRANT),
    (FloorState.IDLE, "revoke", lambda f: f.revoke(RevokeReason.DISPATCHER, 1.0),
     ErrorCode.FLOOR_IDLE),
    (FloorState.TAKEN, "accept by the holder", lambda f: f.accept_grant(A.user_id, 1.0),
     ErrorCode.NO_PENDING_GRANT),
    (FloorState.TAKEN, "release by a listener", lambda f: f.release(B.user_id, 1.0),
     ErrorCode.NOT_HOLDER),
    (FloorState.GRANT_PENDING, "accept by a queued member",
     lambda f: f.accept_grant(C.user_id, 1.0), ErrorCode.NO_PENDING_GRANT),
    (FloorState.GRANT_PENDING, "release by a listener", lambda f: f.release(B.user_id, 1.0),
     ErrorCode.NOT_HOLDER),
]


@pytest.mark.parametrize(("state", "name", "command", "code"), REFUSED,
                         ids=[f"{s.name}-{n}" for s, n, _, _ in REFUSED])
def test_an_illegal_command_is_refused_and_changes_nothing(
        state: FloorState, name: str, command: Command, code: ErrorCode) -> None:
    floor = _floor_in(state)
    before = floor.status()

    with pytest.raises(CommandRefused) as refused:
        command(floor)

    assert refused.value.code is code
    assert floor.status() == before and floor.events() == []


def test_contract_violations_are_usage_errors() -> None:
    with pytest.raises(UsageError):
        Floor([])
    with pytest.raises(UsageError):
        FloorConfig(max_talk_time=0)
    with pytest.raises(UsageError):
        FloorConfig(queue_capacity=-1)
    floor = Floor(["satpol"])
    with pytest.raises(UsageError):
        floor.request(A, CallType.NORMAL, 0, 0.0, talkgroup="dishub")
    floor.request(A, CallType.NORMAL, 0, 0.0)
    with pytest.raises(UsageError):
        floor.retarget(["dishub"], FloorConfig())   # would orphan A's grant
    with pytest.raises(UsageError):
        floor.retarget([], FloorConfig())


def test_unknown_members_leaving_or_sending_media_change_nothing() -> None:
    floor = _floor_in(FloorState.TAKEN)
    before = floor.status()

    floor.member_left(B.user_id, 1.0)
    assert floor.media_received(B.user_id, 1.0) is False

    assert floor.status() == before and floor.events() == []
