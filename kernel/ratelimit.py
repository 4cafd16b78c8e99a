"""Failed-login throttling, as a pure core (time is an argument).

Rule 1: a key (an account name, or a client address) that failed ``max_failures``
times within ``window`` seconds is blocked until the oldest of those failures leaves
the window. Rule 2: a success clears the account's failures, not the address's, so a
guesser cannot reset their address budget by logging into their own account.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class FailureLimiter:
    max_failures: int
    window: float
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until ``key`` may try again; 0 when it may try now."""
        failures = self._recent(key, now)
        if len(failures) < self.max_failures:
            return 0.0
        return failures[0] + self.window - now

    def record_failure(self, key: str, now: float) -> None:
        self._recent(key, now)
        self._failures.setdefault(key, deque()).append(now)

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        """The failures of ``key`` still inside the window; forgets the key when none are."""
        failures = self._failures.get(key)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            # Keep memory bounded by the keys that are actually failing.
            del self._failures[key]
        return failures
