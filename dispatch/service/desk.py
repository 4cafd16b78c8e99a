"""The hospital desk: what a hospital's emergency department reads and sets of dispatch.

- ``incoming(hospital_id)``: the patients coming to the hospital (:mod:`dispatch.incoming`),
  with the travel time from each scene by the configured pure model.
- ``set_capabilities``: capabilities out of action for now (CT down, cath lab closed, no
  obstetrician tonight), with a note; the ranking leaves them out.
- ``set_hospital_phone``: the number the pre-arrival SMS goes to (E.164, or none).

Live updates: after every committed command that touched an assignment or an incident,
each hospital with a screen connected gets its whole incoming list again (message
``incoming``, to that hospital only: :class:`~dispatch.service.stream.Audience`) when the
list differs from the one it was last sent. Whole lists, not deltas, so a patient whose
destination moved elsewhere leaves the old hospital's screen without any bookkeeping of who
was told what. Reads and publishes are serialised, so a later list is never overtaken by
an earlier one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import cap
from dispatch import incoming as core
from dispatch.domain import (
    AssignmentStatus,
    Capability,
    Complaint,
    Label,
    Triage,
    UnitType,
)
from dispatch.service.actor import Actor
from dispatch.service.base import Outbox
from dispatch.service.errors import Conflict, InvalidInput, NotFound
from dispatch.service.hospitals import hospital_state
from dispatch.service.present import hospital_view
from dispatch.service.queries import Queries
from dispatch.service.stream import Audience
from dispatch.service.validation import e164
from dispatch.service.views import HospitalView, Text, TimeChainView
from dispatch.store import repo
from dispatch.store.models import AssignmentRow, HospitalRow, IncidentRow, UnitRow
from dispatch.store.records import (
    TIME_FIELDS,
    assignment_record,
    capabilities,
    unavailable,
)
from dispatch.travel import LatLon
from kernel.identity import Agency

log = logging.getLogger("dispatch.desk")

# Stream messages after which a hospital's incoming list may have changed.
_TOUCHING = frozenset({"assignment.created", "assignment.updated", "incident.updated"})
_COMING = tuple(s.name for s in core.STAGES)
SENDER_NAME = "PSC 119 Kota Probolinggo"


class IncomingPatient(BaseModel):
    assignment_id: int
    incident_id: int
    number: str
    triage: Triage
    triage_label: Text
    complaint: Complaint
    complaint_label: Text
    patients: int
    kelurahan: str
    unit: str
    unit_type: UnitType
    status: AssignmentStatus
    status_label: Text
    stage: str
    stage_label: Text
    times: TimeChainView
    travel_seconds: float
    expected_at: datetime | None
    arrived_at: datetime | None


class IncomingList(BaseModel):
    hospital_id: int
    at: datetime
    patients: list[IncomingPatient]


class HospitalDesk(Queries):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._incoming_sent: dict[int, str] = {}
        self._incoming_lock = asyncio.Lock()

    async def incoming(self, hospital_id: int, *, actor: Actor | None = None,
                       now: datetime | None = None) -> IncomingList:
        """404 for a hospital account asking for another hospital (it learns nothing)."""
        at = now or self.now()
        async with self.sessions() as s:
            hospital = await s.get(HospitalRow, hospital_id)
            if hospital is None or not await self.may_see(s, hospital, actor):
                raise NotFound("hospital", hospital_id)
            lists = await self._incoming_lists(s, [hospital])
        return IncomingList(hospital_id=hospital_id, at=at, patients=lists[hospital_id])

    async def _incoming_lists(
        self, s: AsyncSession, hospitals: Sequence[HospitalRow]
    ) -> dict[int, list[IncomingPatient]]:
        by_id = {h.id: h for h in hospitals}
        rows = (await s.execute(
            select(AssignmentRow, IncidentRow, UnitRow)
            .join(IncidentRow, AssignmentRow.incident_id == IncidentRow.id)
            .join(UnitRow, AssignmentRow.unit_id == UnitRow.id)
            .where(AssignmentRow.hospital_id.in_(list(by_id)),
                   AssignmentRow.status.in_(_COMING))
            .order_by(AssignmentRow.id))).all()
        transports: dict[int, list[core.Transport]] = {h: [] for h in by_id}
        for a, incident, unit in rows:
            hospital = by_id[a.hospital_id or 0]
            travel = self.model.estimate(LatLon(incident.lat, incident.lon),
                                         LatLon(hospital.lat, hospital.lon))
            transports[hospital.id].append(core.Transport(
                assignment_id=a.id, incident_id=incident.id, number=incident.number,
                triage=Triage[incident.triage], complaint=Complaint[incident.complaint],
                patients=a.patients, callsign=unit.callsign,  # its own share (casualty rule 6)
                unit_type=UnitType[unit.unit_type], status=AssignmentStatus[a.status],
                times=assignment_record(a).times,
                kelurahan=self.place(incident.kelurahan_id).kelurahan,
                travel_seconds=round(travel.seconds, 1)))
        return {h: [_patient(i) for i in core.incoming(ts)] for h, ts in transports.items()}

    async def deliver(self, outbox: Outbox) -> None:
        await super().deliver(outbox)
        if any(m["type"] in _TOUCHING for m, _ in outbox.stream):
            try:
                await self.refresh_incoming()
            except Exception:  # an announcement must never undo a committed command
                log.exception("incoming lists not sent")

    async def refresh_incoming(self) -> None:
        """Send each connected hospital its list, if it changed (module docstring)."""
        async with self._incoming_lock:
            watching = self.hub.hospitals()
            for gone in set(self._incoming_sent) - watching:
                del self._incoming_sent[gone]
            if not watching:
                return
            at = self.now()
            async with self.sessions() as s:
                hospitals = list((await s.execute(
                    select(HospitalRow).where(HospitalRow.id.in_(sorted(watching))))).scalars())
                lists = await self._incoming_lists(s, hospitals)
            for hospital_id, patients in sorted(lists.items()):
                data = [p.model_dump(mode="json") for p in patients]
                key = repr(data)
                if self._incoming_sent.get(hospital_id) == key:
                    continue
                self._incoming_sent[hospital_id] = key
                self.hub.publish({"type": "incoming", "at": at.isoformat(),
                                  "hospital_id": hospital_id, "patients": data},
                                 Audience.hospital(hospital_id))

    async def set_capabilities(
        self, hospital_id: int, unavailable: Sequence[Capability], note: str, *,
        actor: Actor, now: datetime | None = None,
    ) -> HospitalView:
        """Mark some of the hospital's capabilities out of action (the rest back in)."""
        at = now or self.now()

        async def command(s: AsyncSession, out: Outbox) -> HospitalView:
            hospital = await self.need_hospital(s, hospital_id)
            await self.check_hospital_actor(s, hospital, actor)
            lacking = sorted({c.value for c in unavailable} - {c.value for c in
                                                                capabilities(hospital)})
            if lacking:
                raise InvalidInput("capability_not_offered", Label(
                    f"{hospital.name} tidak mempunyai: {', '.join(lacking)}",
                    f"{hospital.name} does not offer: {', '.join(lacking)}"),
                    {"capabilities": lacking})
            down = sorted({c.value for c in unavailable})
            if down != sorted(hospital.capabilities_unavailable or ()) or \
                    note != hospital.capabilities_note:
                await self._change(s, out, hospital, actor, at, "capabilities_changed",
                                   capabilities_unavailable=down, capabilities_note=note,
                                   capabilities_changed_at=at)
            return await self._view(s, hospital, at)

        return await self.run(command)

    async def set_hospital_phone(
        self, hospital_id: int, phone: str | None, *, actor: Actor, now: datetime | None = None
    ) -> HospitalView:
        """The pre-arrival SMS number (local forms are read as Indonesian; None clears)."""
        at = now or self.now()
        number = _phone(phone) if phone else None

        async def command(s: AsyncSession, out: Outbox) -> HospitalView:
            hospital = await self.need_hospital(s, hospital_id)
            await self.check_hospital_actor(s, hospital, actor)
            if hospital.phone != number:
                await self._change(s, out, hospital, actor, at, "phone_set", phone=number)
            return await self._view(s, hospital, at)

        return await self.run(command)

    async def diversion_cap(self, hospital_id: int, *, sender: str,
                            actor: Actor | None = None) -> str:
        """CAP 1.2 for the hospital's acceptance (:mod:`dispatch.cap` rule 5); 409
        ``no_diversion`` when it never was diverted."""
        at = self.now()
        async with self.sessions() as s:
            hospital = await s.get(HospitalRow, hospital_id)
            if hospital is None or not await self.may_see(s, hospital, actor):
                raise NotFound("hospital", hospital_id)
        if hospital.accepting_changed_at is None:
            raise Conflict("no_diversion", Label(
                f"{hospital.name} belum pernah menolak pasien: tidak ada peringatan",
                f"{hospital.name} has never been on diversion: no alert"))
        return cap.diversion_alert(cap.CapHospital(
            code=hospital.code, name=hospital.name, address=hospital.address,
            lat=hospital.lat, lon=hospital.lon, accepting=hospital.accepting,
            changed_at=hospital.accepting_changed_at,
            unavailable=tuple(c.label for c in sorted(unavailable(hospital),
                                                      key=lambda c: c.value)),
            note=hospital.capabilities_note or ""), sender=sender,
            sender_name=SENDER_NAME, now=at)

    async def mass_casualty_cap(self, incident_id: int, *, sender: str) -> str:
        """CAP 1.2 for an incident of at least ``config.mass_casualty_patients`` patients;
        409 ``not_mass_casualty`` below it."""
        at = self.now()
        threshold = self.config.mass_casualty_patients
        async with self.sessions() as s:
            row = await self.need_incident(s, incident_id)
            if row.patients < threshold:
                raise Conflict("not_mass_casualty", Label(
                    f"{row.number}: {row.patients} pasien, kurang dari {threshold} "
                    "(batas korban massal)",
                    f"{row.number}: {row.patients} patients, fewer than {threshold} "
                    "(the mass casualty threshold)"),
                    {"patients": row.patients, "threshold": threshold})
            units: dict[str, int] = {}
            for a in await repo.assignments_of(s, [row.id]):
                if a.status == "CANCELLED" or a.hospital_id is None:
                    continue
                hospital = await s.get(HospitalRow, a.hospital_id)
                assert hospital is not None  # foreign key
                units[hospital.name] = units.get(hospital.name, 0) + 1
        place = self.place(row.kelurahan_id)
        return cap.mass_casualty_alert(cap.CapIncident(
            number=row.number, cancelled=row.status == "CANCELLED", patients=row.patients,
            triage=Triage[row.triage].label, complaint=Complaint[row.complaint].label,
            kelurahan=place.kelurahan, kecamatan=place.kecamatan, address=row.address,
            lat=row.lat, lon=row.lon, created_at=row.created_at, updated_at=row.updated_at,
            destinations=tuple(cap.Destination(h, n) for h, n in sorted(units.items()))),
            sender=sender, sender_name=SENDER_NAME, now=at)

    async def hospital_of(self, actor: Actor) -> int | None:
        """The hospital a hospital account works for (its agency's), if any."""
        async with self.sessions() as s:
            found = (await s.execute(
                select(HospitalRow.id).join(Agency, HospitalRow.agency_id == Agency.id)
                .where(Agency.code == actor.agency).order_by(HospitalRow.id))).first()
        return int(found[0]) if found else None

    async def hospital_id_by_code(self, code: str) -> int:
        async with self.sessions() as s:
            found = (await s.execute(select(HospitalRow.id).where(HospitalRow.code == code))
                     ).scalar_one_or_none()
        if found is None:
            raise NotFound("hospital", code)
        return int(found)

    async def _change(self, s: AsyncSession, out: Outbox, hospital: HospitalRow, actor: Actor,
                      at: datetime, action: str, **values: Any) -> None:
        (_, beds), = await repo.hospitals_with_beds(s, hospital.id)
        before = hospital_state(hospital, beds)
        for name, value in values.items():
            setattr(hospital, name, value)
        await s.flush()
        self.audit(s, actor, at, "hospital", hospital.id, action, before,
                   hospital_state(hospital, beds))
        view = hospital_view(hospital, beds, at)
        out.message("hospital.updated", at, audience=Audience.hospital(hospital.id,
                                                                       dispatch=True),
                    hospital=view.model_dump(mode="json"))

    async def _view(self, s: AsyncSession, hospital: HospitalRow, at: datetime) -> HospitalView:
        (_, beds), = await repo.hospitals_with_beds(s, hospital.id)
        return hospital_view(hospital, beds, at)


def _phone(raw: str) -> str:
    try:
        return e164(raw)
    except InvalidInput as exc:
        raise InvalidInput(exc.code, exc.message, {"phone": raw}) from None


def _patient(item: core.Incoming) -> IncomingPatient:
    t = item.transport
    return IncomingPatient(
        assignment_id=t.assignment_id, incident_id=t.incident_id, number=t.number,
        triage=t.triage, triage_label=Text.of(t.triage.label), complaint=t.complaint,
        complaint_label=Text.of(t.complaint.label), patients=t.patients,
        kelurahan=t.kelurahan, unit=t.callsign, unit_type=t.unit_type, status=t.status,
        status_label=Text.of(t.status.label), stage=item.stage.value,
        stage_label=Text.of(item.stage.label),
        times=TimeChainView(**{n: getattr(t.times, n) for n in TIME_FIELDS}),
        travel_seconds=t.travel_seconds, expected_at=item.expected_at,
        arrived_at=item.arrived_at,
    )
