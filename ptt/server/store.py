"""Writes the radio's history to the database, off the signaling path.

The service calls these methods synchronously; each queues a small job that one writer
task runs in order, so a slow disk or database never delays a floor grant. A failed write
is logged (and counted) and the radio carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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


def talkgroup_of(row: TalkgroupRow, members: frozenset[int] = frozenset()) -> Talkgroup:
    return Talkgroup(id=row.code, name=row.name, agencies=frozenset(row.agencies),
                     max_talk_time=float(row.max_talk_seconds),
                     queue_capacity=row.queue_capacity, dynamic=row.dynamic,
                     members=members if row.dynamic else frozenset())


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
                async with self.sessions() as session, session.begin():
                    await job(session)
                ok = True
            except Exception:
                self.failures += 1
                log.exception("radio store write failed")
            finally:
                if done is not None:
                    try:
                        done(ok)
                    except Exception:
                        log.exception("radio store callback failed")
                self._jobs.task_done()

    # -- RadioStore ---------------------------------------------------------------------

    def transmission_started(self, key: object, talkgroup: str, talker: int, call_type: str,
                             at: datetime) -> None:
        async def job(s: AsyncSession) -> None:
            incident = (await s.execute(select(TalkgroupRow.incident_ref).where(
                TalkgroupRow.code == talkgroup))).scalar_one_or_none()
            row = TransmissionRow(talkgroup=talkgroup, talker_id=talker, call_type=call_type,
                                  started_at=at, incident_ref=incident)
            s.add(row)
            await s.flush()
            self._transmissions[key] = row.id

        def done(committed: bool) -> None:
            row_id = self._transmissions.get(key) if committed else None
            if not committed:
                self._transmissions.pop(key, None)
            if self.on_transmission_started is not None:
                self.on_transmission_started(key, row_id)

        self._submit(job, done)

    def transmission_ended(self, key: object, reason: str, at: datetime) -> None:
        async def job(s: AsyncSession) -> None:
            row_id = self._transmissions.pop(key, None)
            if row_id is None:
                return
            row = await s.get(TransmissionRow, row_id)
            if row is not None:
                row.ended_at = at
                row.end_reason = reason
                row.duration_ms = int((at - row.started_at).total_seconds() * 1000)

        self._submit(job)

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
                  lat: float | None = None, lon: float | None = None) -> None:
        async def job(s: AsyncSession) -> None:
            open_id = self._open_emergencies.get(talkgroup)
            if event == "raised":
                if open_id is None:
                    row = EmergencyRow(talkgroup=talkgroup, raised_by_id=user, raised_at=at,
                                       lat=lat, lon=lon)
                    s.add(row)
                    await s.flush()
                    self._open_emergencies[talkgroup] = row.id
                return
            if open_id is None:
                return
            if event == "acknowledged":
                await s.execute(update(EmergencyRow).where(EmergencyRow.id == open_id)
                                .values(acknowledged_by_id=user, acknowledged_at=at))
            elif event == "cleared":
                await s.execute(update(EmergencyRow).where(EmergencyRow.id == open_id)
                                .values(cleared_by_id=user, cleared_at=at))
                del self._open_emergencies[talkgroup]

        self._submit(job)

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
