"""Recommendations: load candidates, fetch routed times when OSRM is configured, rank.

The ranking and every reason are :mod:`dispatch.recommend`'s; this layer only feeds it.
Routed times are fetched for the eligible units only (the same filter the ranking applies),
so an OSRM table never carries an ambulance that cannot be sent anyway.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import casualty
from dispatch.clinical import AgeGroup, patient_group
from dispatch.domain import AssignmentStatus, BedCategory, Complaint, Label, Triage
from dispatch.recommend import (
    FreeSoon,
    HospitalCandidate,
    Origin,
    RankedHospital,
    RankedUnit,
    UnitCandidate,
    believed_position,
    eligible_units,
    free_soonest,
    rank_hospitals,
    rank_units,
    reported_origin,
)
from dispatch.service.actor import Actor
from dispatch.service.base import ServiceBase
from dispatch.service.present import hospital_ref, unit_ref
from dispatch.service.views import (
    FreeSoonView,
    HospitalRecommendation,
    Recommendations,
    Text,
    TravelView,
    UnitRecommendation,
)
from dispatch.store import repo
from dispatch.store.models import AssignmentRow, HospitalBedsRow, HospitalRow, IncidentRow, UnitRow
from dispatch.store.records import carried, hospital_candidate, snapshot, unit_candidate
from dispatch.travel import LatLon

log = logging.getLogger("dispatch.service")
FREE_SOON = 3
NO_UNIT = Label("Tidak ada ambulans yang sesuai tersedia. Yang paling cepat bebas:",
                "No suitable ambulance is available. Free soonest:")


class Recommending(ServiceBase):
    async def recommend(
        self, incident_id: int, *, limit: int | None = None, now: datetime | None = None,
        exclude: Collection[int] = (),
    ) -> Recommendations:
        """Ranked units and hospitals for the incident, each with its reason."""
        now = now or self.now()
        limit = limit or self.config.recommend_limit
        async with self.sessions() as s:
            incident = await self.need_incident(s, incident_id)
            units = [u for u in await repo.units(s) if u.id not in exclude]
            hospitals = await repo.hospitals_with_beds(s)
            bound = await repo.bound_for_hospitals(s, now - casualty.DELIVERED_HOLD)
        scene = LatLon(incident.lat, incident.lon)
        triage, complaint = Triage[incident.triage], Complaint[incident.complaint]
        age = patient_group(incident.patient_age, incident.patient_age_unit, complaint)
        ranked_units, unit_rows = await self.rank_units(
            units, scene, triage, now, limit, cardiac_arrest=bool(incident.cardiac_arrest))
        free_soon = [] if ranked_units else self.free_soonest(units, triage, now)
        hospital_rows = {h.id: h for h, _ in hospitals}
        held = reserved_beds(hospitals, bound, now)
        candidates = [hospital_candidate(h, beds, held.get(h.id)) for h, beds in hospitals]
        ranked_hospitals = await self.rank_hospitals(
            candidates, scene, complaint, triage, now, limit, age)
        return Recommendations(
            incident_id=incident_id, at=now,
            units=[_unit_entry(r, unit_rows[r.unit.id]) for r in ranked_units],
            hospitals=[_hospital_entry(r, hospital_rows[r.hospital.id])
                       for r in ranked_hospitals],
            no_unit_available=not ranked_units,
            notice=None if ranked_units else Text.of(NO_UNIT),
            free_soon=[FreeSoonView(unit=unit_ref(unit_rows[f.unit.id]), status=f.unit.status,
                                    free_in_s=round(f.free_in_s, 1), reason=Text.of(f.reason))
                       for f in free_soon],
        )

    async def place_unit(
        self, s: AsyncSession, row: AssignmentRow, status: AssignmentStatus,
        actor: Actor, now: datetime,
    ) -> None:
        """Rule 8 of :mod:`dispatch.recommend`: the crew's status says where the unit is
        (the scene, the destination hospital), so it is ranked from there once free."""
        origin = reported_origin(status)
        if origin is Origin.HOSPITAL and row.hospital_id is not None:
            hospital = await self.need_hospital(s, row.hospital_id)
            where = LatLon(hospital.lat, hospital.lon)
        elif origin is Origin.SCENE:
            incident = await self.need_incident(s, row.incident_id)
            where = LatLon(incident.lat, incident.lon)
        else:
            return  # no place said, or a hospital nobody named: keep the last one
        unit = await self.need_unit(s, row.unit_id)
        before = snapshot(unit)
        unit.last_lat, unit.last_lon = where
        unit.last_position_at, unit.last_position_source = now, origin.value
        await s.flush()
        self.audit(s, actor, now, "unit", unit.id, "positioned", before, snapshot(unit),
                   row.incident_id)

    def free_soonest(self, units: list[UnitRow], triage: Triage, now: datetime
                     ) -> list[FreeSoon]:
        busy = []
        for row in units:
            home = self.places().get(row.home_kelurahan_id or -1)
            try:
                busy.append((unit_candidate(row, home[1] if home else None),
                             row.status_changed_at or now))
            except ValueError:
                continue  # no position: already logged by rank_units
        return free_soonest(busy, triage, now=now, policy=self.config.rank, limit=FREE_SOON)

    async def rank_units(
        self, units: list[UnitRow], scene: LatLon, triage: Triage, now: datetime, limit: int,
        *, cardiac_arrest: bool = False,
    ) -> tuple[list[RankedUnit], dict[int, UnitRow]]:
        candidates: list[UnitCandidate] = []
        for row in units:
            home = self.places().get(row.home_kelurahan_id or -1)
            try:
                candidates.append(unit_candidate(row, home[1] if home else None))
            except ValueError as exc:  # a unit nobody can place cannot be ranked
                log.warning("unit skipped: %s", exc)
        times = None
        if self.osrm is not None:
            eligible = eligible_units(candidates, triage, self.config.rank)
            times = await self.osrm.to_point(
                {u.id: believed_position(u, now, self.model)[0] for u in eligible}, scene)
        ranked = rank_units(candidates, scene, triage, now=now, times=times, model=self.model,
                            policy=self.config.rank, limit=limit, cardiac_arrest=cardiac_arrest)
        return ranked, {u.id: u for u in units}

    async def rank_hospitals(
        self, candidates: list[HospitalCandidate], scene: LatLon, complaint: Complaint,
        triage: Triage, now: datetime, limit: int, age: AgeGroup | None = None,
    ) -> list[RankedHospital]:
        times = None
        if self.osrm is not None and candidates:
            times = await self.osrm.from_point(scene, {h.id: h.position for h in candidates})
        return rank_hospitals(candidates, scene, complaint, triage, now=now, times=times,
                              model=self.model, policy=self.config.rank, limit=limit,
                              age=age)


def reserved_beds(
    hospitals: list[tuple[HospitalRow, list[HospitalBedsRow]]],
    bound: list[tuple[AssignmentRow, IncidentRow]], now: datetime,
) -> dict[int, Counter[BedCategory]]:
    """Beds held for patients on their way (:func:`dispatch.casualty.reservations`)."""
    reported = {h.id: {BedCategory[b.category]: b.updated_at for b in beds}
                for h, beds in hospitals}
    return casualty.reservations(
        (casualty.Bound(carried(a), complaint := Complaint[i.complaint], Triage[i.triage],
                        patient_group(i.patient_age, i.patient_age_unit, complaint))
         for a, i in bound),
        reported, now)


def _travel(seconds: float, method: Text) -> TravelView:
    return TravelView(seconds=round(seconds, 1), method=method)


def _unit_entry(entry: RankedUnit, row: UnitRow) -> UnitRecommendation:
    return UnitRecommendation(
        rank=entry.rank, unit=unit_ref(row), fit=entry.fit.value,
        within_window=entry.within_window,
        travel=_travel(entry.travel.seconds, Text.of(entry.travel.method)),
        reason=Text.of(entry.reason), origin=entry.origin.value,
        note=entry.note.value if entry.note is not None else None,
    )


def _hospital_entry(entry: RankedHospital, row: HospitalRow) -> HospitalRecommendation:
    return HospitalRecommendation(
        rank=entry.rank, hospital=hospital_ref(row), missing=list(entry.missing),
        bed_band=entry.band.name.lower(), believed_free=round(entry.believed_free, 2),
        travel=_travel(entry.travel.seconds, Text.of(entry.travel.method)),
        reason=Text.of(entry.reason),
    )
