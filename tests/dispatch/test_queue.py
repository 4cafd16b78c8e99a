"""The dispatch queue core: triage order, waiting limits and alarms raised once."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.domain import Triage
from dispatch.events import DispatchOverdue, describe
from dispatch.queue import (
    DEFAULT_QUEUE,
    QueuePolicy,
    Waiting,
    deadline,
    due,
    next_deadline,
    ordered,
    queue_key,
)

from .helpers import T0, at


def call(incident_id: int, triage: Triage, since_s: float = 0) -> Waiting:
    return Waiting(incident_id, f"PSC-20261128-{incident_id:04d}", triage, at(since_s))


class TestOrder:
    def test_triage_first_then_the_longest_wait(self) -> None:
        calls = [call(1, Triage.HIJAU, 0), call(2, Triage.MERAH, 300), call(3, Triage.KUNING, 10),
                 call(4, Triage.MERAH, 120), call(5, Triage.HITAM, 0), call(6, Triage.KUNING, 5)]
        assert [c.incident_id for c in ordered(calls)] == [4, 2, 6, 3, 1, 5]

    def test_the_same_moment_is_broken_by_id(self) -> None:
        assert [c.incident_id for c in ordered([call(9, Triage.MERAH), call(3, Triage.MERAH)])
                ] == [3, 9]

    @given(st.lists(st.tuples(st.sampled_from(Triage), st.integers(0, 3600)), max_size=30))
    def test_no_lower_colour_ever_comes_before_a_higher_one(self, raw) -> None:
        calls = [call(i, triage, s) for i, (triage, s) in enumerate(raw, start=1)]
        keys = [queue_key(c.triage, c.since, c.incident_id) for c in ordered(calls)]
        assert keys == sorted(keys)
        rank = [k[0] for k in keys]
        assert rank == sorted(rank)


class TestAlarm:
    @pytest.mark.parametrize(("triage", "limit_s"), [(Triage.MERAH, 60), (Triage.KUNING, 180),
                                                     (Triage.HIJAU, 600)])
    def test_default_limits(self, triage: Triage, limit_s: int) -> None:
        waiting = call(1, triage)
        assert deadline(waiting) == at(limit_s)
        assert due([waiting], at(limit_s - 1)) == []
        assert due([waiting], at(limit_s)) == [
            DispatchOverdue(1, "PSC-20261128-0001", triage, T0, limit_s, at(limit_s))]

    def test_hitam_never_alarms(self) -> None:
        waiting = call(1, Triage.HITAM)
        assert deadline(waiting) is None and due([waiting], at(86400)) == []

    def test_an_alarm_is_raised_once(self) -> None:
        waiting = dataclasses.replace(call(1, Triage.MERAH), overdue_at=at(60))
        assert deadline(waiting) is None and due([waiting], at(600)) == []

    def test_the_next_deadline_is_the_earliest_pending_one(self) -> None:
        calls = [call(1, Triage.HIJAU, 0), call(2, Triage.KUNING, 30),
                 dataclasses.replace(call(3, Triage.MERAH, 0), overdue_at=at(60))]
        assert next_deadline(calls) == at(210)
        assert next_deadline([]) is None

    def test_raising_the_triage_shortens_the_limit_at_once(self) -> None:
        kuning = call(1, Triage.KUNING)
        assert due([kuning], at(90)) == []
        merah = dataclasses.replace(kuning, triage=Triage.MERAH)
        assert [o.incident_id for o in due([merah], at(90))] == [1]

    def test_alarms_come_in_queue_order(self) -> None:
        fired = due([call(1, Triage.HIJAU, 0), call(2, Triage.MERAH, 500)], at(700))
        assert [o.incident_id for o in fired] == [2, 1]

    def test_a_city_sets_its_own_limits(self) -> None:
        policy = QueuePolicy({Triage.MERAH: timedelta(seconds=30)})
        assert deadline(call(1, Triage.MERAH), policy) == at(30)
        assert deadline(call(2, Triage.KUNING), policy) is None
        assert DEFAULT_QUEUE.limits[Triage.MERAH] == timedelta(seconds=60)

    def test_naive_now_is_refused(self) -> None:
        with pytest.raises(ValueError, match="aware"):
            due([], T0.replace(tzinfo=None))

    def test_the_console_line(self) -> None:
        [minute] = due([call(1, Triage.MERAH)], at(60))
        assert describe(minute) == ("MERAH belum dikirimi unit lewat 1 menit",
                                    "MERAH without a unit for over 1 min")
        odd = QueuePolicy({Triage.KUNING: timedelta(seconds=90)})
        [seconds] = due([call(2, Triage.KUNING)], at(90), odd)
        assert describe(seconds).id == "KUNING belum dikirimi unit lewat 90 detik"
