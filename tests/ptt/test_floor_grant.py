"""Grant: an idle floor is granted at once; everyone else learns who talks; release idles it."""

from __future__ import annotations

import pytest
from helpers import Bench, officer

from ptt.errors import CommandRefused, ErrorCode
from ptt.events import CallType, DenyReason, FloorGranted, TalkgroupJoined
from ptt.floor import FloorState
from ptt.talkgroup import Identity


def test_idle_floor_is_granted_and_everyone_else_told_who_talks(
        bench: Bench, ani: Identity, budi: Identity, citra: Identity) -> None:
    bench.request(ani)

    granted = bench.assert_granted(ani, call_type=CallType.NORMAL)
    assert granted.talkgroups == ("satpol",) and granted.talkgroup == "satpol"
    assert granted.max_talk_time == 60.0
    taken = bench.assert_taken(budi, by=ani)
    assert taken.talker.unit == ani.unit and taken.talker.agency == ani.agency
    bench.assert_taken(citra, by=ani)
    bench.assert_silent(ani, budi, citra)
    assert bench.holder("satpol") == ani


def test_release_idles_the_floor_for_everyone_including_the_talker(
        bench: Bench, ani: Identity, budi: Identity) -> None:
    bench.request(ani)
    bench.clear()

    bench.release(ani)

    bench.assert_idle(ani, budi)
    bench.assert_silent(ani, budi)
    assert bench.radio.floor_status("satpol").state is FloorState.IDLE


def test_the_floor_can_be_taken_again_after_release(
        bench: Bench, ani: Identity, budi: Identity) -> None:
    bench.request(ani)
    bench.release(ani)
    bench.clear()

    bench.request(budi)

    bench.assert_granted(budi)
    bench.assert_taken(ani, by=budi)


def test_holder_asking_again_is_denied_and_keeps_the_floor(
        bench: Bench, ani: Identity, budi: Identity) -> None:
    bench.request(ani)
    bench.clear()

    bench.request(ani)

    bench.assert_denied(ani, DenyReason.ALREADY_HOLDER)
    bench.assert_silent(ani, budi)
    assert bench.holder("satpol") == ani


def test_only_the_holders_media_is_forwarded(
        bench: Bench, ani: Identity, budi: Identity) -> None:
    assert bench.radio.media_received(ani.user_id, bench.now) is None
    bench.request(ani)

    assert bench.radio.media_received(ani.user_id, bench.now) == ("satpol",)
    assert bench.radio.media_received(budi.user_id, bench.now) is None
    assert bench.radio.media_received(999_999, bench.now) is None  # not connected


def test_release_by_someone_who_does_not_hold_is_refused_and_changes_nothing(
        bench: Bench, ani: Identity, budi: Identity) -> None:
    bench.request(ani)
    bench.clear()

    with pytest.raises(CommandRefused) as refused:
        bench.release(budi)

    assert refused.value.code is ErrorCode.NOT_HOLDER
    assert bench.holder("satpol") == ani
    bench.assert_silent(ani, budi)


def test_release_by_the_talker_after_it_lost_the_floor_is_refused(
        bench: Bench, ani: Identity, budi: Identity) -> None:
    bench.request(ani)
    bench.release(ani)

    with pytest.raises(CommandRefused) as refused:
        bench.release(ani)

    assert refused.value.code is ErrorCode.NOT_HOLDER


def test_a_listener_joining_mid_transmission_sees_the_talker_at_once(
        bench: Bench, ani: Identity) -> None:
    bench.request(ani)
    late = officer("Eko")
    bench.do("connect", late)

    bench.do("join", late.user_id, "satpol")

    joined = bench.take(late, TalkgroupJoined)
    assert joined.talker == ani and joined.emergency is False and joined.patched_with == ()
    assert [m.user_id for m in joined.members] == [ani.user_id, late.user_id]


def test_asked_priority_is_capped_by_role(bench: Bench, ani: Identity) -> None:
    bench.request(ani, priority=99)

    assert bench.take(ani, FloorGranted).priority == 1


def test_negative_priority_counts_as_zero(bench: Bench, ani: Identity) -> None:
    bench.request(ani, priority=-5)

    assert bench.take(ani, FloorGranted).priority == 0


def test_release_without_any_request_is_refused(bench: Bench, ani: Identity) -> None:
    with pytest.raises(CommandRefused) as refused:
        bench.release(ani)
    assert refused.value.code is ErrorCode.NOT_HOLDER
