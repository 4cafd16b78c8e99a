"""Retention of recorded transmissions (ptt.retention): what is expired, given ``now``.

The purge that applies it, files and rows together, is tested in tests/wsaudio.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ptt.errors import UsageError
from ptt.retention import Recorded, RetentionPolicy

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def at(days_ago: float) -> datetime:
    return NOW - timedelta(days=days_ago)


class TestPolicy:
    policy = RetentionPolicy({"satpolpp": 7, "dishub": 0}, default_days=30)

    def test_each_talkgroup_keeps_its_own_days(self) -> None:
        items = [Recorded(1, "satpolpp", at(8)), Recorded(2, "satpolpp", at(6)),
                 Recorded(3, "gabungan", at(31)), Recorded(4, "gabungan", at(29)),
                 Recorded(5, "dishub", at(3650))]
        assert [i.id for i in self.policy.expired(items, NOW)] == [1, 3]

    def test_the_boundary_is_kept(self) -> None:
        assert not self.policy.is_expired(Recorded(1, "satpolpp", at(7)), NOW)
        assert self.policy.is_expired(
            Recorded(1, "satpolpp", at(7) - timedelta(microseconds=1)), NOW)

    def test_zero_days_keeps_forever_and_negative_days_are_refused(self) -> None:
        assert self.policy.cutoff("dishub", NOW) is None
        with pytest.raises(UsageError):
            RetentionPolicy({"satpolpp": -1})
        with pytest.raises(UsageError):
            RetentionPolicy(default_days=-5)

    def test_naive_times_are_refused(self) -> None:
        with pytest.raises(UsageError):
            self.policy.expired([], NOW.replace(tzinfo=None))
        with pytest.raises(UsageError):
            self.policy.is_expired(Recorded(1, "x", NOW.replace(tzinfo=None)), NOW)

    def test_candidates_come_from_the_shortest_finite_retention(self) -> None:
        assert self.policy.candidates_before(NOW) == at(7)
        assert RetentionPolicy({"a": 0}, default_days=0).candidates_before(NOW) is None

    @given(
        days=st.dictionaries(st.sampled_from("abc"), st.integers(0, 60)),
        default=st.integers(0, 60),
        ages=st.lists(st.tuples(st.sampled_from("abcd"), st.floats(0, 90)), max_size=30),
        later=st.floats(0, 30),
    )
    def test_expiry_only_grows_with_time_and_candidates_cover_it(
        self, days: dict[str, int], default: int, ages: list[tuple[str, float]], later: float
    ) -> None:
        policy = RetentionPolicy(days, default)
        items = [Recorded(i, tg, at(age)) for i, (tg, age) in enumerate(ages)]
        now_expired = {i.id for i in policy.expired(items, NOW)}
        later_expired = {i.id for i in policy.expired(items, NOW + timedelta(days=later))}
        assert now_expired <= later_expired
        before = policy.candidates_before(NOW)
        for item in items:
            if item.id in now_expired:
                assert before is not None and item.started_at < before
                assert policy.days_for(item.talkgroup) > 0
