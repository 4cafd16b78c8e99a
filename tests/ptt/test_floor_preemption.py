"""Pre-emption: emergency > imminent peril > normal; within a call type a strictly higher
priority wins; a dispatcher override beats a normal or imminent-peril talker, never an
emergency. The pre-empted talker is revoked, not queued."""

from __future__ import annotations

import pytest
from helpers import Bench, dispatcher, officer

from ptt.events import CallType, DenyReason, FloorGranted, RevokeReason
from ptt.floor import Floor, FloorRequest, preempts
from ptt.talkgroup import FloorConfig, Identity, Role

N, IP, EM = CallType.NORMAL, CallType.IMMINENT_PERIL, CallType.EMERGENCY


def _request(call_type: CallType, priority: int = 0, override: bool = False) -> FloorRequest:
    return FloorRequest(officer("X"), "satpol", call_type, priority, override, 0.0, 0)


@pytest.mark.parametrize(("asked", "held", "wins"), [
    ((IP, 0, False), (N, 1, False), True),
    ((EM, 0, False), (IP, 1, False), True),
    ((EM, 0, False), (N, 3, False), True),
    ((N, 3, False), (IP, 0, False), False),
    ((N, 3, True), (EM, 0, False), False),    # an override never beats an emergency
    ((IP, 3, False), (EM, 0, False), False),
    ((N, 1, False), (N, 0, False), True),     # strictly higher priority
    ((N, 1, False), (N, 1, False), False),
    ((N, 0, True), (N, 1, False), True),      # override beats a normal talker
    ((N, 0, True), (IP, 1, False), True),     # ... and an imminent-peril one
    ((N, 0, True), (N, 0, True), False),      # two overrides: ordinary rules
    ((N, 1, True), (N, 0, True), True),
    ((EM, 1, False), (EM, 0, False), True),
    ((EM, 0, False), (EM, 0, False), False),
])
def test_preemption_rules(asked: tuple[CallType, int, bool], held: tuple[CallType, int, bool],
                          wins: bool) -> None:
    assert preempts(_request(*asked), _request(*held)) is wins


def test_imminent_peril_preempts_a_normal_talker(
        bench: Bench, ani: Identity, budi: Identity, citra: Identity) -> None:
    bench.request(ani, priority=1)
    bench.clear()

    bench.request(budi, call_type=IP)

    bench.assert_revoked(ani, RevokeReason.PREEMPTED)
    bench.assert_granted(budi, call_type=IP)
    bench.assert_taken(ani, by=budi)
    bench.assert_taken(citra, by=budi)
    bench.assert_silent(ani, budi, citra)
    assert bench.radio.floor_status("satpol").queue == ()  # the loser is not queued


def test_a_higher_priority_of_the_same_call_type_preempts(
        bench: Bench, ani: Identity, dina: Identity) -> None:
    bench.request(ani, priority=1)
    bench.clear()

    bench.request(dina, "satpol", priority=2)

    bench.assert_revoked(ani, RevokeReason.PREEMPTED)
    bench.assert_granted(dina)


def test_equal_priority_waits(bench: Bench, ani: Identity, budi: Identity) -> None:
    bench.request(ani, priority=1)
    bench.request(budi, priority=1)

    bench.assert_queued(budi, 1)
    assert bench.holder("satpol") == ani


def test_dispatcher_override_preempts_an_imminent_peril_talker(
        bench: Bench, ani: Identity, dina: Identity) -> None:
    bench.request(ani, call_type=IP, priority=1)
    bench.clear()

    bench.request(dina, "satpol", override=True)

    bench.assert_revoked(ani, RevokeReason.PREEMPTED)
    bench.assert_granted(dina)
    bench.assert_taken(ani, by=dina)


def test_a_second_dispatchers_override_does_not_preempt_the_first(
        bench: Bench, dina: Identity) -> None:
    supervisor = bench.online(dispatcher("Sari", Role.SUPERVISOR), "satpol")
    bench.request(dina, "satpol", priority=2, override=True)

    bench.request(supervisor, "satpol", priority=2, override=True)

    bench.assert_queued(supervisor, 1)
    assert bench.holder("satpol") == dina


def test_neither_normal_request_nor_override_preempts_an_emergency(
        bench: Bench, ani: Identity, budi: Identity, dina: Identity) -> None:
    bench.do("raise_emergency", ani.user_id, "satpol")
    bench.clear()

    bench.request(budi, priority=1)
    bench.request(dina, "satpol", priority=2, override=True)

    bench.assert_queued(budi, 1)
    bench.assert_queued(dina, 1)
    bench.assert_position(budi, 2)   # the dispatcher's higher priority goes first
    assert bench.holder("satpol") == ani


def test_only_a_dispatcher_may_override(bench: Bench, ani: Identity, budi: Identity) -> None:
    bench.request(ani)
    bench.clear()

    bench.request(budi, override=True)

    bench.assert_denied(budi, DenyReason.NO_RIGHT)
    assert bench.holder("satpol") == ani


def test_a_grant_on_offer_can_be_preempted(
        bench: Bench, ani: Identity, budi: Identity, citra: Identity) -> None:
    bench.request(ani)
    bench.request(budi)
    bench.release(ani)
    bench.clear()

    bench.request(citra, call_type=IP)

    bench.assert_revoked(budi, RevokeReason.PREEMPTED)
    bench.assert_granted(citra, call_type=IP)
    assert bench.radio.media_received(budi.user_id, bench.now) is None


def test_a_queued_member_whose_new_request_would_preempt_takes_the_floor(
        bench: Bench, ani: Identity, dina: Identity) -> None:
    bench.request(ani, call_type=IP, priority=1)
    bench.request(dina, "satpol", priority=2)   # imminent peril outranks: queued
    bench.clear()

    bench.request(dina, "satpol", priority=2, override=True)

    bench.assert_revoked(ani, RevokeReason.PREEMPTED)
    bench.assert_granted(dina)


def test_the_holder_asking_with_a_higher_call_type_upgrades_its_grant() -> None:
    floor = Floor(["satpol"], FloorConfig(max_talk_time=30))
    ani, budi = officer("Ani"), officer("Budi")
    floor.request(ani, N, 0, 0.0)
    floor.media_received(ani.user_id, 20.0)
    floor.events()

    floor.request(ani, EM, 1, 20.0)

    granted, taken = floor.events()
    assert isinstance(granted, FloorGranted) and granted.call_type is EM
    assert taken.talker == ani and taken.call_type is EM
    floor.request(budi, IP, 1, 21.0)   # no longer pre-empts
    floor.media_received(ani.user_id, 29.0)
    floor.handle_timer(30.0)           # the first grant's 30 s are up, the upgraded one's not
    assert floor.holder is not None and floor.holder.member == ani
    assert floor.holder.call_type is EM
