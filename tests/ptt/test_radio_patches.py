"""Patches: a dispatcher joins talkgroups into one floor that everyone in every patched group
hears; unpatching restores separate floors, leaving the talker on its own group."""

from __future__ import annotations

import pytest
from helpers import DISHUB_TG, SATPOL, Bench, dispatcher, officer

from ptt.errors import CommandRefused, ErrorCode
from ptt.events import (
    CancelReason,
    DenyReason,
    FloorGranted,
    FloorIdle,
    FloorTaken,
    TalkgroupJoined,
    TalkgroupsPatched,
    TalkgroupsUnpatched,
)
from ptt.talkgroup import DISHUB, SATPOL_PP, Identity, Talkgroup


@pytest.fixture
def eko(bench: Bench) -> Identity:
    """A second Dishub officer."""
    return bench.online(officer("Eko", DISHUB), "dishub")


def test_a_patch_makes_one_floor_that_every_patched_group_hears(
        bench: Bench, ani: Identity, budi: Identity, dedi: Identity, dina: Identity) -> None:
    bench.do("patch", dina.user_id, ["satpol", "dishub"])
    patched = bench.take(dedi, TalkgroupsPatched)
    assert patched.talkgroups == ("dishub", "satpol") and patched.by == dina
    bench.clear()

    bench.request(ani)

    granted = bench.assert_granted(ani)
    assert granted.talkgroups == ("dishub", "satpol") and granted.talkgroup == "satpol"
    bench.assert_taken(dedi, by=ani)
    bench.assert_taken(budi, by=ani)
    assert bench.radio.media_received(ani.user_id, bench.now) == ("dishub", "satpol")
    assert bench.radio.audience("dishub") == bench.radio.audience("satpol") == frozenset(
        {ani.user_id, budi.user_id, dedi.user_id, dina.user_id})


def test_a_scanner_of_both_patched_groups_is_told_once(
        bench: Bench, ani: Identity, dina: Identity) -> None:
    bench.do("patch", dina.user_id, ["satpol", "dishub"])
    bench.clear()

    bench.request(ani)

    assert sum(isinstance(e, FloorTaken) for e in bench.unread(dina)) == 1


def test_one_talker_across_the_patch(bench: Bench, ani: Identity, dedi: Identity,
                                     dina: Identity) -> None:
    bench.do("patch", dina.user_id, ["satpol", "dishub"])
    bench.request(ani)
    bench.clear()

    bench.request(dedi)

    bench.assert_queued(dedi, 1)


def test_patching_a_busy_group_keeps_its_talker_and_tells_the_others_who_talks(
        bench: Bench, ani: Identity, budi: Identity, dedi: Identity, dina: Identity) -> None:
    bench.request(ani)
    bench.request(budi)
    bench.clear()

    bench.do("patch", dina.user_id, ["satpol", "dishub"])

    bench.assert_taken(dedi, by=ani)
    bench.take(dedi, TalkgroupsPatched)
    bench.take(budi, TalkgroupsPatched)
    bench.take(ani, TalkgroupsPatched)
    bench.assert_silent(ani, budi, dedi)   # the satpol members already knew
    status = bench.radio.floor_status("dishub")
    assert status.holder is not None and status.holder.member == ani
    assert [r.member for r in status.queue] == [budi]


def test_two_busy_groups_cannot_be_patched(
        bench: Bench, ani: Identity, dedi: Identity, dina: Identity) -> None:
    bench.request(ani)
    bench.request(dedi)
    bench.clear()

    with pytest.raises(CommandRefused) as refused:
        bench.do("patch", dina.user_id, ["satpol", "dishub"])

    assert refused.value.code is ErrorCode.FLOOR_BUSY
    assert bench.radio.floor_status("satpol").talkgroups == ("satpol",)
    bench.assert_silent(ani, dedi, dina)


@pytest.mark.parametrize(("groups", "code"), [
    (["satpol"], ErrorCode.PATCH_TOO_SMALL),
    (["satpol", "satpol"], ErrorCode.PATCH_TOO_SMALL),
    (["satpol", "nowhere"], ErrorCode.UNKNOWN_TALKGROUP),
    (["satpol", "gabungan"], ErrorCode.PATCHED),   # satpol is already patched with dishub
])
def test_bad_patches_are_refused(bench: Bench, dina: Identity, groups: list[str],
                                 code: ErrorCode) -> None:
    bench.do("patch", dina.user_id, ["satpol", "dishub"])

    with pytest.raises(CommandRefused) as refused:
        bench.do("patch", dina.user_id, groups)

    assert refused.value.code is code
    assert bench.radio.floor_status("gabungan").talkgroups == ("gabungan",)


