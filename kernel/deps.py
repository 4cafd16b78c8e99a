"""The FastAPI dependencies every feature's routes share: the runtime and the caller.

``current_principal`` authenticates the bearer token of a request; ``require_role``
narrows it to the roles a route allows; ``refuse_foreign_origin`` guards a WebSocket
handshake (:mod:`kernel.origin`). They live in the kernel so that ``ptt`` and
``dispatch`` can protect their routes without importing the composition root.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Path, Request, WebSocket
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, AwareDatetime

from kernel.auth import Principal, TokenError
from kernel.db import MAX_ROW_ID
from kernel.errors import ApiError
from kernel.identity import Role
from kernel.origin import origin_allowed
from kernel.runtime import Runtime

_bearer = HTTPBearer(auto_error=False)

#: A row id in a path: beyond the schema's keys it is a 422, never a database error.
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


def _in_utc(when: datetime) -> datetime:
    try:
        return when.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time leaves the calendar once converted to UTC") from None


#: A time in a query (ISO 8601), given in UTC to the route. It must name its zone (``Z`` or
#: an offset): a time without one is a 422, not read in a zone the server guesses; a time
#: that leaves the calendar once converted to UTC (year 1 at +14:00) is a 422 too.
UtcTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


RuntimeDep = Annotated[Runtime, Depends(runtime)]


async def current_principal(
    rt: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise ApiError(401, "unauthorized", "missing bearer token",
                       headers={"WWW-Authenticate": "Bearer"})
    async with rt.sessions() as session:
        try:
            return await rt.tokens.authenticate(session, credentials.credentials, rt.now())
        except TokenError as exc:
            raise ApiError(401, exc.code, exc.message,
                           headers={"WWW-Authenticate": "Bearer"}) from None


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require_role(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(principal: PrincipalDep) -> Principal:
        if principal.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise ApiError(403, "forbidden", f"this needs one of the roles: {allowed}")
        return principal

    return check


async def refuse_foreign_origin(websocket: WebSocket, public_url: str) -> bool:
    """Refuse a handshake from a page of another origin (:mod:`kernel.origin`): closed
    before it is accepted, which the client sees as HTTP 403. True when refused."""
    if origin_allowed(websocket.headers.get("origin"), host=websocket.headers.get("host"),
                      secure=websocket.url.scheme == "wss", public_url=public_url):
        return False
    await websocket.close()
    return True
