"""The dispatch queue: which waiting call comes first, and when a wait becomes an alarm.

Rules:

1. The queue is ordered by triage (MERAH, KUNING, HIJAU, then the others: HITAM), then by
   waiting time (longest first), then by id (:func:`queue_key`). The console sorts its list
   with the same rule (``webui/js/queue.js``); this is the reference.
2. An incident waits from the moment it was recorded while it has no unit (status NEW).
   Each triage colour has a limit (:class:`QueuePolicy`, defaults MERAH 60 s, KUNING 3 min,
   HIJAU 10 min; a colour without a limit, HITAM, never alarms).
3. Past its limit a waiting incident raises :class:`~dispatch.events.DispatchOverdue` once:
   the adapter stores when (``overdue_at``) and passes it back, so the alarm is never raised
   twice for one incident, on one server or after a restart. Raising the triage of a waiting
   call (KUNING to MERAH) shortens its limit at once; the wait still counts from the call.
4. Time is an argument. :func:`next_deadline` is when the adapter's one timer must fire,
   :func:`due` what fires at ``now``; an early call fires nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dispatch.domain import Triage
from dispatch.events import DispatchOverdue

ORDER: tuple[Triage, ...] = (Triage.MERAH, Triage.KUNING, Triage.HIJAU)
_RANK = {triage: i for i, triage in enumerate(ORDER)}


@dataclass(frozen=True, slots=True)
class QueuePolicy:
    limits: Mapping[Triage, timedelta] = field(default_factory=lambda: {
        Triage.MERAH: timedelta(seconds=60), Triage.KUNING: timedelta(minutes=3),
        Triage.HIJAU: timedelta(minutes=10),
    })


DEFAULT_QUEUE = QueuePolicy()


@dataclass(frozen=True, slots=True)
class Waiting:
    """An incident without a unit, as the queue sees it."""

    incident_id: int
    number: str
    triage: Triage
    since: datetime
    overdue_at: datetime | None = None


def queue_key(triage: Triage, since: datetime, incident_id: int) -> tuple[int, datetime, int]:
    """Sort key of rule 1 (ascending: the first is the one to dispatch now)."""
    return _RANK.get(triage, len(ORDER)), since, incident_id


def ordered(waiting: Iterable[Waiting]) -> list[Waiting]:
    return sorted(waiting, key=lambda w: queue_key(w.triage, w.since, w.incident_id))


def deadline(waiting: Waiting, policy: QueuePolicy = DEFAULT_QUEUE) -> datetime | None:
    """When this incident's wait becomes an alarm; None once alarmed or without a limit."""
    limit = policy.limits.get(waiting.triage)
    if limit is None or waiting.overdue_at is not None:
        return None
    return waiting.since + limit


def next_deadline(
    waiting: Iterable[Waiting], policy: QueuePolicy = DEFAULT_QUEUE
) -> datetime | None:
    deadlines = [d for w in waiting if (d := deadline(w, policy)) is not None]
    return min(deadlines, default=None)


def due(
    waiting: Iterable[Waiting], now: datetime, policy: QueuePolicy = DEFAULT_QUEUE
) -> list[DispatchOverdue]:
    """The alarms due at ``now`` (rule 3), in queue order."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime (UTC)")
    fired = []
    for w in ordered(waiting):
        at = deadline(w, policy)
        if at is not None and at <= now:
            limit = policy.limits[w.triage]
            fired.append(DispatchOverdue(w.incident_id, w.number, w.triage, w.since,
                                         int(limit.total_seconds()), now))
    return fired
