"""REST endpoints of the radio: talkgroups (incl. dynamic ones), presence, and the
officers' last known positions."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from kernel.auth import Principal
from kernel.deps import PrincipalDep, RuntimeDep, require_role
from kernel.errors import ApiError, responses
from kernel.identity import Role, User
from ptt.errors import CommandRefused
from ptt.protocol import identity as identity_json
from ptt.protocol import right_names
from ptt.server.dynamic import (
    NoSuchTalkgroup,
    TalkgroupExists,
    close_talkgroup,
    open_talkgroup,
)
from ptt.server.service import RadioService
from ptt.store.models import PositionRow
from ptt.talkgroup import Identity, Right
from ptt.talkgroup import Role as RadioRole

router = APIRouter(prefix="/api", tags=["radio"],
                   responses=responses(401, 403, 404, 409, 422))
DispatcherDep = Annotated[Principal, Depends(require_role(Role.DISPATCHER, Role.SUPERVISOR,
                                                          Role.ADMIN))]


def radio_service(request: Request) -> RadioService:
    service: RadioService = request.app.state.runtime.services["radio"]
    return service


ServiceDep = Annotated[RadioService, Depends(radio_service)]


def identity_of(principal: Principal) -> Identity:
    return Identity(principal.user_id, principal.username, principal.display_name,
                    principal.agency, RadioRole(principal.role.value), principal.unit_callsign)


class TalkgroupOut(BaseModel):
    id: str
    name: str
    agencies: list[str]
    dynamic: bool
    rights: list[str]
    talker: dict[str, object] | None
    #: When the talker's transmission began (UTC): a screen opened mid-talk shows its clock.
    talker_since: datetime | None
    emergency: bool
    online: int
    patched_with: list[str]


class PositionOut(BaseModel):
    """A user's last known position: the fields of the ``location`` message, plus
    whether the user has a radio session now."""

    user: dict[str, object]
    lat: float
    lon: float
    accuracy: float | None
    at: datetime
    online: bool


class TalkgroupIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    code: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    members: list[str] = Field(default_factory=list, max_length=200,
                               description="Usernames invited to the group")
    agencies: list[str] = Field(default_factory=list, max_length=10)
    peril_agencies: list[str] = Field(
        default_factory=list, max_length=10,
        description="Agencies (of `agencies`) whose officers may ask for the floor as "
        "imminent peril; dispatchers and supervisors always may")
    incident_ref: str | None = Field(default=None, max_length=40)
    max_talk_seconds: int = Field(default=60, ge=5, le=600)


@router.get("/talkgroups", response_model=list[TalkgroupOut])
async def list_talkgroups(principal: PrincipalDep, service: ServiceDep) -> list[TalkgroupOut]:
    """The talkgroups the caller may use, with their live state."""
    me, radio = identity_of(principal), service.radio
    out = []
    for tg in radio.roster.talkgroups.values():
        rights = tg.rights_of(me)
        if rights == Right.NONE:
            continue
        status = radio.floor_status(tg.id)
        out.append(TalkgroupOut(
            id=tg.id, name=tg.name, agencies=sorted(tg.agencies), dynamic=tg.dynamic,
            rights=right_names(rights),
            talker=identity_json(status.holder.member) if status.holder else None,
            talker_since=service.talking_since(tg.id) if status.holder else None,
            emergency=radio.emergency(tg.id) is not None,
            online=len(radio.roster.members(tg.id)),
            patched_with=[g for g in status.talkgroups if g != tg.id],
        ))
    return out


@router.post("/talkgroups", status_code=201, response_model=TalkgroupOut)
async def create_talkgroup(body: TalkgroupIn, principal: DispatcherDep, rt: RuntimeDep,
                           service: ServiceDep) -> TalkgroupOut:
    """Open a dynamic talkgroup (for an incident, say) with invited members."""
    code = body.code or _slug(body.name)
    async with rt.sessions() as s:
        users = {u.username: u.id for u in (await s.execute(
            select(User).where(User.username.in_(body.members)))).scalars()}
    missing = sorted(set(body.members) - set(users))
    if missing:
        raise ApiError(422, "unknown_user", f"unknown users: {', '.join(missing)}")
    if not set(body.peril_agencies) <= set(body.agencies):
        raise ApiError(422, "invalid_request",
                       "peril_agencies: an agency may claim imminent peril only where it talks")
    try:
        await open_talkgroup(rt.sessions, service, code=code, name=body.name,
                             members=users.values(), agencies=body.agencies,
                             peril_agencies=body.peril_agencies,
                             incident_ref=body.incident_ref,
                             max_talk_seconds=body.max_talk_seconds,
                             created_by=principal.user_id)
    except TalkgroupExists:
        raise ApiError(409, "talkgroup_exists", f"talkgroup {code!r} already exists") from None
    return (await list_one(principal, service, code))


async def list_one(principal: Principal, service: RadioService, code: str) -> TalkgroupOut:
    for tg in await list_talkgroups(principal, service):
        if tg.id == code:
            return tg
    raise ApiError(404, "unknown_talkgroup", f"no talkgroup {code!r}")


@router.delete("/talkgroups/{code}", status_code=204, response_class=Response)
async def delete_talkgroup(code: str, principal: DispatcherDep, rt: RuntimeDep,
                           service: ServiceDep) -> Response:
    """Close a dynamic talkgroup; static ones cannot be removed here."""
    try:
        await close_talkgroup(rt.sessions, service, code)
    except NoSuchTalkgroup:
        raise ApiError(404, "unknown_talkgroup", f"no talkgroup {code!r}") from None
    except CommandRefused as exc:
        raise ApiError(409, exc.code.value, f"cannot remove {code!r}: {exc.code.value}") \
            from None
    return Response(status_code=204)


@router.get("/radio/presence")
async def presence(principal: PrincipalDep, service: ServiceDep) -> list[dict[str, object]]:
    """Who is connected to the radio now, as far as the caller may know: everyone for
    dispatchers, supervisors and admins; for anyone else, the members of its own talkgroups
    (``ptt.talkgroup``, rule 5)."""
    return [identity_json(i)
            for i in service.radio.roster.presence_seen_by(identity_of(principal))]


@router.get("/radio/positions", response_model=list[PositionOut])
async def positions(principal: DispatcherDep, rt: RuntimeDep,
                    service: ServiceDep) -> list[PositionOut]:
    """The last known position of every enabled user, newest first.

    The ``location`` messages reach only the dispatchers connected when they are sent;
    this lets a console that has just opened place everyone at once. Dispatchers only,
    as for those messages.
    """
    online = {who.user_id for who in service.radio.roster.presence()}
    async with rt.sessions() as s:
        rows = (await s.execute(
            select(PositionRow, User).join(User, User.id == PositionRow.user_id)
            .where(User.disabled.is_(False)).order_by(PositionRow.at.desc(), User.id))).all()
    return [PositionOut(user=identity_json(identity_of(Principal.of(user))), lat=pos.lat,
                        lon=pos.lon, accuracy=pos.accuracy_m, at=pos.at,
                        online=user.id in online)
            for pos, user in rows]


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40]
    if not slug:
        raise ApiError(422, "invalid_request", "name: give a code or a name with letters")
    return slug
