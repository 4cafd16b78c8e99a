"""Emergency: the button marks the talkgroup, takes the floor as an emergency call, and
alarms every dispatcher again and again until one acknowledges; only dispatch clears it."""

from __future__ import annotations

import pytest
from helpers import Bench, dispatcher, officer

from ptt.errors import CommandRefused, ErrorCode
from ptt.events import (
    CallType,
    CancelReason,
    DenyReason,
    EmergencyAcknowledged,
    EmergencyAlerted,
    EmergencyCleared,
    EmergencyRaised,
    RevokeReason,
    TalkgroupJoined,
)
from ptt.talkgroup import Identity, Role

EM = CallType.EMERGENCY


@pytest.fixture
def sari(bench: Bench) -> Identity:
    """A supervisor who monitors nothing: alerted all the same."""
    return bench.online(dispatcher("Sari", Role.SUPERVISOR))


def test_raising_an_emergency_preempts_the_talker_and_alarms_dispatch(
        bench: Bench, ani: Identity, budi: Identity, dedi: Identity, dina: Identity,
        sari: Identity) -> None:
    bench.request(budi, priority=1)
    bench.clear()

    bench.do("raise_emergency", ani.user_id, "satpol")

    for who in (ani, budi, dina, sari):
        assert bench.take(who, EmergencyRaised).raised_by == ani
    for who in (dina, sari):
        alert = bench.take(who, EmergencyAlerted)
        assert (alert.talkgroup, alert.raised_by, alert.count) == ("satpol", ani, 1)
    bench.assert_revoked(budi, RevokeReason.PREEMPTED)
    granted = bench.assert_granted(ani, call_type=EM)
    assert granted.priority == 1
    bench.assert_taken(budi, by=ani)
    bench.assert_taken(dina, by=ani)
    bench.assert_silent(ani, budi, dedi, sari)
    emergency = bench.radio.emergency("satpol")
    assert emergency is not None and emergency.raised_by == ani


def test_the_alarm_repeats_until_a_dispatcher_acknowledges(
        bench: Bench, ani: Identity, dina: Identity, sari: Identity) -> None:
    bench.do("raise_emergency", ani.user_id, None)   # the selected talkgroup
    bench.talk(ani, 25)
    counts = [e.count for e in bench.unread(sari) if isinstance(e, EmergencyAlerted)]
    assert counts == [1, 2, 3]   # at 0, 10 and 20 s

    bench.do("acknowledge_emergency", dina.user_id, "satpol")
    bench.step(60)

    assert bench.take(sari, EmergencyAcknowledged).by == dina
    assert bench.take(ani, EmergencyAcknowledged).by == dina
    assert not any(isinstance(e, EmergencyAlerted) for e in bench.unread(sari))
    assert bench.radio.get_timer() is None


def test_a_dispatcher_connecting_during_the_alarm_is_alerted_at_once(
        bench: Bench, ani: Identity) -> None:
    bench.do("raise_emergency", ani.user_id, "satpol")
    late, officer_late = dispatcher("Lina"), officer("Eko")

    bench.do("connect", late)
    bench.do("connect", officer_late)

    assert bench.take(late, EmergencyAlerted).count == 1
    bench.assert_silent(officer_late)


def test_an_acknowledged_emergency_is_not_alerted_to_newcomers_but_stays_raised(
        bench: Bench, ani: Identity, dina: Identity) -> None:
    bench.do("raise_emergency", ani.user_id, "satpol")
    bench.do("acknowledge_emergency", dina.user_id, "satpol")
    late = dispatcher("Lina")

    bench.do("connect", late)
    bench.do("join", late.user_id, "satpol")

    assert bench.take(late, TalkgroupJoined).emergency is True
    bench.assert_silent(late)
    with pytest.raises(CommandRefused) as refused:
        bench.do("acknowledge_emergency", late.user_id, "satpol")
    assert refused.value.code is ErrorCode.ALREADY_ACKNOWLEDGED


def test_only_dispatch_clears_an_emergency(
        bench: Bench, ani: Identity, budi: Identity, dina: Identity) -> None:
    bench.do("raise_emergency", ani.user_id, "satpol")
    bench.clear()

    with pytest.raises(CommandRefused) as refused:
        bench.do("clear_emergency", ani.user_id, "satpol")
    assert refused.value.code is ErrorCode.NO_RIGHT
    bench.do("clear_emergency", dina.user_id, "satpol")

    assert bench.take(budi, EmergencyCleared).by == dina
    assert bench.radio.emergency("satpol") is None
    assert bench.radio.get_timer() is not None   # only the floor's timers remain
    with pytest.raises(CommandRefused) as refused:
        bench.do("clear_emergency", dina.user_id, "satpol")
    assert refused.value.code is ErrorCode.NO_EMERGENCY


