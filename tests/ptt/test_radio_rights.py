"""Rights: agency and role decide who hears and who talks; a Dishub officer cannot use the
Satpol PP talkgroup, both can use Gabungan; dispatch acts everywhere."""

from __future__ import annotations

import pytest
from helpers import DISHUB_TG, GABUNGAN, MEDIS, SATPOL, Bench, dispatcher, officer, person

from ptt.control import RadioConfig
from ptt.errors import CommandRefused, ErrorCode, UsageError
from ptt.events import (
    CallType,
    CancelReason,
    DenyReason,
    FloorIdle,
    RevokeReason,
    TalkgroupAdded,
    TalkgroupRemoved,
)
from ptt.talkgroup import (
    DISHUB,
    PSC119,
    SATPOL_PP,
    Identity,
    Right,
    Role,
    Talkgroup,
    cap_priority,
)

LT = Right.LISTEN | Right.TALK
ALL = LT | Right.DISPATCH


@pytest.mark.parametrize(("role", "agency", "talkgroup", "rights"), [
    (Role.OFFICER, SATPOL_PP, SATPOL, LT),
    (Role.OFFICER, DISHUB, SATPOL, Right.NONE),
    (Role.OFFICER, DISHUB, DISHUB_TG, LT),
    (Role.OFFICER, SATPOL_PP, GABUNGAN, LT),
    (Role.OFFICER, DISHUB, GABUNGAN, LT),
    (Role.OFFICER, SATPOL_PP, MEDIS, Right.LISTEN),
    (Role.HOSPITAL, PSC119, MEDIS, LT),
    (Role.HOSPITAL, PSC119, SATPOL, Right.NONE),
    (Role.DISPATCHER, PSC119, SATPOL, ALL),
    (Role.SUPERVISOR, DISHUB, SATPOL, ALL),
    (Role.ADMIN, SATPOL_PP, SATPOL, Right.DISPATCH),
])
def test_rights_come_from_role_and_agency(role: Role, agency: str, talkgroup: Talkgroup,
                                          rights: Right) -> None:
    assert talkgroup.rights_of(person(role, agency, "X")) == rights


def test_a_dynamic_talkgroup_admits_its_listed_members() -> None:
    incident = Talkgroup("insiden-7", "Insiden 7", dynamic=True, members=frozenset({7}))
    invited = Identity(7, "eko", "Eko", DISHUB, Role.OFFICER)
    other = Identity(8, "fajar", "Fajar", DISHUB, Role.OFFICER)
    assert incident.rights_of(invited) == LT
    assert incident.rights_of(other) == Right.NONE


@pytest.mark.parametrize("bad", [
    {"id": ""}, {"max_talk_time": 0}, {"queue_capacity": -1},
    {"agencies": frozenset({DISHUB}), "listen_only": frozenset({DISHUB})},
    {"members": frozenset({1})},
    {"agencies": frozenset({DISHUB}), "peril_agencies": frozenset({SATPOL_PP})},
])
def test_inconsistent_talkgroups_are_rejected(bad: dict[str, object]) -> None:
    fields: dict[str, object] = {"id": "x", "name": "X", **bad}
    with pytest.raises(UsageError):
        Talkgroup(**fields)  # type: ignore[arg-type]


def test_priority_ceiling_by_role() -> None:
    assert cap_priority(Role.OFFICER, 5) == 1
    assert cap_priority(Role.DISPATCHER, 5) == 2
    assert cap_priority(Role.SUPERVISOR, 2) == 2
    assert cap_priority(Role.HOSPITAL, -1) == 0


def test_a_dishub_officer_can_neither_join_nor_talk_on_the_satpol_pp_group(
        bench: Bench, dedi: Identity) -> None:
    with pytest.raises(CommandRefused) as refused:
        bench.do("join", dedi.user_id, "satpol")
    assert refused.value.code is ErrorCode.NO_RIGHT
    with pytest.raises(CommandRefused) as refused:
        bench.request(dedi, "satpol")
    assert refused.value.code is ErrorCode.NOT_JOINED
    assert bench.radio.audience("satpol") == frozenset()
    assert bench.radio.roster.rights(dedi.user_id, "satpol") == Right.NONE


