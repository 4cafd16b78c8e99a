"""``/api/units``, ``/api/hospitals`` and ``/api/alerts``: boards and their few commands."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from dispatch.api.deps import DispatcherDep, HospitalStaffDep, ServiceDep, actor
from dispatch.api.schemas import AcceptingIn, AlertIncidentIn, BedsIn, UnitServiceIn
from dispatch.lifecycle import UnitTrigger
from dispatch.service import AlertIncidentInput, BedInput
from dispatch.service.views import HospitalView, IncidentView, RadioAlertView, UnitView
from kernel.deps import RowId
from kernel.errors import responses

router = APIRouter(prefix="/api", tags=["dispatch"],
                   responses=responses(401, 403, 404, 409, 422))


@router.get("/units", response_model=list[UnitView])
async def list_units(who: DispatcherDep, service: ServiceDep) -> list[UnitView]:
    return await service.list_units()


@router.get("/units/{unit_id}", response_model=UnitView)
async def get_unit(unit_id: RowId, who: DispatcherDep, service: ServiceDep) -> UnitView:
    return await service.unit(unit_id)


@router.post("/units/{unit_id}/service", response_model=UnitView)
async def unit_service(unit_id: RowId, body: UnitServiceIn, who: DispatcherDep,
                       service: ServiceDep) -> UnitView:
    """Take an idle unit out of service or put it back (409 while it is on a call)."""
    trigger = UnitTrigger.RETURN_TO_SERVICE if body.in_service else \
        UnitTrigger.TAKE_OUT_OF_SERVICE
    return await service.set_unit_service(unit_id, trigger, actor=actor(who))


@router.get("/hospitals", response_model=list[HospitalView])
async def list_hospitals(who: HospitalStaffDep, service: ServiceDep) -> list[HospitalView]:
    """Hospitals with capabilities, acceptance and bed counts with their age (a hospital
    account: its own hospital only)."""
    return await service.list_hospitals(actor=actor(who))


@router.get("/hospitals/{hospital_id}", response_model=HospitalView)
async def get_hospital(hospital_id: RowId, who: HospitalStaffDep,
                       service: ServiceDep) -> HospitalView:
    """One hospital (404 for a hospital account asking for another hospital)."""
    return await service.hospital(hospital_id, actor=actor(who))


@router.put("/hospitals/{hospital_id}/beds", response_model=HospitalView)
async def update_beds(hospital_id: RowId, body: BedsIn, who: HospitalStaffDep,
                      service: ServiceDep) -> HospitalView:
    """Report free beds per category; a hospital account may report only its own (403)."""
    beds = [BedInput(b.category, b.total, b.free) for b in body.beds]
    return await service.update_beds(hospital_id, beds, actor=actor(who))


@router.put("/hospitals/{hospital_id}/accepting", response_model=HospitalView)
async def set_accepting(hospital_id: RowId, body: AcceptingIn, who: HospitalStaffDep,
                        service: ServiceDep) -> HospitalView:
    """Accept new patients, or divert them elsewhere."""
    return await service.set_accepting(hospital_id, body.accepting, actor=actor(who))


@router.get("/alerts", response_model=list[RadioAlertView])
async def list_alerts(
    who: DispatcherDep, service: ServiceDep,
    status: Literal["open", "converted", "dismissed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[RadioAlertView]:
    """Officers' radio emergencies, newest first."""
    return await service.list_alerts(status, limit)


@router.post("/alerts/{alert_id}/incident", status_code=201, response_model=IncidentView)
async def alert_to_incident(alert_id: RowId, body: AlertIncidentIn, who: DispatcherDep,
                            service: ServiceDep) -> IncidentView:
    """Turn an open alert into an incident; who and where default to the alert's."""
    data = AlertIncidentInput(**body.model_dump())
    return await service.convert_alert(alert_id, data, actor=actor(who))


@router.post("/alerts/{alert_id}/dismiss", response_model=RadioAlertView)
async def dismiss_alert(alert_id: RowId, who: DispatcherDep,
                        service: ServiceDep) -> RadioAlertView:
    return await service.dismiss_alert(alert_id, actor=actor(who))
