"""Read side: incident lists and details, the audit trail, report data, the EIDO export.

Reads run in their own short session and never write. The report figures themselves are
computed by the pure :mod:`dispatch.reports` from the stored time chains.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import casualty, reports
from dispatch.domain import Complaint, IncidentStatus, Source, Triage
from dispatch.service.present import audit_view
from dispatch.service.timers import Timers
from dispatch.service.views import AuditView, IncidentDetail, IncidentView
from dispatch.store import repo
from dispatch.store.models import HospitalRow, UnitRow
from dispatch.store.records import assignment_record, carried
from kernel.identity import Agency

PSC_AGENCY = "psc119"


class Queries(Timers):
    async def list_incidents(
        self, *, statuses: Sequence[IncidentStatus] = (), kecamatan: str | None = None,
        since: datetime | None = None, until: datetime | None = None, limit: int = 100,
        offset: int = 0,
    ) -> list[IncidentView]:
        stmt = repo.incidents_query(statuses=[s.name for s in statuses], kecamatan=kecamatan,
                                    since=since, until=until)
        async with self.sessions() as s:
            rows = await repo.incidents(s, stmt, limit, offset)
        return [self.incident_view(r) for r in rows]

    async def incident_detail(self, incident_id: int) -> IncidentDetail:
        async with self.sessions() as s:
            row = await self.need_incident(s, incident_id)
            rows = await repo.assignments_of(s, [row.id])
            assignments = [await self.assignment_view(s, a) for a in rows]
            audit = [audit_view(a) for a in await repo.audit_of_incident(s, row.id)]
        return IncidentDetail(incident=self.incident_view(row), assignments=assignments,
                              unassigned=casualty.unassigned(row.patients, map(carried, rows)),
                              audit=audit)

    async def audit_trail(self, incident_id: int) -> list[AuditView]:
        async with self.sessions() as s:
            await self.need_incident(s, incident_id)
            return [audit_view(a) for a in await repo.audit_of_incident(s, incident_id)]

    async def interval_rows(
        self, *, since: datetime | None = None, until: datetime | None = None,
        kecamatan: str | None = None,
    ) -> list[reports.Intervals]:
        stmt = repo.incidents_query(since=since, until=until, kecamatan=kecamatan)
        async with self.sessions() as s:
            rows = await repo.incidents(s, stmt, None)
            chains: dict[int, list[Any]] = {r.id: [] for r in rows}
            for a in await repo.assignments_of(s, list(chains)):
                chains[a.incident_id].append(assignment_record(a).times)
        out = []
        for r in sorted(rows, key=lambda r: (r.created_at, r.id)):
            times = reports.IncidentTimes(
                incident_id=r.id, number=r.number, kecamatan=self.place(r.kelurahan_id).kecamatan,
                triage=Triage[r.triage].value, status=IncidentStatus[r.status].value,
                created_at=r.created_at, chains=tuple(chains[r.id]))
            out.append(reports.intervals(times))
        return out

    async def eido(self, incident_id: int) -> dict[str, Any]:
        async with self.sessions() as s:
            row = await self.need_incident(s, incident_id)
            units = []
            for a in await repo.assignments_of(s, [row.id]):
                unit = await s.get(UnitRow, a.unit_id)
                hospital = await s.get(HospitalRow, a.hospital_id) if a.hospital_id else None
                assert unit is not None
                units.append(reports.EidoUnit(
                    assignment_id=a.id, callsign=unit.callsign, unit_type=unit.unit_type,
                    status=a.status, times=assignment_record(a).times,
                    hospital=hospital.name if hospital else None,
                    updated_at=max(filter(None, (a.escalated_at, a.reminded_at,
                                                 a.dispatched_at)))))
            agency = await repo_agency_name(s)
        place = self.place(row.kelurahan_id)
        complaint = Complaint[row.complaint]
        incident = reports.EidoIncident(
            id=row.id, number=row.number, status=IncidentStatus[row.status].value,
            source=Source[row.source].value, complaint=complaint.value,
            complaint_text=complaint.label.id, triage=Triage[row.triage].value,
            patients=row.patients, caller_name=row.caller_name, caller_phone=row.caller_phone,
            address=row.address, kelurahan=place.kelurahan, kecamatan=place.kecamatan,
            lat=row.lat, lon=row.lon, approximate=row.location_approximate, notes=row.notes,
            determinant=row.determinant, created_at=row.created_at, created_by=row.created_by,
            updated_at=row.updated_at)
        return reports.eido(incident, units, agency)


async def repo_agency_name(s: AsyncSession) -> str:
    name = (await s.execute(select(Agency.name).where(Agency.code == PSC_AGENCY))
            ).scalar_one_or_none()
    return str(name) if name else "PSC 119"
