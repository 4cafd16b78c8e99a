"""``/api/incidents`` and ``/api/assignments``: the call taker's and dispatcher's work."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from dispatch.api.deps import DispatcherDep, ServiceDep, actor
from dispatch.api.filters import FiltersDep
from dispatch.api.schemas import (
    AssignIn,
    DestinationIn,
    IncidentIn,
    IncidentPatch,
    ReassignIn,
    ReopenIn,
    StatusIn,
)
from dispatch.domain import IncidentStatus
from dispatch.service import IncidentInput
from dispatch.service.views import (
    AssignmentView,
    AuditView,
    CrewStatusResult,
    IncidentDetail,
    IncidentView,
    Recommendations,
)
from kernel.deps import RowId
from kernel.errors import responses

router = APIRouter(prefix="/api", tags=["dispatch"],
                   responses=responses(401, 403, 404, 409, 422))


@router.post("/incidents", status_code=201, response_model=IncidentView)
async def create_incident(body: IncidentIn, who: DispatcherDep,
                          service: ServiceDep) -> IncidentView:
    """Record a call. Refused with nothing written when the kelurahan is unknown, the phone
    is not a valid number, or the coordinates fall outside the service area."""
    return await service.create_incident(IncidentInput(**body.model_dump()), actor=actor(who))


@router.get("/incidents", response_model=list[IncidentView])
async def list_incidents(
    who: DispatcherDep, service: ServiceDep,
    where: FiltersDep, status: Annotated[list[IncidentStatus] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[IncidentView]:
    """Newest first; filter by status (repeatable), kecamatan (code or name) and period
    (:mod:`dispatch.api.filters`)."""
    return await service.list_incidents(statuses=status or [], kecamatan=where.kecamatan,
                                        since=where.since, until=where.until, limit=limit,
                                        offset=offset)


@router.get("/incidents/{incident_id}", response_model=IncidentDetail)
async def incident_detail(incident_id: RowId, who: DispatcherDep,
                          service: ServiceDep) -> IncidentDetail:
    """The incident with its assignments (time chains) and its audit trail."""
    return await service.incident_detail(incident_id)


@router.patch("/incidents/{incident_id}", response_model=IncidentView)
async def update_incident(incident_id: RowId, body: IncidentPatch, who: DispatcherDep,
                          service: ServiceDep) -> IncidentView:
    """Correct fields; with ``version``, refused (409) if someone changed it meanwhile."""
    return await service.update_incident(incident_id, body.changes(), actor=actor(who),
                                         expected_version=body.version)


@router.post("/incidents/{incident_id}/cancel", response_model=IncidentView)
async def cancel_incident(incident_id: RowId, who: DispatcherDep,
                          service: ServiceDep) -> IncidentView:
    return await service.cancel_incident(incident_id, actor=actor(who))


@router.post("/incidents/{incident_id}/close", response_model=IncidentView)
async def close_incident(incident_id: RowId, who: DispatcherDep,
                         service: ServiceDep) -> IncidentView:
    """Close now. 409 ``patients_unassigned`` or ``units_working`` (the message names what
    remains, ``details`` has the counts), ``incident_closed`` if already closed."""
    return await service.close_incident(incident_id, actor=actor(who))


@router.post("/incidents/{incident_id}/reopen", response_model=IncidentView)
async def reopen_incident(incident_id: RowId, who: DispatcherDep, service: ServiceDep,
                          body: ReopenIn | None = None) -> IncidentView:
    """Open a closed or cancelled incident again, optionally with a new patient count;
    409 ``incident_open`` if it is still open."""
    return await service.reopen_incident(incident_id, actor=actor(who),
                                         patients=body.patients if body else None)


@router.get("/incidents/{incident_id}/recommendations", response_model=Recommendations)
async def recommendations(incident_id: RowId, who: DispatcherDep, service: ServiceDep,
                          limit: Annotated[int, Query(ge=1, le=50)] = 5) -> Recommendations:
    """Units and hospitals, best first, each with its reason in both languages."""
    return await service.recommend(incident_id, limit=limit)


@router.post("/incidents/{incident_id}/assignments", status_code=201,
             response_model=AssignmentView)
async def assign(incident_id: RowId, body: AssignIn, who: DispatcherDep,
                 service: ServiceDep) -> AssignmentView:
    """Send a unit. 409 ``unit_busy``/``unit_out_of_service`` (with the unit's current
    state in ``details``) if it is not available, including when another dispatcher was
    faster. 409 ``patients_exceed_remaining`` when ``patients`` is more than the patients no
    unit carries yet."""
    return await service.assign(incident_id, body.unit_id, hospital_id=body.hospital_id,
                                patients=body.patients, actor=actor(who))


@router.get("/incidents/{incident_id}/audit", response_model=list[AuditView])
async def audit(incident_id: RowId, who: DispatcherDep, service: ServiceDep) -> list[AuditView]:
    return await service.audit_trail(incident_id)


@router.get("/incidents/{incident_id}/eido")
async def eido(incident_id: RowId, who: DispatcherDep, service: ServiceDep) -> dict[str, Any]:
    """The incident as an EIDO-style JSON object (see docs/dispatch.md for the mapping)."""
    return await service.eido(incident_id)


@router.post("/assignments/{assignment_id}/status", response_model=CrewStatusResult)
async def assignment_status(assignment_id: RowId, body: StatusIn, who: DispatcherDep,
                            service: ServiceDep) -> CrewStatusResult:
    """Record a crew status on their behalf (radio or phone report). Illegal moves are
    refused with 409 and the lifecycle's reason."""
    return await service.apply_crew_status(trigger=body.trigger, actor=actor(who),
                                           assignment_id=assignment_id)


@router.post("/assignments/{assignment_id}/reassign", status_code=201,
             response_model=AssignmentView)
async def reassign(assignment_id: RowId, body: ReassignIn, who: DispatcherDep,
                   service: ServiceDep) -> AssignmentView:
    """Cancel this assignment and send another unit, atomically."""
    return await service.reassign(assignment_id, body.unit_id, actor=actor(who))


@router.post("/assignments/{assignment_id}/cancel", response_model=AssignmentView)
async def cancel_assignment(assignment_id: RowId, who: DispatcherDep,
                            service: ServiceDep) -> AssignmentView:
    return await service.cancel_assignment(assignment_id, actor=actor(who))


@router.put("/assignments/{assignment_id}/destination", response_model=AssignmentView)
async def destination(assignment_id: RowId, body: DestinationIn, who: DispatcherDep,
                      service: ServiceDep) -> AssignmentView:
    return await service.set_destination(assignment_id, body.hospital_id, actor=actor(who))
