"""What every dispatch route shares: the service, who may call, and how refusals look.

Refusals raised by the service or a core (:class:`~dispatch.errors.DispatchError`) become
the composition root's error shape ``{"error": {"code", "message", "details"}}``. The
message is in Bahasa Indonesia unless the request asks for English (``Accept-Language:
en``); ``details.reason`` always carries both.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from dispatch.errors import DispatchError, IllegalTransition
from dispatch.service import Actor, DispatchService
from kernel.auth import Principal
from kernel.deps import require_role
from kernel.errors import error_body
from kernel.identity import Role

DISPATCH_ROLES = (Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN)


def dispatch_service(request: Request) -> DispatchService:
    service: DispatchService = request.app.state.runtime.services["dispatch"]
    return service


ServiceDep = Annotated[DispatchService, Depends(dispatch_service)]
DispatcherDep = Annotated[Principal, Depends(require_role(*DISPATCH_ROLES))]
HospitalStaffDep = Annotated[Principal, Depends(require_role(Role.HOSPITAL, *DISPATCH_ROLES))]


def actor(principal: Principal) -> Actor:
    return Actor.of(principal)


def language(request: Request) -> str:
    accept = request.headers.get("accept-language", "")
    return "en" if accept.lower().startswith("en") else "id"


async def dispatch_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DispatchError)
    details: dict[str, Any] = dict(getattr(exc, "details", None) or {})
    details["reason"] = {"id": exc.message.id, "en": exc.message.en}
    if isinstance(exc, IllegalTransition):
        status = 409
        details["state"] = getattr(exc.state, "value", None)
        details["trigger"] = getattr(exc.trigger, "value", None)
    else:
        status = int(getattr(exc, "status", 409))
    return JSONResponse(error_body(exc.code, exc.text("en" if language(request) == "en"
                                                     else "id"), details), status)
