"""Incidents: record a call, correct it, cancel it, close it, reopen it.

Closing follows :mod:`dispatch.casualty` (rule 3): an incident closes by itself when its last
unit is back and no patient is left without one; an explicit close is refused (409) while
patients are unassigned or units still work it, naming what remains. A closed or cancelled
incident can be reopened by the dispatch room (more patients found, a call that was real):
it waits for a unit again; no crew is on it any more, so none is told.

Every input is checked before the first write (unknown kelurahan, phone that is not a
valid Indonesian/E.164 number, coordinates outside the service area), so a refused request
leaves no trace, not even a consumed incident number. Without coordinates the scene is the
kelurahan's centre, flagged ``location_approximate``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import casualty
from dispatch.clinical import contradiction, patient_group
from dispatch.domain import Complaint, Label, Source, Triage, incident_number
from dispatch.lifecycle import Trigger
from dispatch.locality import mismatch
from dispatch.service import briefs
from dispatch.service.actor import Actor
from dispatch.service.assignments import CLOSED, Assignments
from dispatch.service.base import Outbox
from dispatch.service.errors import Conflict, InvalidInput
from dispatch.service.validation import coordinates, e164
from dispatch.service.views import IncidentView
from dispatch.sms_text import WIB
from dispatch.store import repo
from dispatch.store.models import IncidentRow, KelurahanRow
from dispatch.store.records import carried, snapshot
from dispatch.travel import LatLon

EDITABLE = frozenset({
    "source", "caller_name", "caller_phone", "address", "landmark", "kelurahan", "lat", "lon",
    "complaint", "triage", "patients", "notes", "determinant", "patient_age",
    "patient_age_unit", "cardiac_arrest",
})


@dataclass(frozen=True, slots=True)
class IncidentInput:
    source: Source
    kelurahan: str
    complaint: Complaint
    triage: Triage
    caller_name: str = ""
    caller_phone: str | None = None
    address: str = ""
    landmark: str = ""
    lat: float | None = None
    lon: float | None = None
    location_approximate: bool = False
    patients: int = 1
    notes: str = ""
    determinant: str | None = None
    patient_age: int | None = None
    patient_age_unit: str = "years"
    cardiac_arrest: bool = False


class Incidents(Assignments):
    async def create_incident(
        self, data: IncidentInput, *, actor: Actor, now: datetime | None = None
    ) -> IncidentView:
        at = now or self.now()

        async def command(s: AsyncSession, out: Outbox) -> IncidentView:
            row = await self.insert_incident(s, out, data, actor, at)
            return self.incident_view(row)

        return await self.run(command)

    async def update_incident(
        self, incident_id: int, changes: Mapping[str, Any], *, actor: Actor,
        expected_version: int | None = None, now: datetime | None = None,
    ) -> IncidentView:
        """Apply ``changes`` (a subset of :data:`EDITABLE`); 409 if ``expected_version``
        is given and the incident has moved on (someone else edited it)."""
        unknown = set(changes) - EDITABLE
        if unknown:
            raise InvalidInput("not_editable", Label(
                f"Tidak bisa diubah: {', '.join(sorted(unknown))}",
                f"Cannot be changed: {', '.join(sorted(unknown))}"))
        at = now or self.now()

        async def command(s: AsyncSession, out: Outbox) -> IncidentView:
            row = await self.need_incident(s, incident_id)
            if expected_version is not None and row.version != expected_version:
                raise Conflict("version_conflict", Label(
                    "Kejadian sudah diubah orang lain; muat ulang",
                    "The incident was changed by someone else; reload it"),
                    {"incident": self.incident_view(row).model_dump(mode="json")})
            if row.status == "CANCELLED":
                self.check_open(row)
            values = await self.validated_changes(s, row, changes)
            values = {k: v for k, v in values.items() if getattr(row, k) != v}
            if not values:
                return self.incident_view(row)
            before = snapshot(row)
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = at
            await s.flush()
            self.audit(s, actor, at, "incident", row.id, "updated", before, snapshot(row), row.id)
            view = self.incident_view(row)
            out.message("incident.updated", at, incident=view.model_dump(mode="json"),
                        changed=sorted(values))
            out.rearm = "triage" in values  # a new colour, a new limit (dispatch.queue)
            if "patients" in values and row.status != "CANCELLED":  # may close or reopen it
                await self.refresh_incident(s, out, row, actor, at)
                view = self.incident_view(row)
            return view

        return await self.run(command)

    async def cancel_incident(
        self, incident_id: int, *, actor: Actor, now: datetime | None = None
    ) -> IncidentView:
        """Cancel the incident and every active assignment on it (false call, duplicate)."""
        at = now or self.now()

        async def command(s: AsyncSession, out: Outbox) -> IncidentView:
            row = await self.need_incident(s, incident_id)
            self.check_open(row)
            before = snapshot(row)
            row.status = "CANCELLED"
            row.updated_at = at
            await s.flush()
            self.audit(s, actor, at, "incident", row.id, "cancelled", before, snapshot(row),
                       row.id)
            for assignment in await repo.active_assignments(s):
                if assignment.incident_id == row.id:
                    await self.apply_trigger(s, out, assignment, Trigger.CANCEL, actor, at)
            out.bus.append(briefs.ended(row, at))
            view = self.incident_view(row)
            out.message("incident.updated", at, incident=view.model_dump(mode="json"))
            return view

        return await self.run(command)

    async def close_incident(
        self, incident_id: int, *, actor: Actor, now: datetime | None = None
    ) -> IncidentView:
        """Close it now; 409 ``patients_unassigned``/``units_working`` naming what remains
        (:func:`dispatch.casualty.close_refusal`), ``incident_closed`` if already closed."""
        at = now or self.now()

        async def command(s: AsyncSession, out: Outbox) -> IncidentView:
            row = await self.need_incident(s, incident_id)
            self.check_open(row)
            shares = [carried(a) for a in await repo.assignments_of(s, [row.id])]
            refusal = casualty.close_refusal(row.patients, shares)
            if refusal is not None:
                raise Conflict(refusal.code, refusal.message, refusal.details)
            await self.set_status(s, out, row, "CLOSED", "closed", actor, at)
            out.bus.append(briefs.ended(row, at))
            return self.incident_view(row)

        return await self.run(command)

    async def reopen_incident(
        self, incident_id: int, *, actor: Actor, patients: int | None = None,
        now: datetime | None = None,
    ) -> IncidentView:
        """Open a closed or cancelled incident again (waiting for a unit), optionally with a
        new patient count; 409 ``incident_open`` if it is not closed."""
        at = now or self.now()

        async def command(s: AsyncSession, out: Outbox) -> IncidentView:
            row = await self.need_incident(s, incident_id)
            if row.status not in CLOSED:
                raise Conflict("incident_open", Label(
                    f"Kejadian {row.number} masih berjalan, tidak perlu dibuka kembali",
                    f"Incident {row.number} is still open; nothing to reopen"),
                    {"incident": self.incident_view(row).model_dump(mode="json")})
            if patients is not None:
                row.patients = patients
            await self.set_status(s, out, row, "NEW", "reopened", actor, at)
            out.rearm = True  # it waits for a unit again (dispatch.queue)
            return self.incident_view(row)

        return await self.run(command)

    async def set_status(self, s: AsyncSession, out: Outbox, row: IncidentRow, status: str,
                         action: str, actor: Actor, at: datetime) -> None:
        before = snapshot(row)
        row.status = status
        row.updated_at = at
        await s.flush()
        self.audit(s, actor, at, "incident", row.id, action, before, snapshot(row), row.id)
        out.message("incident.updated", at,
                    incident=self.incident_view(row).model_dump(mode="json"))

    # --- shared steps -------------------------------------------------------------------

    async def insert_incident(
        self, s: AsyncSession, out: Outbox, data: IncidentInput, actor: Actor, now: datetime,
        radio_alert_id: int | None = None,
    ) -> IncidentRow:
        kelurahan = await self.need_kelurahan(s, data.kelurahan)
        scene, approximate = self.scene(kelurahan, data.lat, data.lon,
                                         data.location_approximate)
        phone = e164(data.caller_phone) if data.caller_phone else None
        unit = data.patient_age_unit if data.patient_age is not None else None
        check_clinical(data.complaint, data.triage, data.patient_age, unit,
                       data.cardiac_arrest)
        day = now.astimezone(WIB).date()
        sequence = await repo.next_sequence(s, f"{day:%Y%m%d}")
        row = IncidentRow(
            number=incident_number(day, sequence), day=f"{day:%Y%m%d}", sequence=sequence,
            source=data.source.name, caller_name=data.caller_name.strip(), caller_phone=phone,
            address=data.address.strip(), landmark=data.landmark.strip(),
            kelurahan_id=kelurahan.id, lat=scene.lat,
            lon=scene.lon, location_approximate=approximate, complaint=data.complaint.name,
            triage=data.triage.name, patients=data.patients, notes=data.notes.strip(),
            determinant=data.determinant or None, status="NEW", radio_alert_id=radio_alert_id,
            patient_age=data.patient_age, patient_age_unit=unit,
            cardiac_arrest=data.cardiac_arrest,
            location_mismatch=self.location_mismatch(kelurahan, scene),
            created_at=now, created_by_id=actor.user_id, created_by=actor.name,
            updated_at=now,
        )
        s.add(row)
        await s.flush()
        self.audit(s, actor, now, "incident", row.id, "created", None, snapshot(row), row.id)
        out.message("incident.created", now,
                    incident=self.incident_view(row).model_dump(mode="json"))
        out.rearm = True  # it waits for a unit now (dispatch.queue)
        return row

    async def need_kelurahan(self, s: AsyncSession, code: str) -> KelurahanRow:
        row = await repo.kelurahan_by_code(s, code)
        if row is None:
            raise InvalidInput(
                "unknown_kelurahan",
                Label(f"Kelurahan tidak dikenal: {code!r}", f"Unknown kelurahan: {code!r}"),
                {"kelurahan": code, "known": sorted(p.kelurahan_code
                                                    for p, _ in self.places().values())})
        if row.id not in self.places():  # added after start: refresh the cache and area
            await self.load_places()
        return row

    def scene(
        self, kelurahan: KelurahanRow, lat: float | None, lon: float | None,
        approximate: bool = False,
    ) -> tuple[LatLon, bool]:
        """The scene and whether it is approximate: the kelurahan centre always is; a given
        point is when the caller says so (a gazetteer place that was not surveyed)."""
        point = coordinates(lat, lon)
        if point is None:
            return LatLon(kelurahan.lat, kelurahan.lon), True
        if self.area is not None:
            self.area.check(point)
        return point, approximate

    async def validated_changes(
        self, s: AsyncSession, row: IncidentRow, changes: Mapping[str, Any]
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key in ("caller_name", "address", "landmark", "notes"):
            if key in changes:
                values[key] = str(changes[key] or "").strip()
        for key, enum in (("source", Source), ("complaint", Complaint), ("triage", Triage)):
            if key in changes:
                values[key] = enum(changes[key]).name if not isinstance(
                    changes[key], enum) else changes[key].name
        if "patients" in changes:
            values["patients"] = int(changes["patients"])
        if "cardiac_arrest" in changes:
            values["cardiac_arrest"] = bool(changes["cardiac_arrest"])
        if "patient_age" in changes or "patient_age_unit" in changes:
            age = changes.get("patient_age", row.patient_age)
            unit = changes.get("patient_age_unit") or row.patient_age_unit or "years"
            values.update(patient_age=age, patient_age_unit=unit if age is not None else None)
        if "determinant" in changes:
            values["determinant"] = changes["determinant"] or None
        if "caller_phone" in changes:
            raw = changes["caller_phone"]
            values["caller_phone"] = e164(raw) if raw else None
        kelurahan_id = row.kelurahan_id
        if "kelurahan" in changes:
            kelurahan = await self.need_kelurahan(s, changes["kelurahan"])
            kelurahan_id = values["kelurahan_id"] = kelurahan.id
        if "lat" in changes or "lon" in changes:
            home = await s.get(KelurahanRow, kelurahan_id)
            assert home is not None
            scene, approximate = self.scene(home, changes.get("lat"), changes.get("lon"))
            values.update(lat=scene.lat, lon=scene.lon, location_approximate=approximate)
        elif "kelurahan" in changes and row.location_approximate:
            values.update(lat=kelurahan.lat, lon=kelurahan.lon)  # still its centre
        merged = {**{k: getattr(row, k) for k in ("complaint", "triage", "patient_age",
                                                  "patient_age_unit", "cardiac_arrest")},
                  **values}
        check_clinical(Complaint[merged["complaint"]], Triage[merged["triage"]],
                       merged["patient_age"], merged["patient_age_unit"],
                       merged["cardiac_arrest"])
        if {"lat", "lon", "kelurahan"} & set(changes):
            home = await s.get(KelurahanRow, kelurahan_id)
            assert home is not None
            values["location_mismatch"] = self.location_mismatch(
                home, LatLon(values.get("lat", row.lat), values.get("lon", row.lon)))
        return values

    def location_mismatch(self, kelurahan: KelurahanRow, scene: LatLon
                          ) -> dict[str, Any] | None:
        """dispatch.locality: the flag stored with the incident (and shown), or None (a
        scene that is the kelurahan's own centre never contradicts it)."""
        centres = {p.kelurahan_code: (p, at) for p, at in self.places().values()}
        found = mismatch(scene, kelurahan.code,
                         ((code, at) for code, (_, at) in centres.items()),
                         self.config.kelurahan_mismatch_m)
        if found is None:
            return None
        nearest = centres[found.nearest][0]
        label = found.label(kelurahan.name, nearest.kelurahan)
        return {"kelurahan_code": nearest.kelurahan_code, "kelurahan": nearest.kelurahan,
                "from_chosen_m": round(found.from_chosen_m),
                "from_nearest_m": round(found.from_nearest_m),
                "label": {"id": label.id, "en": label.en}}


def check_clinical(complaint: Complaint, triage: Triage, age: int | None, unit: str | None,
                   cardiac_arrest: bool) -> None:
    """422 for a call that contradicts itself (:func:`dispatch.clinical.contradiction`)."""
    found = contradiction(complaint, triage, patient_group(age, unit, complaint),
                          cardiac_arrest)
    if found is not None:
        raise InvalidInput(found[0], found[1], {"complaint": complaint.value,
                                                "triage": triage.value, "patient_age": age,
                                                "patient_age_unit": unit,
                                                "cardiac_arrest": cardiac_arrest})
