"""Writes the radio's history to the database, off the signaling path.

The service calls these methods synchronously; each queues a small job that one writer
task runs in order, so a slow disk or database never delays a floor grant.

A job whose database connection fails (dropped, refused, SQLite busy: see
``kernel.db.connection_failed``) is run again on a fresh connection, after a short pause that
doubles up to :data:`RETRY_MAX_DELAY`, up to :data:`RETRY_ATTEMPTS` times; the jobs behind it
wait, so the order holds. So every job must be safe to run twice: it touches the store's own
bookkeeping (row ids) only after its transaction committed, in its ``done`` callback. Any
other failure (a bug, a constraint) is logged, counted in ``failures``, and the radio
carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kernel.db import connection_failed
from ptt.store.models import (
    EmergencyRow,
    PositionRow,
    TalkgroupMemberRow,
    TalkgroupRow,
    TextMessageRow,
    TransmissionRow,
)
from ptt.talkgroup import Talkgroup

log = logging.getLogger("ptt.store")

Job = Callable[[AsyncSession], Awaitable[None]]
#: Called on the event loop with a transmission's key and its row id once the row is
#: committed, or None if it could not be stored (the recorder names its file after the id).
TransmissionHook = Callable[[object, "int | None"], None]

RETRY_ATTEMPTS = 8
RETRY_FIRST_DELAY = 0.05
RETRY_MAX_DELAY = 5.0


def talkgroup_of(row: TalkgroupRow, members: frozenset[int] = frozenset()) -> Talkgroup:
    return Talkgroup(id=row.code, name=row.name, agencies=frozenset(row.agencies),
                     max_talk_time=float(row.max_talk_seconds),
                     queue_capacity=row.queue_capacity, dynamic=row.dynamic,
                     members=members if row.dynamic else frozenset(),
                     peril_agencies=frozenset(row.peril_agencies or ()))


async def load_talkgroups(
    sessions: async_sessionmaker[AsyncSession],
) -> list[tuple[Talkgroup, int]]:
    """Every talkgroup with its number (the row id, used on the media wire)."""
    async with sessions() as s:
        rows = list((await s.execute(select(TalkgroupRow).order_by(TalkgroupRow.id))).scalars())
        members: dict[int, set[int]] = {}
        for m in (await s.execute(select(TalkgroupMemberRow))).scalars():
            members.setdefault(m.talkgroup_id, set()).add(m.user_id)
    return [(talkgroup_of(r, frozenset(members.get(r.id, ()))), r.id) for r in rows]


class SqlRadioStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], backlog: int = 10_000):
        self.sessions = sessions
        self._jobs: asyncio.Queue[tuple[Job, Callable[[bool], None] | None]] = \
            asyncio.Queue(backlog)
        self._transmissions: dict[object, int] = {}
        self._open_emergencies: dict[str, int] = {}
        self.failures = 0
        self.retries = 0
        self._task: asyncio.Task[None] | None = None
        self.on_transmission_started: TransmissionHook | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="radio-store")

    async def flush(self) -> None:
        await self._jobs.join()

    async def stop(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _submit(self, job: Job, done: Callable[[bool], None] | None = None) -> None:
        """Queue ``job``; ``done(committed)`` runs after its transaction, if given."""
        try:
            self._jobs.put_nowait((job, done))
        except asyncio.QueueFull:
            self.failures += 1
            log.error("radio store backlog full; record dropped")
            if done is not None:
                done(False)

    async def _run(self) -> None:
        while True:
            job, done = await self._jobs.get()
            ok = False
            try:
                ok = await self._attempt(job)
            finally:
                if done is not None:
                    try:
                        done(ok)
                    except Exception:
                        log.exception("radio store callback failed")
                self._jobs.task_done()

    async def _attempt(self, job: Job) -> bool:
        delay = RETRY_FIRST_DELAY
        for attempt in range(1, RETRY_ATTEMPTS + 1):
            try:
                async with self.sessions() as session, session.begin():
                    await job(session)
                return True
            except Exception as exc:
                if not connection_failed(exc) or attempt == RETRY_ATTEMPTS:
                    self.failures += 1
                    log.exception("radio store write failed")
                    return False
                self.retries += 1
                log.warning("radio store write failed; trying again", extra={
                    "attempt": attempt, "reason": str(exc).splitlines()[0] if str(exc) else
                    type(exc).__name__})
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_DELAY)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- RadioStore ---------------------------------------------------------------------

    def transmission_started(self, key: object, talkgroup: str, talker: int, call_type: str,
                             at: datetime) -> None:
        inserted: list[int] = []

        async def job(s: AsyncSession) -> None:
            inserted.clear()
            incident = (await s.execute(select(TalkgroupRow.incident_ref).where(
                TalkgroupRow.code == talkgroup))).scalar_one_or_none()
            row = TransmissionRow(talkgroup=talkgroup, talker_id=talker, call_type=call_type,
                                  started_at=at, incident_ref=incident)
            s.add(row)
            await s.flush()
            inserted.append(row.id)

        def done(committed: bool) -> None:
            row_id = inserted[0] if committed and inserted else None
            if row_id is not None:
                self._transmissions[key] = row_id
            if self.on_transmission_started is not None:
                self.on_transmission_started(key, row_id)

        self._submit(job, done)

    def transmission_ended(self, key: object, reason: str, at: datetime,
                           heard: bool = True) -> None:
        """The transmission ``key`` ended with ``reason``. One during which no audio was
        heard (a grant never used) is not kept: its row is deleted."""
        async def job(s: AsyncSession) -> None:
            row_id = self._transmissions.get(key)
            if row_id is None:
                return
            row = await s.get(TransmissionRow, row_id)
            if row is None:
                return
            if not heard:
                await s.delete(row)
                return
            row.ended_at = at
            row.end_reason = reason
            row.duration_ms = int((at - row.started_at).total_seconds() * 1000)

        def done(committed: bool) -> None:
            self._transmissions.pop(key, None)

        self._submit(job, done)

    def transmission_recorded(self, row_id: int, path: str, size: int,
                              duration_ms: int) -> None:
        """The recording of transmission ``row_id`` is complete: ``path`` relative to the
        recordings directory, ``size`` in bytes, ``duration_ms`` of playable audio (which
        replaces the floor time: ``ended_at - started_at`` still gives that)."""
        async def job(s: AsyncSession) -> None:
            await s.execute(update(TransmissionRow).where(TransmissionRow.id == row_id)
                            .values(path=path, bytes=size, duration_ms=duration_ms))

        self._submit(job)

    def emergency(self, event: str, talkgroup: str, user: int, at: datetime,
                  lat: float | None = None, lon: float | None = None,
                  received_at: datetime | None = None) -> None:
        """``at`` is when it happened (for a raise, when the officer pressed the button);
        ``received_at`` when a raise the app kept offline reached the server."""
        opened: list[int] = []

        async def job(s: AsyncSession) -> None:
            opened.clear()
            open_id = self._open_emergencies.get(talkgroup)
            if event == "raised":
                if open_id is None:
                    row = EmergencyRow(talkgroup=talkgroup, raised_by_id=user, raised_at=at,
                                       received_at=received_at or at, lat=lat, lon=lon)
                    s.add(row)
                    await s.flush()
                    opened.append(row.id)
                return
            if open_id is None:
                return
            if event == "acknowledged":
                await s.execute(update(EmergencyRow).where(EmergencyRow.id == open_id)
                                .values(acknowledged_by_id=user, acknowledged_at=at))
            elif event == "cleared":
                await s.execute(update(EmergencyRow).where(EmergencyRow.id == open_id)
                                .values(cleared_by_id=user, cleared_at=at))

        def done(committed: bool) -> None:
            if committed and opened:
                self._open_emergencies[talkgroup] = opened[0]
            elif committed and event == "cleared":
                self._open_emergencies.pop(talkgroup, None)

        self._submit(job, done)

    def text(self, talkgroup: str, sender: int, body: str, at: datetime) -> None:
        async def job(s: AsyncSession) -> None:
            s.add(TextMessageRow(talkgroup=talkgroup, sender_id=sender, body=body, sent_at=at))

        self._submit(job)

    def position(self, user: int, lat: float, lon: float, accuracy: float | None,
                 at: datetime) -> None:
        async def job(s: AsyncSession) -> None:
            row = await s.get(PositionRow, user)
            if row is None:
                s.add(PositionRow(user_id=user, lat=lat, lon=lon, accuracy_m=accuracy, at=at))
            else:
                row.lat, row.lon, row.accuracy_m, row.at = lat, lon, accuracy, at

        self._submit(job)
