"""HTTP endpoints of the composition root: health, readiness, metrics, login, me.

``current_principal`` is the dependency every protected route in ``ptt`` and
``dispatch`` uses; ``require_role`` narrows it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from siaga.auth import Principal, TokenError
from siaga.db import DatabaseUnavailable, check_reachable
from siaga.errors import ApiError
from siaga.identity import Role, get_user, verify_password
from siaga.runtime import Runtime

log = logging.getLogger("siaga.auth")
router = APIRouter()
_bearer = HTTPBearer(auto_error=False)


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


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class MeResponse(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    agency: str
    agency_kind: str
    unit_callsign: str | None


@router.get("/healthz", tags=["ops"])
async def healthz() -> dict[str, str]:
    """The process is alive and its event loop answers."""
    return {"status": "ok"}


@router.get("/readyz", tags=["ops"])
async def readyz(rt: RuntimeDep) -> dict[str, str]:
    """The database answers; a load balancer sends traffic only when this is 200."""
    try:
        await check_reachable(rt.engine, timeout=2.0)
    except DatabaseUnavailable as exc:
        raise ApiError(503, "database_unavailable", str(exc)) from None
    return {"status": "ready"}


@router.get("/metrics", tags=["ops"], response_class=Response)
async def metrics(rt: RuntimeDep) -> Response:
    return Response(generate_latest(rt.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.post("/api/auth/login", tags=["auth"], response_model=TokenResponse)
async def login(body: LoginRequest, request: Request, rt: RuntimeDep) -> TokenResponse:
    """Exchange a username and password for a bearer token.

    Failures are throttled per account and per client address (429 with
    ``Retry-After``); the answer never says whether the account exists.
    """
    now = rt.now()
    address = request.client.host if request.client else "unknown"
    keys = (f"user:{body.username.lower()}", f"addr:{address}")
    wait = max(rt.login_limiter.retry_after(k, now) for k in keys)
    if wait > 0:
        rt.metrics.logins.labels("throttled").inc()
        log.warning("login throttled", extra={"username": body.username, "address": address})
        raise ApiError(429, "too_many_attempts",
                       f"too many failed logins; try again in {int(wait) + 1} s",
                       headers={"Retry-After": str(int(wait) + 1)})
    async with rt.sessions() as session:
        user = await get_user(session, body.username)
        ok = verify_password(user, body.password) and user is not None and not user.disabled
        if not ok or user is None:
            for key in keys:
                rt.login_limiter.record_failure(key, now)
            rt.metrics.logins.labels("failed").inc()
            log.warning("login failed", extra={"username": body.username, "address": address})
            raise ApiError(401, "invalid_credentials", "wrong username or password")
        rt.login_limiter.clear(keys[0])
        rt.metrics.logins.labels("ok").inc()
        log.info("login", extra={"username": user.username, "address": address})
        return TokenResponse(access_token=rt.tokens.issue(user, now),
                             expires_in=rt.settings.token_ttl_seconds)


@router.get("/api/me", tags=["auth"], response_model=MeResponse)
async def me(principal: PrincipalDep) -> MeResponse:
    return MeResponse(
        id=principal.user_id, username=principal.username,
        display_name=principal.display_name, role=principal.role, agency=principal.agency,
        agency_kind=principal.agency_kind.value, unit_callsign=principal.unit_callsign,
    )
