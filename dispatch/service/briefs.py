"""The announcements built after an assignment (:data:`dispatch.events.Announcement`).

They copy what their consumers need (the SMS composer, the composition root opening an
incident talkgroup) so that no consumer reads dispatch tables. The ETA is the configured
pure model's estimate from the unit's last known position (no I/O inside a transaction).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.domain import Complaint, Triage, UnitType
from dispatch.events import (
    CrewNoticeKind,
    CrewNotified,
    IncidentDispatched,
    IncidentEnded,
    IncidentTalkgroupRequested,
)
from dispatch.service.actor import Actor
from dispatch.store import repo
from dispatch.store.models import AssignmentRow, HospitalRow, IncidentRow, UnitRow
from dispatch.store.records import unit_position
from dispatch.travel import LatLon
from kernel.identity import User

if TYPE_CHECKING:
    from dispatch.service.base import ServiceBase

__all__ = ["CrewNotified", "IncidentDispatched", "IncidentEnded", "IncidentTalkgroupRequested",
           "dispatched", "ended", "notice", "talkgroup"]


async def dispatched(
    svc: ServiceBase, s: AsyncSession, row: AssignmentRow, actor: Actor, now: datetime,
    *, hospital: HospitalRow | None = None,
) -> IncidentDispatched:
    incident = await s.get(IncidentRow, row.incident_id)
    unit = await s.get(UnitRow, row.unit_id)
    assert incident is not None and unit is not None  # foreign keys
    if hospital is None and row.hospital_id is not None:
        hospital = await s.get(HospitalRow, row.hospital_id)
    place, _ = svc.places()[incident.kelurahan_id]
    scene = LatLon(incident.lat, incident.lon)
    home = svc.places().get(unit.home_kelurahan_id or -1)
    try:
        position, _at = unit_position(unit, home[1] if home else None)
        eta: float | None = svc.model.estimate(position, scene).seconds
    except ValueError:
        eta = None
    return IncidentDispatched(
        assignment_id=row.id, incident_id=incident.id, number=incident.number,
        unit_id=unit.id, callsign=unit.callsign, unit_type=UnitType[unit.unit_type],
        crew_phones=tuple(unit.crew_phones or ()), triage=Triage[incident.triage],
        complaint=Complaint[incident.complaint], patients=incident.patients,
        address=incident.address, kelurahan=place.kelurahan, scene_lat=incident.lat,
        scene_lon=incident.lon, notes=incident.notes, landmark=incident.landmark,
        caller_phone=incident.caller_phone, location_approximate=incident.location_approximate,
        hospital_id=hospital.id if hospital else None,
        hospital_name=hospital.name if hospital else None,
        hospital_phone=hospital.phone if hospital else None,
        eta_seconds=round(eta, 1) if eta is not None else None,
        dispatched_by=actor.name, at=now, carried=row.patients,
    )


async def notice(
    s: AsyncSession, row: AssignmentRow, kind: CrewNoticeKind, actor: Actor, now: datetime
) -> CrewNotified:
    """The crew's notice of a change the dispatch room made to their job."""
    incident = await s.get(IncidentRow, row.incident_id)
    unit = await s.get(UnitRow, row.unit_id)
    assert incident is not None and unit is not None  # foreign keys
    hospital = await s.get(HospitalRow, row.hospital_id) if row.hospital_id else None
    return CrewNotified(
        kind=kind, assignment_id=row.id, incident_id=incident.id, number=incident.number,
        unit_id=unit.id, callsign=unit.callsign, crew_phones=tuple(unit.crew_phones or ()),
        hospital_name=hospital.name if hospital else None, by=actor.name, at=now,
    )


async def talkgroup(
    s: AsyncSession, incident: IncidentRow, actor: Actor, now: datetime
) -> IncidentTalkgroupRequested:
    """Members: users riding the incident's active units (by callsign) and the dispatcher."""
    callsigns = set()
    for a in await repo.active_assignments(s):
        if a.incident_id == incident.id:
            unit = await s.get(UnitRow, a.unit_id)
            if unit is not None:
                callsigns.add(unit.callsign)
    members: dict[int, str] = {}
    if callsigns:
        rows = await s.execute(select(User.id, User.username)
                               .where(User.unit_callsign.in_(sorted(callsigns))))
        members.update({uid: name for uid, name in rows})
    if actor.user_id is not None:
        members[actor.user_id] = actor.name
    ordered = sorted(members.items())
    return IncidentTalkgroupRequested(
        incident_id=incident.id, number=incident.number, code=talkgroup_code(incident.number),
        name=f"Insiden {incident.number}", member_user_ids=tuple(i for i, _ in ordered),
        member_usernames=tuple(n for _, n in ordered), requested_by=actor.name, at=now,
    )


def talkgroup_code(number: str) -> str:
    """The radio talkgroup code of an incident (``PSC-20261128-0007`` → lower case)."""
    return number.lower()


def ended(incident: IncidentRow, now: datetime) -> IncidentEnded:
    """The incident is over (closed or cancelled): its talkgroup can close."""
    return IncidentEnded(incident_id=incident.id, number=incident.number,
                         code=talkgroup_code(incident.number), status=incident.status, at=now)
