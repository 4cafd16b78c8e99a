"""The lifecycle core's timers on the event loop: one ``loop.call_at``, never a sleep loop.

After every command that touches an assignment or an incident (and at start) the service asks
the cores for the earliest deadline of all active assignments
(:func:`dispatch.lifecycle.next_deadline`) and of the calls waiting for a unit
(:func:`dispatch.queue.next_deadline`) and arms a single timer for it. When it fires,
:meth:`Timers.run_timers` applies
:func:`dispatch.lifecycle.handle_timer` to each active assignment *at the given time*: an
unacknowledged dispatch raises an escalation (with the next best units on the console), a
crew too long on scene a reminder, and a call waiting past its triage's limit an
``incident.overdue`` alarm on every console (stored in ``overdue_at``, so raised once).
Tests call ``run_timers(now=...)`` with a stepped time.

On several nodes every node arms the same timer (each re-arms on the others' stream
messages too), so that a dead node's deadlines still fire; each due assignment and each
overdue call fires on one node only. A run locks the due assignments and calls with
``FOR UPDATE SKIP LOCKED`` and applies the cores to them as read under the lock: another
node running the same timer skips the rows this one holds, and when it gets them later the
core finds the escalation, reminder or alarm already stamped and raises nothing. A row
skipped because someone else held it is looked at again :data:`SKIPPED_RETRY` later, in
case its holder was a command that did not commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import lifecycle, queue
from dispatch.domain import Triage
from dispatch.events import DispatchEvent, DispatchOverdue, EscalationRaised, describe
from dispatch.service.actor import Actor
from dispatch.service.base import Outbox
from dispatch.service.hospitals import Hospitals
from dispatch.service.views import Text
from dispatch.store import repo
from dispatch.store.models import IncidentRow
from dispatch.store.records import assignment_record, snapshot

log = logging.getLogger("dispatch.timers")

SKIPPED_RETRY = timedelta(seconds=1)


class Timers(Hospitals):
    next_deadline: datetime | None = None
    _handle: asyncio.TimerHandle | None = None
    _rearm_task: asyncio.Task[None] | None = None
    _dirty = False
    _closed = False
    _not_before: datetime | None = None  # held rows: wait a little before trying again

    async def start(self) -> None:
        await self.load_places()
        await self.rearm()

    async def close(self) -> None:
        self._closed = True
        if self._handle is not None:
            self._handle.cancel()
        tasks = [t for t in (self._rearm_task, *self._fire_tasks) if t]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def run_timers(self, now: datetime | None = None) -> list[DispatchEvent]:
        """Fire whatever is due at ``now`` (default: the clock); returns the core's events."""
        at = now or self.now()

        async def command(s: AsyncSession, out: Outbox) -> list[DispatchEvent]:
            fired: list[DispatchEvent] = []
            due = [row.id for row in await repo.active_assignments(s)
                   if (d := lifecycle.next_deadline([assignment_record(row)],
                                                    self.config.timers)) and d <= at]
            locked = await repo.lock_assignments(s, due) if due else []
            held = len(locked) < len(due)
            for row in locked:
                outcome = lifecycle.handle_timer(assignment_record(row), at, self.config.timers)
                if not outcome.events:
                    continue
                escalated = any(isinstance(e, EscalationRaised) for e in outcome.events)
                await self.write_outcome(s, out, row, outcome, Actor.system(), at,
                                         "escalated" if escalated else "reminded")
                fired.extend(outcome.events)
            overdue, calls_held = await self.raise_overdue(s, out, at)
            fired.extend(overdue)
            self._not_before = at + SKIPPED_RETRY if held or calls_held else None
            out.rearm = True
            return fired

        return await self.run(command)

    async def raise_overdue(
        self, s: AsyncSession, out: Outbox, at: datetime
    ) -> tuple[list[DispatchOverdue], bool]:
        """Alarm for every call waiting past its limit (:mod:`dispatch.queue`, rule 3), and
        whether some due call was held by another transaction (to be looked at again).

        The due calls are locked as the due assignments are and the core applied to them
        as read under the lock, so that two nodes never both alarm for one call."""
        due = queue.due([waiting(r) for r in await repo.waiting_incidents(s)], at,
                        self.config.queue)
        ids = [event.incident_id for event in due]
        locked = await repo.lock_incidents(s, ids) if ids else []
        rows = {r.id: r for r in locked if r.status == "NEW"}
        fired = queue.due([waiting(r) for r in rows.values()], at, self.config.queue)
        for event in fired:
            row = rows[event.incident_id]
            before = snapshot(row)
            row.overdue_at = at
            await s.flush()
            self.audit(s, Actor.system(), at, "incident", row.id, "overdue", before,
                       snapshot(row), row.id)
            out.message("incident.overdue", at, incident=self.incident_view(row).model_dump(
                mode="json"), triage=event.triage.value, since=event.since.isoformat(),
                limit_s=event.limit_s, label=Text.of(describe(event)).model_dump())
        out.bus.extend(fired)
        return fired, len(locked) < len(ids)

    async def rearm(self) -> datetime | None:
        """Arm the one timer at the earliest deadline of the active assignments and of the
        calls waiting for a unit."""
        async with self.sessions() as s:
            rows = await repo.active_assignments(s)
            calls = await repo.waiting_incidents(s)
        deadlines = [d for d in (
            lifecycle.next_deadline([assignment_record(r) for r in rows], self.config.timers),
            queue.next_deadline([waiting(r) for r in calls], self.config.queue),
        ) if d is not None]
        deadline = min(deadlines, default=None)
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.next_deadline = deadline
        if deadline is not None and self._not_before is not None:
            deadline = max(deadline, self._not_before)
        if deadline is not None and not self._closed:
            loop = asyncio.get_running_loop()
            delay = max(0.0, (deadline - self.now()).total_seconds())
            self._handle = loop.call_at(loop.time() + delay, self._fire)
        return deadline

    def rearm_soon(self) -> None:
        """Coalesce re-arming: one task at a time, re-run while commands keep arriving."""
        self._dirty = True
        if self._closed or (self._rearm_task is not None and not self._rearm_task.done()):
            return
        self._rearm_task = asyncio.create_task(self._rearm_loop())

    async def _rearm_loop(self) -> None:
        while self._dirty and not self._closed:
            self._dirty = False
            try:
                await self.rearm()
            except Exception:
                log.exception("could not re-arm the dispatch timer")

    def _fire(self) -> None:
        self._handle = None
        task: asyncio.Task[object] = asyncio.create_task(self._run_due())
        self._fire_tasks.add(task)
        task.add_done_callback(self._fire_tasks.discard)

    async def _run_due(self) -> object:
        try:
            return await self.run_timers()
        except Exception:
            log.exception("dispatch timers failed")
            self.rearm_soon()
            return None


def waiting(row: IncidentRow) -> queue.Waiting:
    return queue.Waiting(row.id, row.number, Triage[row.triage], row.created_at, row.overdue_at)