def test_only_dispatch_may_patch_or_unpatch(bench: Bench, ani: Identity, dina: Identity) -> None:
    with pytest.raises(CommandRefused) as refused:
        bench.do("patch", ani.user_id, ["satpol", "dishub"])
    assert refused.value.code is ErrorCode.NO_RIGHT
    bench.do("patch", dina.user_id, ["satpol", "dishub"])
    with pytest.raises(CommandRefused) as refused:
        bench.do("unpatch", ani.user_id, "satpol")
    assert refused.value.code is ErrorCode.NO_RIGHT


def test_unpatching_restores_separate_floors(
        bench: Bench, ani: Identity, dedi: Identity, dina: Identity) -> None:
    bench.do("patch", dina.user_id, ["satpol", "dishub"])
    bench.clear()

    bench.do("unpatch", dina.user_id, "dishub")
    bench.request(ani)
    bench.request(dedi)

    assert bench.take(dedi, TalkgroupsUnpatched).talkgroups == ("dishub", "satpol")
    bench.assert_granted(ani)
    bench.assert_granted(dedi)
    assert bench.radio.floor_status("satpol").talkgroups == ("satpol",)


def test_unpatching_leaves_the_talker_on_its_own_group(
        bench: Bench, ani: Identity, budi: Identity, citra: Identity, dedi: Identity,
        eko: Identity, dina: Identity) -> None:
    bench.do("patch", dina.user_id, ["satpol", "dishub"])
    bench.request(ani)
    bench.request(dedi)
    bench.request(budi)
    bench.clear()

    bench.do("unpatch", dina.user_id, "dishub")

    assert bench.holder("satpol") == ani
    bench.assert_cancelled(dedi, CancelReason.UNPATCHED)   # asked on dishub
    bench.assert_position(budi, 1)                          # asked on satpol: still waits
    assert bench.take(eko, FloorIdle).talkgroups == ("dishub",)
    assert bench.take(citra, TalkgroupsUnpatched).talkgroups == ("dishub", "satpol")
    bench.assert_silent(citra)
    bench.request(eko)
    bench.assert_granted(eko)
    assert bench.radio.media_received(ani.user_id, bench.now) == ("satpol",)


def test_unpatching_an_unpatched_group_is_refused(bench: Bench, dina: Identity) -> None:
    with pytest.raises(CommandRefused) as refused:
        bench.do("unpatch", dina.user_id, "satpol")
    assert refused.value.code is ErrorCode.NOT_PATCHED


def test_a_patch_uses_the_strictest_settings_of_its_groups() -> None:
    short = Talkgroup("dishub", "Dishub", DISHUB_TG.agencies, max_talk_time=20, queue_capacity=0)
    bench = Bench([SATPOL, short])
    dina = bench.online(dispatcher("Dani"))
    ani, budi = bench.online(officer("Ani"), "satpol"), bench.online(officer("Budi"), "satpol")
    bench.do("patch", dina.user_id, ["satpol", "dishub"])
    bench.request(ani)

    bench.request(budi)

    bench.assert_denied(budi, DenyReason.BUSY)
    assert bench.take(ani, FloorGranted).max_talk_time == 20


def test_joining_a_patched_group_shows_the_patch(bench: Bench, dina: Identity) -> None:
    bench.do("patch", dina.user_id, ["satpol", "dishub"])
    eko = officer("Eko", DISHUB)
    bench.do("connect", eko)

    bench.do("join", eko.user_id, "dishub")

    assert bench.take(eko, TalkgroupJoined).patched_with == ("satpol",)


def test_a_restored_patch_is_in_force_for_those_who_join_later() -> None:
    """A cluster's next radio leader restores the patches the last one had, before anyone
    is connected: nobody is told then, each member learns it as they join."""
    bench = Bench()
    bench.do("restore_patch", ["satpol", "dishub"])
    assert bench.log == []
    assert bench.radio.patches() == [("dishub", "satpol")]
    ani = bench.online(officer("Ani", SATPOL_PP))
    eko = officer("Eko", DISHUB)
    bench.do("connect", eko)
    bench.do("join", eko.user_id, "dishub")
    assert bench.take(eko, TalkgroupJoined).patched_with == ("satpol",)
    bench.do("join", ani.user_id, "satpol")
    bench.clear()

    bench.request(ani)

    bench.assert_granted(ani)
    bench.assert_taken(eko, by=ani)


def test_a_restored_patch_of_a_closed_or_patched_group_is_refused(bench: Bench,
                                                                  dina: Identity) -> None:
    with pytest.raises(CommandRefused) as closed:
        bench.do("restore_patch", ["satpol", "banjir"])
    assert closed.value.code is ErrorCode.UNKNOWN_TALKGROUP
    bench.do("patch", dina.user_id, ["satpol", "dishub"])
    with pytest.raises(CommandRefused) as patched:
        bench.do("restore_patch", ["gabungan", "dishub"])
    assert patched.value.code is ErrorCode.PATCHED
    assert bench.radio.patches() == [("dishub", "satpol")]
