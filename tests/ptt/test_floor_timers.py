"""Timers: maximum talk time, release when media stops, and nothing else running when idle."""

from __future__ import annotations

from helpers import SATPOL, Bench, officer

from ptt.events import CallType, FloorGranted, FloorRevoked, RevokeReason
from ptt.floor import Floor, FloorState
from ptt.talkgroup import FloorConfig, Identity, Talkgroup


def test_an_idle_radio_has_no_timer(bench: Bench, ani: Identity) -> None:
    assert bench.radio.get_timer() is None
    bench.request(ani)
    bench.release(ani)
    assert bench.radio.get_timer() is None


def test_talking_past_the_max_talk_time_is_revoked_exactly_then(
        bench: Bench, ani: Identity, budi: Identity) -> None:
    bench.request(ani)
    bench.clear()

    bench.talk(ani, 59)
    bench.assert_silent(ani, budi)
    bench.talk(ani, 1)

    bench.assert_revoked(ani, RevokeReason.MAX_TALK_TIME)
    bench.assert_idle(ani, budi)
    assert bench.radio.media_received(ani.user_id, bench.now) is None


def test_max_talk_time_is_per_talkgroup() -> None:
    bench = Bench([Talkgroup("satpol", "Satpol PP", SATPOL.agencies, max_talk_time=10)])
    ani = bench.online(officer("Ani"), "satpol")
    bench.request(ani)

    bench.talk(ani, 10)

    bench.assert_revoked(ani, RevokeReason.MAX_TALK_TIME)


def test_the_floor_is_released_when_media_stops(
        bench: Bench, ani: Identity, budi: Identity) -> None:
    bench.request(ani)
    bench.talk(ani, 10)
    bench.clear()

    bench.step(2.9)   # the last packet was at 9 s, it is now 10 s
    bench.assert_silent(ani, budi)
    bench.step(0.1)

    bench.assert_revoked(ani, RevokeReason.NO_MEDIA)
    bench.assert_idle(ani, budi)


def test_a_grant_that_never_sees_media_is_released(bench: Bench, ani: Identity) -> None:
    bench.request(ani)
    bench.step(4.0)
    bench.assert_revoked(ani, RevokeReason.NO_MEDIA)


def test_after_a_timeout_the_queue_head_is_offered_the_floor(
        bench: Bench, ani: Identity, budi: Identity) -> None:
    bench.request(ani)
    bench.request(budi)
    bench.clear()

    bench.step(4.0)

    bench.assert_revoked(ani, RevokeReason.NO_MEDIA)
    bench.assert_granted(budi, accept_within=2.0)
    bench.talk(budi, 60)
    bench.assert_revoked(budi, RevokeReason.MAX_TALK_TIME)   # counted from acceptance


def test_handle_timer_early_or_twice_is_harmless() -> None:
    floor = Floor(["satpol"], FloorConfig())
    ani = officer("Ani")
    floor.request(ani, CallType.NORMAL, 0, 0.0)
    floor.events()

    floor.handle_timer(3.0)
    floor.handle_timer(3.0)

    assert floor.state is FloorState.TAKEN and floor.events() == []


def test_a_late_timer_call_still_gives_the_next_in_queue_its_full_window() -> None:
    floor = Floor(["satpol"], FloorConfig())
    a, b = officer("A"), officer("B")
    floor.request(a, CallType.NORMAL, 0, 0.0)
    floor.request(b, CallType.NORMAL, 0, 0.0)
    floor.events()

    floor.handle_timer(100.0)   # due at 4 s, noticed late

    revoked, granted, _taken = floor.events()
    assert isinstance(revoked, FloorRevoked) and revoked.reason is RevokeReason.NO_MEDIA
    assert isinstance(granted, FloorGranted) and granted.talker == b
    assert floor.get_timer() == 102.0   # the window counts from the offer, not from 4 s
    floor.handle_timer(102.0)
    assert floor.state is FloorState.IDLE


def test_max_talk_and_no_media_falling_due_together_report_max_talk_time() -> None:
    floor = Floor(["satpol"], FloorConfig(max_talk_time=10, no_media_timeout=4))
    ani = officer("Ani")
    floor.request(ani, CallType.NORMAL, 0, 0.0)
    floor.media_received(ani.user_id, 6.0)
    floor.events()

    floor.handle_timer(10.0)

    assert [getattr(e, "reason", None) for e in floor.events()][0] is RevokeReason.MAX_TALK_TIME