def test_both_agencies_talk_on_gabungan(bench: Bench, ani: Identity, dedi: Identity) -> None:
    bench.do("set_scan", ani.user_id, ["gabungan"], "gabungan")
    bench.do("set_scan", dedi.user_id, ["gabungan", "dishub"], "gabungan")
    bench.clear()

    bench.request(dedi)
    bench.assert_granted(dedi)
    bench.assert_taken(ani, by=dedi)


def test_a_listen_only_member_hears_but_may_not_talk(bench: Bench, ani: Identity) -> None:
    bench.do("set_scan", ani.user_id, ["satpol", "medis"], "medis")
    hospital = bench.online(person(Role.HOSPITAL, PSC119, "Rumah Sakit"), "medis")

    bench.request(ani, "medis")
    bench.request(hospital)

    bench.assert_denied(ani, DenyReason.NO_RIGHT)
    bench.assert_granted(hospital)
    bench.assert_taken(ani, by=hospital)


def test_an_officer_talks_on_the_selected_group_only_a_dispatcher_on_any(
        bench: Bench, ani: Identity, dina: Identity) -> None:
    bench.do("set_scan", ani.user_id, ["satpol", "gabungan"], "gabungan")
    bench.clear()
    assert bench.radio.roster.groups(ani.user_id) == ("satpol", "gabungan")

    bench.request(ani, "satpol")
    bench.request(dina, "dishub")   # dina's selected group is satpol

    bench.assert_denied(ani, DenyReason.NOT_SELECTED)
    bench.assert_granted(dina)


def test_imminent_peril_is_a_dispatchers_call_by_default(
        bench: Bench, dedi: Identity, dina: Identity) -> None:
    eko = bench.online(officer("Eko", DISHUB), "dishub")   # Dishub's group names no agency
    bench.request(dedi)
    bench.clear()

    bench.request(eko, call_type=CallType.IMMINENT_PERIL)
    bench.assert_denied(eko, DenyReason.NO_RIGHT)   # Dedi keeps talking
    bench.request(dina, "dishub", call_type=CallType.IMMINENT_PERIL)
    bench.assert_granted(dina, call_type=CallType.IMMINENT_PERIL)
    bench.assert_revoked(dedi, RevokeReason.PREEMPTED)


def test_a_talkgroup_may_give_an_agency_the_imminent_peril_call() -> None:
    patrol = Talkgroup("patrol", "Patroli", agencies=frozenset({SATPOL_PP, DISHUB}),
                       peril_agencies=frozenset({SATPOL_PP}))
    bench = Bench([patrol])
    ani = bench.online(person(Role.OFFICER, SATPOL_PP, "Ani"), "patrol")
    dedi = bench.online(person(Role.OFFICER, DISHUB, "Dedi"), "patrol")
    bench.request(dedi)
    bench.clear()

    bench.request(ani, call_type=CallType.IMMINENT_PERIL)
    bench.assert_granted(ani, call_type=CallType.IMMINENT_PERIL)
    bench.assert_revoked(dedi, RevokeReason.PREEMPTED)
    bench.release(ani)
    bench.clear()
    bench.request(dedi, call_type=CallType.IMMINENT_PERIL)
    bench.assert_denied(dedi, DenyReason.NO_RIGHT)   # Dishub was not given the call here


def test_one_voice_at_a_time(bench: Bench, dina: Identity, ani: Identity,
                             dedi: Identity) -> None:
    bench.request(dina, "satpol")
    bench.request(dina, "dishub")
    bench.assert_denied(dina, DenyReason.ALREADY_HOLDER)
    bench.release(dina)
    bench.request(ani)
    bench.request(dedi)
    bench.request(dina, "dishub")   # waits behind Dedi
    bench.clear()

    bench.request(dina, "satpol")

    bench.assert_denied(dina, DenyReason.ALREADY_QUEUED)
    assert [r.member for r in bench.radio.floor_status("satpol").queue] == []


