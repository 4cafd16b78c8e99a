"""Disconnect and leave: a member that goes loses its grant or its place in the queue, and the
others are told; nothing is ever addressed to a user who is gone."""

from __future__ import annotations

import pytest
from helpers import Bench, dispatcher, officer

from ptt.errors import CommandRefused, ErrorCode, UsageError
from ptt.events import CancelReason, MemberJoined, MemberLeft, RevokeReason
from ptt.talkgroup import DISHUB, Identity, Role


def test_a_talker_that_disconnects_frees_the_floor(
        bench: Bench, ani: Identity, budi: Identity) -> None:
    bench.request(ani)
    bench.clear()

    bench.do("disconnect", ani.user_id)

    bench.assert_idle(budi)
    assert bench.take(budi, MemberLeft).user_id == ani.user_id
    bench.assert_silent(ani, budi)
    assert bench.holder("satpol") is None


def test_a_talker_that_disconnects_hands_the_floor_to_the_queue(
        bench: Bench, ani: Identity, budi: Identity, citra: Identity) -> None:
    bench.request(ani)
    bench.request(budi)
    bench.clear()

    bench.do("disconnect", ani.user_id)

    bench.assert_granted(budi, accept_within=2.0)
    bench.assert_taken(citra, by=budi)
    bench.assert_silent(ani)


def test_a_queued_member_that_disconnects_leaves_the_queue(
        bench: Bench, ani: Identity, budi: Identity, citra: Identity) -> None:
    bench.request(ani)
    bench.request(budi)
    bench.request(citra)
    bench.clear()

    bench.do("disconnect", budi.user_id)

    bench.assert_position(citra, 1)
    assert [r.member for r in bench.radio.floor_status("satpol").queue] == [citra]
    bench.assert_silent(budi)


def test_a_talker_that_leaves_the_talkgroup_is_told_its_grant_is_over(
        bench: Bench, ani: Identity, budi: Identity) -> None:
    bench.request(ani)
    bench.clear()

    bench.do("leave", ani.user_id, "satpol")

    bench.assert_revoked(ani, RevokeReason.LEFT)
    bench.assert_idle(budi)
    bench.take(budi, MemberLeft)
    bench.assert_silent(ani, budi)


def test_a_queued_member_that_leaves_is_told_its_request_is_over(
        bench: Bench, ani: Identity, budi: Identity) -> None:
    bench.request(ani)
    bench.request(budi)
    bench.clear()

    bench.do("leave", budi.user_id, "satpol")

    bench.assert_cancelled(budi, CancelReason.LEFT)
    assert bench.holder("satpol") == ani


def test_leaving_another_scanned_talkgroup_keeps_the_grant(
        bench: Bench, dina: Identity, ani: Identity) -> None:
    bench.request(dina, "satpol")
    bench.clear()

    bench.do("leave", dina.user_id, "dishub")

    assert bench.holder("satpol") == dina
    bench.assert_silent(dina, ani)


def test_joining_and_leaving_are_announced_to_the_members(
        bench: Bench, ani: Identity) -> None:
    eko = officer("Eko")
    bench.do("connect", eko)
    bench.do("join", eko.user_id, "satpol")
    assert bench.take(ani, MemberJoined).member == eko

    bench.do("leave", eko.user_id, "satpol")

    assert bench.take(ani, MemberLeft).user_id == eko.user_id
    assert bench.radio.roster.presence("satpol") == (ani,)


def test_presence_lists_who_is_online(bench: Bench, ani: Identity, dina: Identity) -> None:
    assert bench.radio.roster.presence() == (ani, dina)
    bench.do("disconnect", ani.user_id)
    assert bench.radio.roster.presence() == (dina,)
    assert bench.radio.audience("satpol") == frozenset({dina.user_id})


def test_the_adapter_must_not_connect_twice_or_name_strangers(
        bench: Bench, ani: Identity) -> None:
    with pytest.raises(UsageError):
        bench.do("connect", ani)
    with pytest.raises(UsageError):
        bench.do("disconnect", 424242)
    with pytest.raises(UsageError):
        bench.request(officer("Stranger"))


def test_leaving_a_talkgroup_not_joined_is_refused(bench: Bench, ani: Identity) -> None:
    with pytest.raises(CommandRefused) as refused:
        bench.do("leave", ani.user_id, "gabungan")
    assert refused.value.code is ErrorCode.NOT_JOINED


def test_a_talker_whose_media_closes_loses_the_floor_at_once(
        bench: Bench, ani: Identity, budi: Identity) -> None:
    bench.request(ani)
    bench.clear()

    assert bench.do("media_closed", ani.user_id) is True

    bench.assert_revoked(ani, RevokeReason.NO_MEDIA)
    bench.assert_idle(budi)
    assert bench.holder("satpol") is None


def test_media_closing_keeps_a_queued_request_and_ignores_the_idle_and_offline(
        bench: Bench, ani: Identity, budi: Identity) -> None:
    assert bench.do("media_closed", ani.user_id) is False  # holds nothing
    bench.request(ani)
    bench.request(budi)
    bench.clear()

    assert bench.do("media_closed", budi.user_id) is False  # queued: kept
    bench.assert_silent(ani, budi)
    assert bench.do("media_closed", 999) is False  # not connected


def test_officers_see_the_presence_of_their_own_talkgroups_members_only(
        bench: Bench, ani: Identity, dedi: Identity, dina: Identity) -> None:
    idle = bench.online(officer("Idle", DISHUB))  # connected, in no talkgroup
    roster = bench.radio.roster
    # A Dishub officer may listen on dishub and gabungan: it sees the dispatcher (joined to
    # dishub), itself, but not the Satpol PP officer on satpol.
    assert roster.presence_seen_by(dedi) == (dedi, dina)
    assert roster.presence_seen_by(idle) == (dedi, dina, idle)
    # The Satpol PP officer listens on satpol: it sees the dispatcher and itself only.
    assert roster.presence_seen_by(ani) == (ani, dina)
    bench.do("join", ani.user_id, "gabungan")
    assert ani in roster.presence_seen_by(dedi)  # now a member of dedi's joint group
    # Dispatchers, supervisors and admins see everyone.
    for desk in (dina, dispatcher("Sari", Role.SUPERVISOR), dispatcher("Adi", Role.ADMIN)):
        assert roster.presence_seen_by(desk) == roster.presence()
