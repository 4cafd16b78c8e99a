"""HTTP endpoints of the composition root: health, readiness, metrics, login, me.

The dependencies that protect routes (``PrincipalDep``, ``require_role``) live in
:mod:`kernel.deps`, which ``ptt`` and ``dispatch`` import too.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from kernel.db import DatabaseUnavailable, check_reachable
from kernel.deps import PrincipalDep, RuntimeDep
from kernel.errors import ApiError
from kernel.identity import Role, get_user, verify_password

log = logging.getLogger("siaga.auth")
router = APIRouter()


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
