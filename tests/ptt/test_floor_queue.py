"""Queue: a busy floor queues requests by call type, priority and arrival; the head is offered
the floor when the holder goes and must take it within the acceptance window."""

from __future__ import annotations

import pytest
from helpers import SATPOL, Bench, officer

from ptt.errors import CommandRefused, ErrorCode
from ptt.events import (
    CallType,
    CancelReason,
    DenyReason,
    FloorQueued,
    FloorQueuePositionChanged,
    RevokeReason,
)
from ptt.floor import Floor, FloorState
from ptt.talkgroup import FloorConfig, Identity, Talkgroup


def test_a_request_on_a_busy_floor_is_queued_with_its_position(
        bench: Bench, ani: Identity, budi: Identity, citra: Identity) -> None:
    bench.request(ani)
    bench.clear()

    bench.request(budi)
    bench.request(citra)

    bench.assert_queued(budi, 1)
    bench.assert_queued(citra, 2)
    bench.assert_silent(ani, budi, citra)


def test_release_offers_the_floor_to_the_queue_head_and_moves_the_rest_up(
        bench: Bench, ani: Identity, budi: Identity, citra: Identity) -> None:
    bench.request(ani)
    bench.request(budi)
    bench.request(citra)
    bench.clear()

    bench.release(ani)

    bench.assert_granted(budi, accept_within=2.0)
    bench.assert_taken(ani, by=budi)
    bench.assert_taken(citra, by=budi)
    bench.assert_position(citra, 1)
    bench.assert_silent(ani, budi, citra)
    assert bench.radio.floor_status("satpol").state is FloorState.GRANT_PENDING


@pytest.mark.parametrize("take", ["accept", "media", "ask again"])
def test_a_queued_grant_is_taken_by_accepting_sending_media_or_asking_again(
        bench: Bench, ani: Identity, budi: Identity, take: str) -> None:
    bench.request(ani)
    bench.request(budi)
    bench.release(ani)
    bench.clear()
    bench.step(1.5)

    if take == "accept":
        bench.do("accept_grant", budi.user_id)
    elif take == "media":
        assert bench.radio.media_received(budi.user_id, bench.now) == ("satpol",)
    else:
        bench.request(budi)
        bench.assert_granted(budi)  # the answer to the new request
    bench.step(3.0)  # past the acceptance window: still held (media timer from acceptance)

    assert bench.radio.floor_status("satpol").state is FloorState.TAKEN
    assert bench.holder("satpol") == budi
    bench.assert_silent(ani, budi)


def test_a_queued_grant_not_taken_in_time_goes_to_the_next_in_queue(
        bench: Bench, ani: Identity, budi: Identity, citra: Identity) -> None:
    bench.request(ani)
    bench.request(budi)
    bench.request(citra)
    bench.release(ani)
    bench.clear()

    bench.step(1.9)
    bench.assert_silent(budi)
    bench.step(0.1)

    bench.assert_revoked(budi, RevokeReason.GRANT_NOT_ACCEPTED)
    bench.assert_granted(citra, accept_within=2.0)
    bench.assert_taken(budi, by=citra)
    bench.assert_taken(ani, by=citra)
    bench.step(2.0)
    bench.assert_revoked(citra, RevokeReason.GRANT_NOT_ACCEPTED)
    bench.assert_idle(ani, budi, citra)


def test_the_queue_head_may_decline_by_releasing(
        bench: Bench, ani: Identity, budi: Identity, citra: Identity) -> None:
    bench.request(ani)
    bench.request(budi)
    bench.request(citra)
    bench.release(ani)
    bench.clear()

    bench.release(budi)

    bench.assert_granted(citra, accept_within=2.0)
    bench.assert_taken(budi, by=citra)


def test_accepting_without_a_grant_on_offer_is_refused(
        bench: Bench, ani: Identity, budi: Identity) -> None:
    with pytest.raises(CommandRefused) as nothing_asked:
        bench.do("accept_grant", ani.user_id)
    bench.request(ani)
    with pytest.raises(CommandRefused) as already_talking:
        bench.do("accept_grant", ani.user_id)

    assert nothing_asked.value.code is ErrorCode.NO_PENDING_GRANT
    assert already_talking.value.code is ErrorCode.NO_PENDING_GRANT
    assert bench.radio.floor_status("satpol").state is FloorState.TAKEN


def test_a_queued_member_accepting_before_its_turn_is_refused(
        bench: Bench, ani: Identity, budi: Identity, citra: Identity) -> None:
    bench.request(ani)
    bench.request(budi)
    bench.request(citra)
    bench.release(ani)

    with pytest.raises(CommandRefused) as refused:
        bench.do("accept_grant", citra.user_id)

    assert refused.value.code is ErrorCode.NO_PENDING_GRANT
    assert bench.holder("satpol") == budi


