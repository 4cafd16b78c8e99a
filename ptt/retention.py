"""Retention of recorded transmissions: which ones to purge, given ``now`` (pure core).

Rules:

1. Each talkgroup keeps its transmissions for its own number of days (``retention_days`` of
   its row). A talkgroup that is not listed (a dynamic talkgroup since removed) keeps
   ``default_days``.
2. A transmission is expired when it started *more* than that many days before ``now``:
   ``started_at < now - days``. One exactly on the boundary is kept, so a purge run twice at
   the same ``now`` never takes more the second time.
3. ``0`` days means "keep forever" (a legal hold, an incident under investigation); a negative
   number of days is a configuration error (``UsageError``).
4. Rows and files go together: an expired transmission is purged with its file, and one that
   was never recorded (no file) is purged the same way, so the history and the audio always
   cover the same period.
5. Time is an argument; datetimes must be timezone-aware (naive ones raise ``UsageError``),
   so that a server's local time never shifts what is purged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Final

from ptt.errors import UsageError

__all__ = ["DEFAULT_DAYS", "Recorded", "RetentionPolicy"]

#: Days kept when nothing else is configured (also ``TalkgroupRow.retention_days``' default).
DEFAULT_DAYS: Final = 30


@dataclass(frozen=True, slots=True)
class Recorded:
    """What retention needs to know about one transmission."""

    id: int
    talkgroup: str
    started_at: datetime
    path: str | None = None


def _check_days(days: int, what: str) -> None:
    if days < 0:
        raise UsageError(f"{what}: retention days must be >= 0 (0 keeps forever), not {days}")


def _check_aware(when: datetime, what: str) -> None:
    if when.tzinfo is None or when.utcoffset() is None:
        raise UsageError(f"{what} must be timezone-aware")


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Days to keep per talkgroup code (rule 1), ``default_days`` for the others."""

    days: Mapping[str, int] = field(default_factory=dict)
    default_days: int = DEFAULT_DAYS

    def __post_init__(self) -> None:
        _check_days(self.default_days, "default")
        for talkgroup, days in self.days.items():
            _check_days(days, talkgroup)
        object.__setattr__(self, "days", MappingProxyType(dict(self.days)))

    def days_for(self, talkgroup: str) -> int:
        return self.days.get(talkgroup, self.default_days)

    def cutoff(self, talkgroup: str, now: datetime) -> datetime | None:
        """Transmissions of ``talkgroup`` started before this are expired; None: keep all."""
        _check_aware(now, "now")
        days = self.days_for(talkgroup)
        return None if days == 0 else now - timedelta(days=days)

    def is_expired(self, item: Recorded, now: datetime) -> bool:
        _check_aware(item.started_at, f"transmission {item.id} started_at")
        cutoff = self.cutoff(item.talkgroup, now)
        return cutoff is not None and item.started_at < cutoff

    def expired(self, items: Iterable[Recorded], now: datetime) -> list[Recorded]:
        """The items to purge (rows and files together, rule 4), in the order given."""
        _check_aware(now, "now")
        return [item for item in items if self.is_expired(item, now)]

    def candidates_before(self, now: datetime) -> datetime | None:
        """No transmission started at or after this can be expired under any talkgroup's
        rule: an adapter loads only rows older than it. None when everything is kept."""
        _check_aware(now, "now")
        finite = [d for d in (self.default_days, *self.days.values()) if d > 0]
        return now - timedelta(days=min(finite)) if finite else None
