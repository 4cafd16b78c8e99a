"""Message flood control for one connection, as a pure token bucket (time passed in).

Rule 1: a client may send ``burst`` messages at once and ``rate`` per second after that;
a message over the limit is refused (the client gets ``rate_limited``), not queued.
Rule 2: a client that keeps sending while refused — ``abuse_limit`` refusals within
``abuse_window`` seconds — is abusive: the adapter closes it (close code 4008).
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field


class Verdict(enum.Enum):
    ACCEPT = "accept"
    REFUSE = "refuse"
    ABUSE = "abuse"


@dataclass
class FloodGuard:
    rate: float = 20.0
    burst: float = 50.0
    abuse_limit: int = 100
    abuse_window: float = 10.0
    _tokens: float | None = None
    _last: float = 0.0
    _refusals: deque[float] = field(default_factory=deque)

    def check(self, now: float) -> Verdict:
        if self._tokens is None:
            self._tokens, self._last = self.burst, now
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return Verdict.ACCEPT
        self._refusals.append(now)
        while self._refusals and self._refusals[0] <= now - self.abuse_window:
            self._refusals.popleft()
        return Verdict.ABUSE if len(self._refusals) >= self.abuse_limit else Verdict.REFUSE
