"""Hospitals and units as the console sees them; bed reports and acceptance.

A hospital user may see and change only their own hospital (their agency is the hospital's);
PSC staff may change any, because beds are often confirmed by phone. Every report stamps
``updated_at`` so the console and the ranking can show and weigh its age.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.domain import BedCategory, Label
from dispatch.service.actor import Actor
from dispatch.service.alerts import Alerts
from dispatch.service.base import Outbox
from dispatch.service.errors import Forbidden, InvalidInput, NotFound
from dispatch.service.present import hospital_view
from dispatch.service.stream import Audience
from dispatch.service.views import HospitalView, UnitView
from dispatch.store import repo
from dispatch.store.models import HospitalBedsRow, HospitalRow
from dispatch.store.records import json_value, snapshot
from kernel.identity import Agency


@dataclass(frozen=True, slots=True)
class BedInput:
    category: BedCategory
    total: int
    free: int


class Hospitals(Alerts):
    async def update_beds(
        self, hospital_id: int, beds: Sequence[BedInput], *, actor: Actor,
        now: datetime | None = None,
    ) -> HospitalView:
        """Replace the counts of the categories given; others keep their (older) report."""
        _check_beds(beds)
        at = now or self.now()

        async def command(s: AsyncSession, out: Outbox) -> HospitalView:
            hospital = await self.need_hospital(s, hospital_id)
            await self.check_hospital_actor(s, hospital, actor)
            (_, rows), = await repo.hospitals_with_beds(s, hospital_id)
            before = hospital_state(hospital, rows)
            by_category = {r.category: r for r in rows}
            for bed in beds:
                row = by_category.get(bed.category.name)
                if row is None:
                    row = HospitalBedsRow(hospital_id=hospital.id, category=bed.category.name)
                    s.add(row)
                    rows.append(row)
                row.total, row.free = bed.total, bed.free
                row.updated_at, row.updated_by_id = at, actor.user_id
            await s.flush()
            self.audit(s, actor, at, "hospital", hospital.id, "beds_updated", before,
                       hospital_state(hospital, rows))
            view = hospital_view(hospital, rows, at)
            out.message("beds.updated", at, audience=Audience.hospital(hospital.id, dispatch=True),
                        hospital=view.model_dump(mode="json"))
            return view

        return await self.run(command)

    async def set_accepting(
        self, hospital_id: int, accepting: bool, *, actor: Actor, now: datetime | None = None
    ) -> HospitalView:
        """Open or close the hospital to new patients (diversion); ranks DIVERTING when off."""
        at = now or self.now()

        async def command(s: AsyncSession, out: Outbox) -> HospitalView:
            hospital = await self.need_hospital(s, hospital_id)
            await self.check_hospital_actor(s, hospital, actor)
            (_, rows), = await repo.hospitals_with_beds(s, hospital_id)
            if hospital.accepting != accepting:
                before = hospital_state(hospital, rows)
                hospital.accepting = accepting
                hospital.accepting_changed_at = at
                await s.flush()
                self.audit(s, actor, at, "hospital", hospital.id, "accepting_changed", before,
                           hospital_state(hospital, rows))
                view = hospital_view(hospital, rows, at)
                out.message("hospital.accepting", at,
                            audience=Audience.hospital(hospital.id, dispatch=True),
                            hospital=view.model_dump(mode="json"))
            return hospital_view(hospital, rows, at)

        return await self.run(command)

    async def check_hospital_actor(
        self, s: AsyncSession, hospital: HospitalRow, actor: Actor
    ) -> None:
        if not await self.may_see(s, hospital, actor):
            raise Forbidden("not_your_hospital", Label(
                f"Akun rumah sakit hanya boleh mengubah datanya sendiri, bukan {hospital.name}",
                f"A hospital account may only change its own hospital, not {hospital.name}"))

    async def may_see(self, s: AsyncSession, hospital: HospitalRow,
                      actor: Actor | None) -> bool:
        """A hospital account sees and changes its own hospital only (its agency is the
        hospital's); dispatch roles see every hospital."""
        if actor is None or not actor.is_hospital:
            return True
        agency = await s.get(Agency, hospital.agency_id)
        return agency is not None and agency.code == actor.agency

    async def list_hospitals(self, now: datetime | None = None, *,
                             actor: Actor | None = None) -> list[HospitalView]:
        at = now or self.now()
        async with self.sessions() as s:
            return [hospital_view(h, beds, at) for h, beds in await repo.hospitals_with_beds(s)
                    if await self.may_see(s, h, actor)]

    async def hospital(self, hospital_id: int, now: datetime | None = None, *,
                       actor: Actor | None = None) -> HospitalView:
        """One hospital; another hospital's is not found for a hospital account (404, so
        that an account learns nothing of the others)."""
        at = now or self.now()
        async with self.sessions() as s:
            found = await repo.hospitals_with_beds(s, hospital_id)
            if not found or not await self.may_see(s, found[0][0], actor):
                raise NotFound("hospital", hospital_id)
        return hospital_view(found[0][0], found[0][1], at)

    async def list_units(self) -> list[UnitView]:
        async with self.sessions() as s:
            return [await self.unit_view(s, row) for row in await repo.units(s)]

    async def unit(self, unit_id: int) -> UnitView:
        async with self.sessions() as s:
            return await self.unit_view(s, await self.need_unit(s, unit_id))


def _check_beds(beds: Sequence[BedInput]) -> None:
    seen: set[BedCategory] = set()
    for bed in beds:
        if bed.category in seen:
            raise InvalidInput("duplicate_bed_category", Label(
                f"Kategori {bed.category.value} disebut dua kali",
                f"Category {bed.category.value} given twice"))
        seen.add(bed.category)
        if not 0 <= bed.free <= bed.total:
            raise InvalidInput("invalid_beds", Label(
                f"{bed.category.value}: kosong ({bed.free}) harus antara 0 dan total "
                f"({bed.total})",
                f"{bed.category.value}: free ({bed.free}) must be between 0 and total "
                f"({bed.total})"), {"category": bed.category.value})


def hospital_state(hospital: HospitalRow, beds: list[HospitalBedsRow]) -> dict[str, Any]:
    """The hospital row with its bed rows: what the audit trail keeps for a hospital."""
    state = snapshot(hospital)
    state["beds"] = {
        b.category: {"total": b.total, "free": b.free, "updated_at": json_value(b.updated_at),
                     "updated_by_id": b.updated_by_id}
        for b in sorted(beds, key=lambda b: b.category)
    }
    return state