def test_asking_again_while_queued_is_denied_and_keeps_the_place(
        bench: Bench, ani: Identity, budi: Identity, citra: Identity) -> None:
    bench.request(ani)
    bench.request(budi)
    bench.request(citra)
    bench.clear()

    bench.request(budi)

    bench.assert_denied(budi, DenyReason.ALREADY_QUEUED)
    assert [r.member for r in bench.radio.floor_status("satpol").queue] == [budi, citra]
    bench.assert_silent(ani, budi, citra)


def test_asking_again_with_a_higher_priority_replaces_the_queued_request(
        bench: Bench, ani: Identity, budi: Identity, citra: Identity) -> None:
    bench.request(ani, priority=1)
    bench.request(budi)
    bench.request(citra)
    bench.clear()

    bench.request(citra, priority=1)

    bench.assert_cancelled(citra, CancelReason.SUPERSEDED)
    bench.assert_queued(citra, 1)
    bench.assert_position(budi, 2)
    bench.assert_silent(ani, budi, citra)


def test_releasing_while_queued_withdraws_the_request(
        bench: Bench, ani: Identity, budi: Identity, citra: Identity) -> None:
    bench.request(ani)
    bench.request(budi)
    bench.request(citra)
    bench.clear()

    bench.release(budi)

    bench.assert_cancelled(budi, CancelReason.CANCELLED)
    bench.assert_position(citra, 1)
    assert bench.holder("satpol") == ani
    bench.assert_silent(ani, budi, citra)


def test_a_floor_without_queue_denies_when_busy() -> None:
    bench = Bench([Talkgroup("satpol", "Satpol PP", SATPOL.agencies, queue_capacity=0)])
    ani, budi = bench.online(officer("Ani"), "satpol"), bench.online(officer("Budi"), "satpol")
    bench.request(ani)

    bench.request(budi)

    bench.assert_denied(budi, DenyReason.BUSY)
    assert bench.radio.floor_status("satpol").queue == ()


def test_a_full_queue_denies_an_equal_request_and_a_higher_one_bumps_the_tail() -> None:
    bench = Bench([Talkgroup("satpol", "Satpol PP", SATPOL.agencies, queue_capacity=2)])
    ani, budi, citra, eko = (bench.online(officer(n), "satpol")
                             for n in ("Ani", "Budi", "Citra", "Eko"))
    bench.request(ani, priority=1)
    bench.request(budi)
    bench.request(citra)
    bench.clear()

    bench.request(eko)
    bench.assert_denied(eko, DenyReason.QUEUE_FULL)
    bench.request(eko, priority=1)

    bench.assert_cancelled(citra, CancelReason.QUEUE_FULL)
    bench.assert_queued(eko, 1)
    bench.assert_position(budi, 2)
    bench.assert_silent(ani, budi, citra, eko)


# -- ordering, checked on the floor itself ------------------------------------------------


def _people(n: int) -> list[Identity]:
    return [officer(f"P{i}") for i in range(n)]


def test_queue_is_ordered_by_call_type_then_priority_then_arrival() -> None:
    floor = Floor(["satpol"], FloorConfig(queue_capacity=10))
    holder, *others = _people(7)
    floor.request(holder, CallType.EMERGENCY, 5, 0.0)
    asks = [(CallType.NORMAL, 0), (CallType.NORMAL, 1), (CallType.IMMINENT_PERIL, 0),
            (CallType.NORMAL, 1), (CallType.EMERGENCY, 0), (CallType.NORMAL, 0)]
    for who, (call_type, priority) in zip(others, asks, strict=True):
        floor.request(who, call_type, priority, 1.0)

    order = [r.member for r in floor.status().queue]

    assert order == [others[4], others[2], others[1], others[3], others[0], others[5]]


def test_every_queued_member_whose_place_changed_is_told_once() -> None:
    floor = Floor(["satpol"])
    holder, a, b, c = _people(4)
    floor.request(holder, CallType.IMMINENT_PERIL, 1, 0.0)
    floor.request(a, CallType.NORMAL, 0, 0.0)
    floor.request(b, CallType.NORMAL, 0, 0.0)
    floor.events()

    floor.request(c, CallType.IMMINENT_PERIL, 0, 0.0)

    assert floor.events() == [
        FloorQueued(("satpol",), "satpol", c.user_id, 1),
        FloorQueuePositionChanged(("satpol",), "satpol", a.user_id, 2),
        FloorQueuePositionChanged(("satpol",), "satpol", b.user_id, 3),
    ]