def test_raising_while_talking_upgrades_the_grant(
        bench: Bench, ani: Identity, budi: Identity) -> None:
    bench.request(ani)
    bench.clear()

    bench.do("raise_emergency", ani.user_id, "satpol")

    bench.assert_granted(ani, call_type=EM)
    assert bench.assert_taken(budi, by=ani).call_type is EM
    bench.take(budi, EmergencyRaised)
    bench.assert_silent(budi)


def test_raising_withdraws_a_request_waiting_on_another_floor(
        bench: Bench, dina: Identity, dedi: Identity) -> None:
    eko = bench.online(officer("Eko", "dishub"), "dishub")
    bench.request(dedi)
    bench.request(eko)
    bench.clear()
    bench.do("join", eko.user_id, "gabungan")

    bench.do("raise_emergency", eko.user_id, "gabungan")

    bench.assert_cancelled(eko, CancelReason.CANCELLED)
    bench.assert_granted(eko, call_type=EM)


def test_raising_while_talking_elsewhere_releases_that_floor(
        bench: Bench, dina: Identity, dedi: Identity) -> None:
    bench.request(dina, "dishub")
    bench.clear()

    bench.do("raise_emergency", dina.user_id, "satpol")

    bench.assert_idle(dedi)
    bench.assert_granted(dina, call_type=EM)


def test_raising_again_after_an_acknowledgement_alarms_again(
        bench: Bench, ani: Identity, budi: Identity, dina: Identity) -> None:
    bench.do("raise_emergency", ani.user_id, "satpol")
    bench.do("acknowledge_emergency", dina.user_id, "satpol")
    bench.clear()

    bench.do("raise_emergency", budi.user_id, "satpol")

    alert = bench.take(dina, EmergencyAlerted)
    assert alert.raised_by == budi and alert.count == 2
    bench.assert_queued(budi, 1)   # an emergency does not pre-empt an equal emergency
    emergency = bench.radio.emergency("satpol")
    assert emergency is not None and emergency.acknowledged_by is None
    assert emergency.raised_at == 0.0


def test_emergency_calls_need_an_emergency(
        bench: Bench, ani: Identity, budi: Identity) -> None:
    bench.request(ani, call_type=EM)
    bench.assert_denied(ani, DenyReason.NO_EMERGENCY)
    bench.do("raise_emergency", budi.user_id, "satpol")
    bench.do("release_floor", budi.user_id)

    bench.request(ani, call_type=EM)

    bench.assert_granted(ani, call_type=EM)


def test_a_listen_only_member_cannot_raise_an_emergency(bench: Bench, ani: Identity) -> None:
    bench.do("join", ani.user_id, "medis")
    with pytest.raises(CommandRefused) as refused:
        bench.do("raise_emergency", ani.user_id, "medis")
    assert refused.value.code is ErrorCode.NO_RIGHT
    assert bench.radio.emergency("medis") is None


def test_acknowledging_without_an_emergency_is_refused(bench: Bench, dina: Identity) -> None:
    with pytest.raises(CommandRefused) as refused:
        bench.do("acknowledge_emergency", dina.user_id, "satpol")
    assert refused.value.code is ErrorCode.NO_EMERGENCY


def test_a_restored_emergency_alarms_again_until_acknowledged(
        bench: Bench, ani: Identity, dina: Identity, sari: Identity) -> None:
    """A cluster's next radio leader restores the emergencies the last one had."""
    bench.do("restore_emergency", "satpol", ani, None)
    for who in (dina, sari):
        alert = bench.take(who, EmergencyAlerted)
        assert (alert.talkgroup, alert.raised_by, alert.count) == ("satpol", ani, 1)
    bench.assert_silent(ani)
    assert bench.holder("satpol") is None  # no floor comes with it
    assert [e.talkgroup for e in bench.radio.emergencies()] == ["satpol"]
    bench.step(10)
    assert bench.take(sari, EmergencyAlerted).count == 2
    bench.do("acknowledge_emergency", dina.user_id, "satpol")
    assert bench.take(ani, EmergencyAcknowledged).by == dina


def test_a_restored_acknowledged_emergency_stays_quiet_until_cleared(
        bench: Bench, ani: Identity, dina: Identity, sari: Identity) -> None:
    bench.do("restore_emergency", "satpol", ani, dina)
    bench.step(30)
    bench.assert_silent(ani, dina, sari)
    emergency = bench.radio.emergency("satpol")
    assert emergency is not None and emergency.acknowledged_by == dina
    bench.do("clear_emergency", dina.user_id, "satpol")
    assert bench.take(ani, EmergencyCleared).by == dina
    assert bench.radio.emergencies() == []
