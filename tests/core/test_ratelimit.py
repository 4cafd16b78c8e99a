"""Login throttle core: time is stepped by hand, interleavings are drawn by hypothesis."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from kernel.ratelimit import Admitted, Attempt, LoginThrottle, Refused, Scope


def throttle(**overrides: float) -> LoginThrottle:
    options: dict[str, float] = {"max_failures": 3, "window": 60, "address_max_failures": 10,
                                 "delay_base": 0.5, "delay_max": 4.0}
    options.update(overrides)
    return LoginThrottle(**options)  # type: ignore[arg-type]


def admit(t: LoginThrottle, account: str, address: str, now: float) -> Admitted:
    decision = t.reserve(account, address, now)
    assert isinstance(decision, Admitted), decision
    return decision


def fail(t: LoginThrottle, account: str, address: str, now: float) -> None:
    t.failed(admit(t, account, address, now).attempt, now)


# -- rule 1: per (account, address) ------------------------------------------------------


def test_pair_is_refused_after_max_failures_until_they_leave_the_window() -> None:
    t = throttle()
    for now in (0, 10, 20):
        fail(t, "satpol1", "a", now)
    refused = t.reserve("satpol1", "a", 30)
    assert refused == Refused(Scope.ACCOUNT_ADDRESS, 30)  # first failure leaves at t=60
    assert isinstance(t.reserve("satpol1", "a", 60), Admitted)


def test_attempts_in_flight_count_before_they_settle() -> None:
    t = throttle()
    for _ in range(3):
        admit(t, "satpol1", "a", 0)
    assert t.reserve("satpol1", "a", 0) == Refused(Scope.ACCOUNT_ADDRESS, 1.0)


def test_retry_after_is_at_least_one_second() -> None:
    t = throttle()
    for _ in range(3):
        fail(t, "satpol1", "a", 0)
    assert t.reserve("satpol1", "a", 59.9) == Refused(Scope.ACCOUNT_ADDRESS, 1.0)


# -- rule 2: per address -----------------------------------------------------------------


def test_address_is_refused_whatever_accounts_it_sprays() -> None:
    t = throttle(address_max_failures=4)
    for i in range(4):
        fail(t, f"user{i}", "a", 0)
    assert t.reserve("user9", "a", 1) == Refused(Scope.ADDRESS, 59)
    assert isinstance(t.reserve("user9", "b", 1), Admitted)


# -- rule 3: slowed, never locked --------------------------------------------------------


def test_failures_from_elsewhere_slow_the_account_but_never_refuse_it() -> None:
    t = throttle(address_max_failures=100)
    for i in range(20):
        fail(t, "dispatcher1", f"attacker{i}", 0)
    decision = admit(t, "dispatcher1", "console", 0)
    assert decision.delay == 4.0  # capped
    t.succeeded(decision.attempt, 4)
    assert admit(t, "dispatcher1", "console", 5).delay == 0


def test_delay_doubles_per_failure_and_counts_from_the_latest() -> None:
    t = throttle(address_max_failures=100)
    for i in range(3):
        fail(t, "dispatcher1", f"x{i}", 0)
    assert admit(t, "dispatcher1", "y", 0).delay == 0.5  # 4th charged: in flight now
    assert admit(t, "dispatcher1", "z", 0).delay == 1.0
    assert admit(t, "dispatcher1", "w", 10).delay == 0  # long enough since the latest


def test_delay_is_zero_below_the_limit() -> None:
    t = throttle()
    fail(t, "satpol1", "a", 0)
    assert admit(t, "satpol1", "b", 0).delay == 0


def test_delay_without_any_recorded_failure_counts_from_now() -> None:
    t = throttle(max_failures=1)
    admit(t, "satpol1", "a", 0)  # in flight, not yet failed
    assert admit(t, "satpol1", "b", 0).delay == 0.5


# -- rule 4: success ---------------------------------------------------------------------


def test_success_clears_account_and_pair_but_not_address() -> None:
    t = throttle(address_max_failures=3)
    fail(t, "satpol1", "a", 0)
    fail(t, "mine", "a", 0)
    t.succeeded(admit(t, "mine", "a", 1).attempt, 1)
    fail(t, "other", "a", 2)
    # The address's three failures remain: its own success did not refill it.
    assert t.reserve("x", "a", 3) == Refused(Scope.ADDRESS, 57)


def test_settling_twice_is_a_bug() -> None:
    t = throttle()
    attempt = admit(t, "satpol1", "a", 0).attempt
    t.failed(attempt, 0)
    with pytest.raises(ValueError, match="not open"):
        t.succeeded(attempt, 0)


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        LoginThrottle(max_failures=0, window=60, address_max_failures=1)
    with pytest.raises(ValueError):
        LoginThrottle(max_failures=1, window=0, address_max_failures=1)


# -- rule 5: memory ----------------------------------------------------------------------


def test_keys_are_forgotten_once_their_failures_leave_the_window() -> None:
    t = throttle(sweep_every=50)
    for i in range(40):
        fail(t, f"user{i}", f"addr{i}", 0)
    assert t.tracked_keys == 120
    for _ in range(10):  # the 50th reserve sweeps
        t.succeeded(admit(t, "mine", "home", 100).attempt, 100)
    assert t.tracked_keys == 0


def test_success_forgets_its_keys_at_once_when_nothing_else_holds_them() -> None:
    t = throttle()
    t.succeeded(admit(t, "satpol1", "a", 0).attempt, 0)
    assert t.tracked_keys == 0
    fail(t, "other", "b", 0)
    t.succeeded(admit(t, "mine", "b", 0).attempt, 0)
    assert t.tracked_keys == 3  # other's pair and account, and b's failure
    t.sweep(60)
    assert t.tracked_keys == 0


# -- properties --------------------------------------------------------------------------

ACCOUNTS = ("dispatcher1", "satpol1")
ADDRESSES = ("a", "b", "c")


class ThrottleMachine(RuleBasedStateMachine):
    """Any interleaving of reserve / fail / succeed / time passing, checked against a
    plain model of the failures each key may have: never more admitted than the limit."""

    def __init__(self) -> None:
        super().__init__()
        self.t = LoginThrottle(max_failures=3, window=10, address_max_failures=5,
                               delay_base=0.5, delay_max=2.0, sweep_every=7)
        self.now = 0.0
        self.open: list[Attempt] = []
        # The model: failure times per key since the key's last clear, and open attempts.
        self.failures: dict[str, list[float]] = defaultdict(list)

    def charged(self, key: str) -> int:
        recent = [f for f in self.failures[key] if f > self.now - 10]
        in_flight = sum(1 for a in self.open if key in self.keys_of(a.account, a.address))
        return len(recent) + in_flight

    @staticmethod
    def keys_of(account: str, address: str) -> tuple[str, str, str]:
        return (f"pair:{account}/{address}", f"addr:{address}", f"user:{account}")

    @rule(account=st.sampled_from(ACCOUNTS), address=st.sampled_from(ADDRESSES))
    def reserve(self, account: str, address: str) -> None:
        pair, addr, _user = self.keys_of(account, address)
        decision = self.t.reserve(account, address, self.now)
        if isinstance(decision, Admitted):
            assert 0 <= decision.delay <= 2.0
            self.open.append(decision.attempt)
        else:
            assert decision.retry_after >= 1
            full = self.charged(pair) >= 3 or self.charged(addr) >= 5
            assert full, "refused below every limit"

    @precondition(lambda self: self.open)
    @rule(index=st.integers(0, 100), right=st.booleans())
    def settle(self, index: int, right: bool) -> None:
        attempt = self.open.pop(index % len(self.open))
        pair, addr, user = self.keys_of(attempt.account, attempt.address)
        if right:
            self.t.succeeded(attempt, self.now)
            self.failures[pair].clear()
            self.failures[user].clear()
        else:
            self.t.failed(attempt, self.now)
            for key in (pair, addr, user):
                self.failures[key].append(self.now)

    @rule(seconds=st.sampled_from([0.1, 1.0, 3.0, 11.0]))
    def wait(self, seconds: float) -> None:
        self.now += seconds

    @invariant()
    def never_more_than_the_limit_per_key(self) -> None:
        for account in ACCOUNTS:
            for address in ADDRESSES:
                pair, addr, _user = self.keys_of(account, address)
                assert self.charged(pair) <= 3
                assert self.charged(addr) <= 5


TestThrottleMachine = ThrottleMachine.TestCase
TestThrottleMachine.settings = settings(max_examples=200, stateful_step_count=40,
                                        deadline=None)
