"""``/api/hospitals/{id}/...``: the hospital desk (incoming patients, capabilities, phone)
and the CAP 1.2 alerts (a hospital's diversion, a mass casualty incident).

A hospital account reads and changes only its own hospital: another hospital is not found
(404) when read, forbidden (403 ``not_your_hospital``) when changed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Response

from dispatch.api.deps import DispatcherDep, HospitalStaffDep, ServiceDep, actor
from dispatch.api.schemas import CapabilitiesIn, PhoneIn
from dispatch.service import IncomingList
from dispatch.service.views import HospitalView
from kernel.deps import RowId, RuntimeDep
from kernel.errors import responses

router = APIRouter(prefix="/api", tags=["hospital desk"],
                   responses=responses(401, 403, 404, 409, 422))

CAP_MEDIA_TYPE = "application/cap+xml"
_CAP: dict[int | str, dict[str, Any]] = {200: {"content": {CAP_MEDIA_TYPE: {}}}}


def cap_sender(public_url: str) -> str:
    """``psc119@<public host>``: CAP's sender names the originator without spaces or
    commas."""
    return f"psc119@{urlsplit(public_url).hostname or 'localhost'}"


@router.get("/hospitals/{hospital_id}/incoming", response_model=IncomingList)
async def incoming(hospital_id: RowId, who: HospitalStaffDep,
                   service: ServiceDep) -> IncomingList:
    """Patients coming to the hospital, most urgent first, with their expected arrival."""
    return await service.incoming(hospital_id, actor=actor(who))


@router.put("/hospitals/{hospital_id}/capabilities", response_model=HospitalView)
async def set_capabilities(hospital_id: RowId, body: CapabilitiesIn, who: HospitalStaffDep,
                           service: ServiceDep) -> HospitalView:
    """Capabilities out of action for now (the others are in action), with a note."""
    return await service.set_capabilities(hospital_id, body.unavailable, body.note,
                                          actor=actor(who))


@router.put("/hospitals/{hospital_id}/phone", response_model=HospitalView)
async def set_phone(hospital_id: RowId, body: PhoneIn, who: HospitalStaffDep,
                    service: ServiceDep) -> HospitalView:
    """The number for pre-arrival SMS (stored E.164; ``null`` clears it)."""
    return await service.set_hospital_phone(hospital_id, body.phone, actor=actor(who))


@router.get("/hospitals/{hospital_id}/cap", response_class=Response, responses=_CAP)
async def diversion_cap(hospital_id: RowId, who: HospitalStaffDep, service: ServiceDep,
                        rt: RuntimeDep) -> Response:
    """CAP 1.2: the hospital on diversion (``Alert``), or accepting again (``Update``)."""
    text = await service.diversion_cap(hospital_id, actor=actor(who),
                                       sender=cap_sender(rt.settings.public_url))
    return Response(text, media_type=CAP_MEDIA_TYPE)


@router.get("/incidents/{incident_id}/cap", response_class=Response, responses=_CAP)
async def mass_casualty_cap(incident_id: RowId, who: DispatcherDep, service: ServiceDep,
                            rt: RuntimeDep) -> Response:
    """CAP 1.2 for a mass casualty incident (409 ``not_mass_casualty`` below the threshold)."""
    text = await service.mass_casualty_cap(incident_id,
                                           sender=cap_sender(rt.settings.public_url))
    return Response(text, media_type=CAP_MEDIA_TYPE)