def test_revoking_needs_dispatch(bench: Bench, ani: Identity, budi: Identity,
                                 dina: Identity) -> None:
    bench.request(ani)
    with pytest.raises(CommandRefused) as refused:
        bench.do("revoke_floor", budi.user_id, "satpol")
    assert refused.value.code is ErrorCode.NO_RIGHT
    bench.clear()

    bench.do("revoke_floor", dina.user_id, "satpol")

    bench.assert_revoked(ani, RevokeReason.DISPATCHER)
    bench.assert_idle(budi)
    with pytest.raises(CommandRefused) as refused:
        bench.do("revoke_floor", dina.user_id, "satpol")
    assert refused.value.code is ErrorCode.FLOOR_IDLE


def test_an_admin_dispatches_without_hearing(bench: Bench, ani: Identity) -> None:
    admin = bench.online(person(Role.ADMIN, "diskominfo", "Admin"))
    with pytest.raises(CommandRefused) as refused:
        bench.do("join", admin.user_id, "satpol")
    assert refused.value.code is ErrorCode.NO_RIGHT
    bench.request(ani)
    bench.do("revoke_floor", admin.user_id, "satpol")
    bench.assert_revoked(ani, RevokeReason.DISPATCHER)


def test_scan_lists(bench: Bench, ani: Identity) -> None:
    bench.do("set_scan", ani.user_id, ["gabungan", "medis"], None)
    assert bench.radio.roster.groups(ani.user_id) == ("gabungan", "medis")
    assert bench.radio.roster.selected(ani.user_id) is None
    with pytest.raises(CommandRefused) as refused:
        bench.request(ani)
    assert refused.value.code is ErrorCode.NO_SELECTED_TALKGROUP

    for scan, selected, code in [
            (["satpol", "dishub"], "satpol", ErrorCode.NO_RIGHT),
            (["satpol"], "gabungan", ErrorCode.INVALID_SCAN),
            (["satpol", "nowhere"], "satpol", ErrorCode.UNKNOWN_TALKGROUP)]:
        with pytest.raises(CommandRefused) as refused:
            bench.do("set_scan", ani.user_id, scan, selected)
        assert refused.value.code is code
        assert bench.radio.roster.groups(ani.user_id) == ("gabungan", "medis")

    with pytest.raises(CommandRefused) as refused:
        bench.do("join", ani.user_id, "medis")
    assert refused.value.code is ErrorCode.ALREADY_JOINED
    bench.do("leave", ani.user_id, "gabungan")
    bench.do("join", ani.user_id, "satpol")
    assert bench.radio.roster.selected(ani.user_id) == "satpol"


def test_unknown_talkgroups_are_refused(bench: Bench, ani: Identity) -> None:
    for command, args in [("join", ("x",)), ("request_floor", ("x", CallType.NORMAL, 0)),
                          ("raise_emergency", ("x",))]:
        with pytest.raises(CommandRefused) as refused:
            bench.do(command, ani.user_id, *args)
        assert refused.value.code is ErrorCode.UNKNOWN_TALKGROUP
    with pytest.raises(CommandRefused):
        bench.radio.floor_status("x")
    with pytest.raises(CommandRefused):
        bench.radio.roster.presence("x")


def test_a_dynamic_talkgroup_is_opened_for_its_members_and_closed_again(
        bench: Bench, ani: Identity, budi: Identity, dedi: Identity, dina: Identity) -> None:
    incident = Talkgroup("insiden-7", "Insiden 7", dynamic=True,
                         members=frozenset({ani.user_id, dedi.user_id}))
    bench.do("add_talkgroup", incident)
    for who in (ani, dedi, dina):
        assert bench.take(who, TalkgroupAdded).talkgroup == incident
    bench.assert_silent(budi)
    with pytest.raises(CommandRefused) as refused:
        bench.do("add_talkgroup", incident)
    assert refused.value.code is ErrorCode.TALKGROUP_EXISTS
    bench.do("set_scan", ani.user_id, ["insiden-7"], "insiden-7")
    bench.do("set_scan", dedi.user_id, ["insiden-7"], "insiden-7")
    bench.do("join", dina.user_id, "insiden-7")
    bench.request(ani)
    bench.request(dedi)
    bench.do("raise_emergency", dedi.user_id, "insiden-7")
    bench.clear()

    bench.do("remove_talkgroup", "insiden-7")

    bench.assert_revoked(dedi, RevokeReason.FLOOR_CLOSED)
    bench.assert_idle(ani)
    for who in (ani, dedi, dina):
        assert bench.take(who, TalkgroupRemoved).talkgroup == "insiden-7"
    assert not any(isinstance(e, FloorIdle) for e in bench.unread(budi))
    assert "insiden-7" not in bench.radio.roster.talkgroups
    assert bench.radio.roster.selected(ani.user_id) is None
    assert bench.radio.get_timer() is None


