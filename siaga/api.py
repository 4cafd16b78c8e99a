"""HTTP endpoints of the composition root: health, readiness, metrics, login, me.

The dependencies that protect routes (``PrincipalDep``, ``require_role``) live in
:mod:`kernel.deps`, which ``ptt`` and ``dispatch`` import too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import secrets

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from kernel.db import DatabaseUnavailable, check_reachable
from kernel.deps import PrincipalDep, RuntimeDep
from kernel.errors import ApiError, ErrorOut, responses
from kernel.identity import Role, get_user, verify_password
from kernel.ratelimit import Refused

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


@router.get("/readyz", tags=["ops"], responses=responses(503))
async def readyz(rt: RuntimeDep) -> dict[str, str]:
    """The database answers (and in a cluster, NATS, and the node is not draining); a load
    balancer sends traffic only when this is 200."""
    try:
        await check_reachable(rt.engine, timeout=2.0)
    except DatabaseUnavailable as exc:
        raise ApiError(503, "database_unavailable", str(exc)) from None
    if rt.draining:
        raise ApiError(503, "draining", "this node is shutting down; use another")
    if rt.cluster is None:
        return {"status": "ready"}
    if not rt.cluster.nc.is_connected:
        raise ApiError(503, "bus_unavailable", "this node has lost the cluster's NATS")
    return {"status": "ready", "node": rt.cluster.node_id}


@router.get("/metrics", tags=["ops"], response_class=Response,
            responses={401: {"model": ErrorOut,
                             "description": "a metrics token is set and was not given"},
                       403: {"model": ErrorOut, "description": "no metrics token is set and "
                             "the caller is not on this machine"}})
async def metrics(request: Request, rt: RuntimeDep) -> Response:
    """Prometheus metrics, for the scraper only: with ``SIAGA_METRICS_TOKEN`` set, for a
    bearer of that token; without it, for callers on this machine (loopback) only."""
    expected = rt.settings.metrics_token
    if expected is not None:
        given = request.headers.get("authorization", "")
        if not secrets.compare_digest(given.encode(),
                                      f"Bearer {expected.get_secret_value()}".encode()):
            raise ApiError(401, "unauthorized", "the metrics token is missing or wrong",
                           headers={"WWW-Authenticate": "Bearer"})
    elif not _loopback(request.client.host if request.client else None):
        raise ApiError(403, "forbidden",
                       "metrics are served to this machine only (or set SIAGA_METRICS_TOKEN)")
    return Response(generate_latest(rt.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@router.post("/api/auth/login", tags=["auth"], response_model=TokenResponse,
             responses=responses(401, 422, 429, 503))
async def login(body: LoginRequest, request: Request, rt: RuntimeDep) -> TokenResponse:
    """Exchange a username and password for a bearer token.

    Throttled by :class:`kernel.ratelimit.LoginThrottle`: failures are limited per
    (account, client address) and per address (429 with ``Retry-After``); an account that
    many addresses guess at is slowed, never locked. The client address is the peer's,
    or what a trusted proxy (``forwarded_allow_ips``) says. The answer never says whether
    the account exists. The password is verified on the runtime's password pool.
    """
    address = request.client.host if request.client else "unknown"
    account = body.username.lower()
    who = {"username": body.username, "address": address}
    decision = rt.login_throttle.reserve(account, address, rt.now())
    if isinstance(decision, Refused):
        wait = math.ceil(decision.retry_after)
        rt.metrics.logins.labels("throttled").inc()
        log.warning("login throttled", extra={**who, "scope": decision.scope.value,
                                              "retry_after": wait})
        raise ApiError(429, "too_many_attempts",
                       f"too many failed logins; try again in {wait} s",
                       headers={"Retry-After": str(wait)})
    attempt, ok = decision.attempt, False
    try:
        if decision.delay > 0:
            rt.metrics.logins.labels("slowed").inc()
            log.warning("login slowed", extra={**who, "delay": round(decision.delay, 2)})
            await asyncio.sleep(decision.delay)
        async with rt.sessions() as session:
            user = await get_user(session, body.username)
        ok = await rt.offload.password(verify_password, user, body.password)
        ok = ok and user is not None and not user.disabled
    finally:
        # Settled even when cancelled or failing: an attempt that was not proven right
        # counts as a failure.
        if ok:
            rt.login_throttle.succeeded(attempt, rt.now())
        else:
            rt.login_throttle.failed(attempt, rt.now())
    if not ok or user is None:
        rt.metrics.logins.labels("failed").inc()
        log.warning("login failed", extra=who)
        raise ApiError(401, "invalid_credentials", "wrong username or password")
    rt.metrics.logins.labels("ok").inc()
    log.info("login", extra={"username": user.username, "address": address})
    return TokenResponse(access_token=rt.tokens.issue(user, rt.now()),
                         expires_in=rt.settings.token_ttl_seconds)


@router.get("/api/me", tags=["auth"], response_model=MeResponse, responses=responses(401))
async def me(principal: PrincipalDep) -> MeResponse:
    return MeResponse(
        id=principal.user_id, username=principal.username,
        display_name=principal.display_name, role=principal.role, agency=principal.agency,
        agency_kind=principal.agency_kind.value, unit_callsign=principal.unit_callsign,
    )


class NodeOut(BaseModel):
    id: str
    url: str
    draining: bool


class NodesResponse(BaseModel):
    node: str
    nodes: list[NodeOut]


@router.get("/api/cluster/nodes", tags=["ops"], response_model=NodesResponse,
            responses=responses(401))
async def cluster_nodes(rt: RuntimeDep, principal: PrincipalDep) -> NodesResponse:
    """The nodes a client may use (this one first), for clients that move on when their
    node drains or dies. One node, unclustered, lists itself as ``local``."""
    if rt.cluster is None:
        return NodesResponse(node="local", nodes=[
            NodeOut(id="local", url=rt.settings.public_url, draining=False)])
    live = await rt.cluster.live_nodes()
    mine = [n for n in live if n.node_id == rt.cluster.node_id]
    others = [n for n in live if n.node_id != rt.cluster.node_id]
    return NodesResponse(node=rt.cluster.node_id, nodes=[
        NodeOut(id=n.node_id, url=n.public_url, draining=n.draining) for n in mine + others])
