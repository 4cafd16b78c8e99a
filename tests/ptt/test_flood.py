"""Message flood control (ptt.flood): a token bucket per connection, time passed in.

Rule 1: ``burst`` messages at once, then ``rate`` per second; over that a message is refused.
Rule 2: ``abuse_limit`` refusals within ``abuse_window`` seconds make the client abusive.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ptt.flood import FloodGuard, Verdict

ACCEPT, REFUSE, ABUSE = Verdict.ACCEPT, Verdict.REFUSE, Verdict.ABUSE


def burst(guard: FloodGuard, n: int, now: float) -> list[Verdict]:
    return [guard.check(now) for _ in range(n)]


class TestRate:
    def test_a_burst_is_accepted_at_once_and_the_next_message_refused(self) -> None:
        guard = FloodGuard(rate=20, burst=50)
        assert burst(guard, 50, now=100.0) == [ACCEPT] * 50
        assert guard.check(100.0) is REFUSE

    def test_the_first_message_finds_a_full_bucket_whatever_the_clock_reads(self) -> None:
        assert burst(FloodGuard(rate=1, burst=3), 4, now=-5_000.0) == [ACCEPT] * 3 + [REFUSE]

    def test_tokens_come_back_at_the_rate(self) -> None:
        guard = FloodGuard(rate=20, burst=50)
        burst(guard, 50, now=0.0)
        assert guard.check(0.04) is REFUSE  # 0.8 of a token
        assert guard.check(0.05) is ACCEPT  # a whole token: 1/20 s after the burst
        assert guard.check(0.05) is REFUSE
        assert burst(guard, 11, now=0.55) == [ACCEPT] * 10 + [REFUSE]  # 0.5 s: 10 tokens

    def test_a_quiet_client_refills_only_up_to_the_burst(self) -> None:
        guard = FloodGuard(rate=20, burst=5)
        burst(guard, 5, now=0.0)
        assert burst(guard, 6, now=3600.0) == [ACCEPT] * 5 + [REFUSE]

    def test_a_steady_client_at_the_rate_is_never_refused(self) -> None:
        guard = FloodGuard(rate=16, burst=1)  # 1/16 s steps are exact in binary
        assert {guard.check(i / 16) for i in range(1_000)} == {ACCEPT}

    @given(st.lists(st.floats(0, 2.0, allow_nan=False), min_size=1, max_size=300),
           st.integers(1, 20), st.integers(1, 30))
    def test_never_more_than_the_burst_plus_the_rate_times_the_time(
            self, gaps: list[float], rate: int, size: int) -> None:
        guard = FloodGuard(rate=rate, burst=size, abuse_limit=10**9)
        now, accepted = 0.0, 0
        for gap in gaps:
            now += gap
            accepted += guard.check(now) is ACCEPT
        assert accepted <= size + rate * now + 1e-6


class TestAbuse:
    def test_refusals_up_to_the_limit_are_plain_refusals_then_the_client_is_abusive(
            self) -> None:
        guard = FloodGuard(rate=1, burst=1, abuse_limit=3, abuse_window=10)
        assert guard.check(0.0) is ACCEPT
        assert burst(guard, 3, now=0.0) == [REFUSE, REFUSE, ABUSE]
        assert guard.check(0.0) is ABUSE

    def test_refusals_older_than_the_window_are_forgotten(self) -> None:
        guard = FloodGuard(rate=0.001, burst=1, abuse_limit=3, abuse_window=10)
        guard.check(0.0)
        assert burst(guard, 2, now=1.0) == [REFUSE, REFUSE]
        assert guard.check(11.0) is REFUSE  # both refusals at t=1 have left the window
        assert guard.check(12.0) is REFUSE
        assert guard.check(13.0) is ABUSE  # 11, 12, 13: three within 10 s

    def test_a_refusal_exactly_one_window_old_no_longer_counts(self) -> None:
        guard = FloodGuard(rate=0.001, burst=1, abuse_limit=2, abuse_window=10)
        guard.check(0.0)
        assert guard.check(5.0) is REFUSE
        assert guard.check(15.0) is REFUSE  # 5.0 <= 15.0 - 10: out of the window
        assert guard.check(15.0) is ABUSE

    def test_accepted_messages_do_not_count_towards_abuse(self) -> None:
        guard = FloodGuard(rate=20, burst=50, abuse_limit=100, abuse_window=10)
        for second in range(60):
            verdicts = burst(guard, 25, now=float(second))  # 25/s against 20/s
            assert ABUSE not in verdicts
        # Five refusals a second for a minute: at most 50 within any 10 s, never 100.

    def test_the_defaults_are_the_documented_limits(self) -> None:
        guard = FloodGuard()
        assert (guard.rate, guard.burst, guard.abuse_limit, guard.abuse_window) == (
            20.0, 50.0, 100, 10.0)
        assert burst(guard, 50, now=0.0) == [ACCEPT] * 50
        assert burst(guard, 100, now=0.0) == [REFUSE] * 99 + [ABUSE]