def test_static_or_patched_talkgroups_cannot_be_removed(bench: Bench, dina: Identity) -> None:
    incident = Talkgroup("insiden-8", "Insiden 8", dynamic=True)
    bench.do("add_talkgroup", incident)
    bench.do("patch", dina.user_id, ["insiden-8", "satpol"])
    for talkgroup, code in [("satpol", ErrorCode.NOT_DYNAMIC),
                            ("insiden-8", ErrorCode.PATCHED)]:
        with pytest.raises(CommandRefused) as refused:
            bench.do("remove_talkgroup", talkgroup)
        assert refused.value.code is code
    bench.do("unpatch", dina.user_id, "satpol")
    bench.do("remove_talkgroup", "insiden-8")   # idle, unpatched: goes quietly
    assert "insiden-8" not in bench.radio.roster.talkgroups


def test_talkgroups_are_defined_once_and_timers_are_positive() -> None:
    with pytest.raises(UsageError):
        Bench([SATPOL, SATPOL])
    with pytest.raises(UsageError):
        RadioConfig(alert_interval=0)


def test_an_incident_group_queue_closes_with_it(bench: Bench, dina: Identity) -> None:
    incident = Talkgroup("insiden-9", "Insiden 9", dynamic=True)
    bench.do("add_talkgroup", incident)
    sari = bench.online(dispatcher("Sari", Role.SUPERVISOR), "insiden-9")
    bench.do("join", dina.user_id, "insiden-9")
    bench.request(sari, "insiden-9", priority=3)
    bench.request(dina, "insiden-9")
    bench.clear()

    bench.do("remove_talkgroup", "insiden-9")

    bench.assert_cancelled(dina, CancelReason.FLOOR_CLOSED)
    bench.assert_revoked(sari, RevokeReason.FLOOR_CLOSED)


def test_whereabouts_go_to_the_command_center_only() -> None:
    bench = Bench()
    eko = bench.online(person(Role.OFFICER, SATPOL_PP, "Eko"), SATPOL.id)
    budi = bench.online(person(Role.OFFICER, DISHUB, "Budi"), DISHUB_TG.id)
    dina = bench.online(dispatcher("Dina"))
    sari = bench.online(dispatcher("Sari", Role.SUPERVISOR))
    assert bench.radio.whereabouts_audience(eko.user_id) == {dina.user_id, sari.user_id}
    # A dispatcher's own whereabouts go to the other dispatchers, not back to itself.
    assert bench.radio.whereabouts_audience(dina.user_id) == {sari.user_id}
    bench.do("disconnect", sari.user_id)
    assert bench.radio.whereabouts_audience(budi.user_id) == {dina.user_id}


def test_a_text_reaches_the_group_and_every_dispatcher_who_may_listen(
        bench: Bench, ani: Identity, dedi: Identity) -> None:
    """Texts are read by those who hear the group and by the consoles, joined or not."""
    dina = bench.online(dispatcher())                  # joined nothing
    hospital = bench.online(person(Role.HOSPITAL, PSC119, "IGD"))  # not a console
    assert bench.radio.text_readers("satpol") == {ani.user_id, dina.user_id}
    assert bench.radio.text_readers("dishub") == {dedi.user_id, dina.user_id}
    assert bench.radio.text_readers("medis") == {dina.user_id}
    assert hospital.user_id not in bench.radio.text_readers("satpol")
    with pytest.raises(CommandRefused) as refused:
        bench.radio.text_readers("nowhere")
    assert refused.value.code is ErrorCode.UNKNOWN_TALKGROUP
