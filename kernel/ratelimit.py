"""Login throttling, as a pure core (time is an argument; no asyncio, no I/O).

A login is checked and charged in one step: :meth:`LoginThrottle.reserve` either refuses
it or admits it *and* counts it, as if it had already failed, until the adapter settles
it with :meth:`LoginThrottle.succeeded` or :meth:`LoginThrottle.failed`. Between the two
the adapter may await (the password hash runs off the event loop) without letting
concurrent guesses slip past a limit that was checked but not yet charged.

Rule 1: a pair (account, client address) that has ``max_failures`` failures and
attempts in flight within ``window`` seconds is refused until the oldest failure leaves
the window: the guesser is stopped where they guess from.
Rule 2: a client address is refused the same way at ``address_max_failures``, whatever
the accounts it tries (password spraying). It is larger than the pair's limit because
officers share carrier-grade NAT addresses.
Rule 3: an account is never locked. Once it has ``max_failures`` failures and attempts
in flight (from any address) in the window, each attempt at it is *slowed*: admitted
with a ``delay`` the adapter waits before verifying, ``delay_base`` seconds doubled per
extra failure, at most ``delay_max``, counted from the account's latest failure. Guesses
from elsewhere cost the real user at most ``delay_max`` seconds, never a refusal.
Rule 4: a success clears the failures of its account and of its pair, not of its
address, so a guesser cannot refill their address budget by logging into their own
account. Its in-flight charge is released everywhere.
Rule 5: memory is bounded by the keys that are failing: a key whose failures have left
the window and that has nothing in flight is forgotten.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field


class Scope(enum.Enum):
    """Which limit refused an attempt."""

    ACCOUNT_ADDRESS = "account_address"
    ADDRESS = "address"


@dataclass(frozen=True, slots=True)
class Attempt:
    """An admitted login, to settle exactly once."""

    account: str
    address: str
    serial: int


@dataclass(frozen=True, slots=True)
class Admitted:
    attempt: Attempt
    #: Seconds to wait before verifying (rule 3); 0 when the account is not under attack.
    delay: float


@dataclass(frozen=True, slots=True)
class Refused:
    scope: Scope
    #: Seconds until an attempt could be admitted (at least 1).
    retry_after: float


@dataclass(slots=True)
class _Key:
    failures: deque[float] = field(default_factory=deque)
    in_flight: int = 0

    def charged(self, now: float, window: float) -> int:
        while self.failures and self.failures[0] <= now - window:
            self.failures.popleft()
        return len(self.failures) + self.in_flight


class LoginThrottle:
    def __init__(self, *, max_failures: int, window: float, address_max_failures: int,
                 delay_base: float = 0.5, delay_max: float = 4.0,
                 sweep_every: int = 1024) -> None:
        if min(max_failures, address_max_failures, sweep_every) < 1 or window <= 0:
            raise ValueError("limits and the window must be positive")
        self.max_failures = max_failures
        self.window = window
        self.address_max_failures = address_max_failures
        self.delay_base = delay_base
        self.delay_max = delay_max
        self._keys: dict[str, _Key] = {}
        self._open: dict[int, tuple[str, ...]] = {}
        self._serial = 0
        self._sweep_every = sweep_every
        self._until_sweep = sweep_every

    def reserve(self, account: str, address: str, now: float) -> Admitted | Refused:
        """Admit (and charge) one attempt of ``account`` from ``address``, or refuse it."""
        self._until_sweep -= 1
        if self._until_sweep <= 0:
            self.sweep(now)
        pair, addr, acct = _keys(account, address)
        for key, limit, scope in ((pair, self.max_failures, Scope.ACCOUNT_ADDRESS),
                                  (addr, self.address_max_failures, Scope.ADDRESS)):
            state = self._keys.get(key)
            if state is not None and state.charged(now, self.window) >= limit:
                return Refused(scope, self._retry_after(state, limit, now))
        account_state = self._keys.get(acct)
        delay = self._delay(account_state, now) if account_state is not None else 0.0
        self._serial += 1
        attempt = Attempt(account, address, self._serial)
        keys = (pair, addr, acct)
        for key in keys:
            self._keys.setdefault(key, _Key()).in_flight += 1
        self._open[attempt.serial] = keys
        return Admitted(attempt, delay)

    def failed(self, attempt: Attempt, now: float) -> None:
        """The attempt's password was wrong (or the account unusable): charge it for good."""
        for key in self._settle(attempt):
            self._keys[key].failures.append(now)

    def succeeded(self, attempt: Attempt, now: float) -> None:
        """The attempt logged in: release it and clear its account's and pair's failures."""
        keys = self._settle(attempt)
        pair, _addr, acct = keys
        for key in (pair, acct):
            self._keys[key].failures.clear()
        self._forget_idle(keys, now)

    def sweep(self, now: float) -> None:
        """Forget every key with no failure in the window and nothing in flight (rule 5)."""
        self._until_sweep = self._sweep_every
        self._forget_idle(list(self._keys), now)

    @property
    def tracked_keys(self) -> int:
        return len(self._keys)

    def _settle(self, attempt: Attempt) -> tuple[str, ...]:
        keys = self._open.pop(attempt.serial, None)
        if keys is None:
            raise ValueError(f"attempt {attempt.serial} is not open (settled twice?)")
        for key in keys:
            self._keys[key].in_flight -= 1
        return keys

    def _forget_idle(self, keys: list[str] | tuple[str, ...], now: float) -> None:
        for key in keys:
            state = self._keys[key]
            if state.charged(now, self.window) == 0:
                del self._keys[key]

    def _retry_after(self, state: _Key, limit: int, now: float) -> float:
        if len(state.failures) >= limit:
            return max(1.0, state.failures[-limit] + self.window - now)
        # Attempts in flight fill the limit; they settle within a hash's time.
        return 1.0

    def _delay(self, state: _Key, now: float) -> float:
        charged = state.charged(now, self.window)
        if charged < self.max_failures:
            return 0.0
        full = min(self.delay_max, self.delay_base * 2.0 ** min(charged - self.max_failures, 32))
        since = now - state.failures[-1] if state.failures else 0.0
        return max(0.0, full - since)


def _keys(account: str, address: str) -> tuple[str, str, str]:
    return (f"pair:{account}\x00{address}", f"addr:{address}", f"user:{account}")
