"""The service's frame: one transaction per command, and what happens after the commit.

Rules:

1. A command runs in :meth:`ServiceBase.run`: it loads rows, asks a pure core, writes the
   new rows *and* their audit events, all in one transaction. Anything it raises rolls the
   whole transaction back, so a refused request writes nothing.
2. Side effects wait for the commit: the command fills an :class:`Outbox` (bus events,
   console messages, work such as "recommend the next unit") that is delivered only once
   the transaction committed. A rolled-back command announces nothing.
3. A command that finds a row changed under it (the ORM's version check, or a unit no longer
   in the status the core saw) is retried from the start on fresh rows, up to
   ``DispatchConfig.retries`` times; then it answers 409 ``conflict``.
4. Every change writes one audit row with the entity's full state before and after
   (:func:`dispatch.store.records.snapshot`), stamped with the command's ``now``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from dispatch.domain import Label
from dispatch.lifecycle import DEFAULT_TIMERS, TimerPolicy
from dispatch.locality import DEFAULT_MAX_DISTANCE_M
from dispatch.osrm import OsrmTravelTimes
from dispatch.queue import DEFAULT_QUEUE, QueuePolicy
from dispatch.recommend import DEFAULT_POLICY, RankPolicy
from dispatch.service.actor import Actor
from dispatch.service.errors import Conflict, InvalidInput, NotFound
from dispatch.service.present import (
    assignment_view,
    incident_view,
    unit_view,
)
from dispatch.service.stream import DISPATCH, Audience, StreamHub
from dispatch.service.validation import DEFAULT_MARGIN_DEG, ServiceArea
from dispatch.service.views import AssignmentView, IncidentView, Place, UnitView
from dispatch.store import repo
from dispatch.store.models import AssignmentRow, HospitalRow, IncidentRow, UnitRow
from dispatch.store.records import snapshot
from dispatch.travel import STRAIGHT_LINE, LatLon, TravelTimeModel
from kernel.db import transaction

log = logging.getLogger("dispatch.service")

T = TypeVar("T")
Clock = Callable[[], datetime]
Publish = Callable[[object], None]
AfterCommit = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class DispatchConfig:
    area_margin_deg: float = DEFAULT_MARGIN_DEG
    timers: TimerPolicy = DEFAULT_TIMERS
    queue: QueuePolicy = DEFAULT_QUEUE
    rank: RankPolicy = DEFAULT_POLICY
    recommend_limit: int = 5
    retries: int = 3
    mass_casualty_patients: int = 10  # an incident of this many patients or more is one
    kelurahan_mismatch_m: float = DEFAULT_MAX_DISTANCE_M  # dispatch.locality rule 1


@dataclass
class Outbox:
    """What a command announces once it has committed (rule 2)."""

    bus: list[object] = field(default_factory=list)
    stream: list[tuple[dict[str, Any], Audience]] = field(default_factory=list)
    after: list[AfterCommit] = field(default_factory=list)
    rearm: bool = False

    def message(self, kind: str, at: datetime, *, audience: Audience = DISPATCH,
                **data: Any) -> None:
        self.stream.append(({"type": kind, "at": at.isoformat(), **data}, audience))


class Stale(Exception):
    """A row changed between read and write; the command is retried (rule 3)."""


def utc_clock() -> datetime:
    return datetime.now(UTC)


class ServiceBase:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Clock = utc_clock,
        publish: Publish | None = None,
        hub: StreamHub | None = None,
        osrm: OsrmTravelTimes | None = None,
        model: TravelTimeModel = STRAIGHT_LINE,
        config: DispatchConfig | None = None,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.publish: Publish = publish or (lambda event: None)
        self.hub = hub or StreamHub()
        self.osrm = osrm
        self.model = model
        self.config = config or DispatchConfig()
        self.area: ServiceArea | None = None
        self._places: dict[int, tuple[Place, LatLon]] = {}
        self._fire_tasks: set[asyncio.Task[object]] = set()

    def now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the dispatch clock must return aware (UTC) datetimes")
        return now

    async def load_places(self) -> None:
        """Cache kelurahan names and centres, and derive the service area from them."""
        async with self.sessions() as s:
            rows = await repo.kelurahan_all(s)
        self._places = {
            k.id: (Place(kelurahan_code=k.code, kelurahan=k.name, kecamatan_code=c.code,
                         kecamatan=c.name), LatLon(k.lat, k.lon))
            for k, c in rows
        }
        points = [p for _, p in self._places.values()]
        self.area = ServiceArea.around(points, self.config.area_margin_deg) if points else None

    def place(self, kelurahan_id: int) -> Place:
        return self._places[kelurahan_id][0]

    def places(self) -> dict[int, tuple[Place, LatLon]]:
        return self._places

    def kecamatan_code(self, text: str) -> str:
        """The code of the kecamatan named by ``text`` (its code or its name, any case);
        422 ``unknown_kecamatan`` listing the known ones otherwise."""
        known = {p.kecamatan_code: p.kecamatan for p, _ in self._places.values()}
        wanted = text.strip().casefold()
        for code, name in known.items():
            if wanted in (code.casefold(), name.casefold()):
                return code
        raise InvalidInput("unknown_kecamatan", Label(
            f"Kecamatan tidak dikenal: {text!r}", f"Unknown kecamatan: {text!r}"),
            {"kecamatan": text, "known": [{"code": c, "name": n}
                                          for c, n in sorted(known.items())]})

    # --- rule 1-3: one transaction per command -----------------------------------------

    async def run(self, command: Callable[[AsyncSession, Outbox], Awaitable[T]]) -> T:
        for attempt in range(1, self.config.retries + 1):
            outbox = Outbox()
            try:
                async with transaction(self.sessions) as s:
                    result = await command(s, outbox)
            except (StaleDataError, Stale) as exc:
                log.info("stale write, retrying", extra={"attempt": attempt, "why": str(exc)})
                continue
            await self.deliver(outbox)
            return result
        raise Conflict("conflict", Label(
            "Data berubah bersamaan; muat ulang dan coba lagi",
            "The record changed concurrently; reload and try again"))

    async def deliver(self, outbox: Outbox) -> None:
        for event in outbox.bus:
            self.publish(event)
        for message, audience in outbox.stream:
            self.hub.publish(message, audience)
        for work in outbox.after:
            try:
                await work()
            except Exception:  # an announcement must never undo a committed command
                log.exception("after-commit work failed")
        if outbox.rearm:
            self.rearm_soon()

    def rearm_soon(self) -> None:
        """Re-arm the lifecycle timer (the timers mixin overrides this)."""

    # --- rule 4: audit -------------------------------------------------------------------

    def audit(
        self, s: AsyncSession, actor: Actor, now: datetime, entity: str, entity_id: int,
        action: str, before: dict[str, Any] | None, after: dict[str, Any] | None,
        incident_id: int | None = None,
    ) -> None:
        repo.add_audit(s, at=now, actor=actor.name, actor_user_id=actor.user_id,
                       entity_type=entity, entity_id=entity_id, action=action,
                       before=before, after=after, incident_id=incident_id)

    # --- loading with 404s, and views ------------------------------------------------------

    async def need_incident(self, s: AsyncSession, incident_id: int) -> IncidentRow:
        row = await repo.incident(s, incident_id)
        if row is None:
            raise NotFound("incident", incident_id)
        return row

    async def need_assignment(self, s: AsyncSession, assignment_id: int) -> AssignmentRow:
        row = await repo.assignment(s, assignment_id)
        if row is None:
            raise NotFound("assignment", assignment_id)
        return row

    async def need_unit(self, s: AsyncSession, unit_id: int) -> UnitRow:
        row = await repo.unit(s, unit_id)
        if row is None:
            raise NotFound("unit", unit_id)
        return row

    async def need_hospital(self, s: AsyncSession, hospital_id: int) -> HospitalRow:
        row = await s.get(HospitalRow, hospital_id)
        if row is None:
            raise NotFound("hospital", hospital_id)
        return row

    def incident_view(self, row: IncidentRow) -> IncidentView:
        return incident_view(row, self.place(row.kelurahan_id))

    async def assignment_view(self, s: AsyncSession, row: AssignmentRow) -> AssignmentView:
        incident = await s.get(IncidentRow, row.incident_id)
        unit = await s.get(UnitRow, row.unit_id)
        assert incident is not None and unit is not None  # foreign keys
        hospital = await s.get(HospitalRow, row.hospital_id) if row.hospital_id else None
        return assignment_view(row, incident.number, unit, hospital)

    async def unit_view(self, s: AsyncSession, row: UnitRow) -> UnitView:
        active = await repo.active_assignments(s, row.id)
        current = active[-1] if active else None
        number = None
        if current is not None:
            incident = await s.get(IncidentRow, current.incident_id)
            number = incident.number if incident else None
        home = self._places.get(row.home_kelurahan_id or -1)
        return unit_view(row, home[0].kelurahan if home else None, current, number)

    async def unit_snapshot(self, s: AsyncSession, unit_id: int) -> dict[str, Any]:
        row = await self.need_unit(s, unit_id)
        return snapshot(row)
