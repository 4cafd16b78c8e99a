"""Replay of recorded transmissions: the ``/api/transmissions`` REST API and the ``recent``
signaling message.

Rules:

1. A caller sees the transmissions of the talkgroups it may listen to (its role and agency,
   ``ptt.talkgroup``); dispatchers and supervisors see every talkgroup, including dynamic
   ones since closed. A transmission the caller may not hear answers 404, as if absent, and
   so does a list filtered on a talkgroup it may not hear (the same answer as for a
   talkgroup that does not exist: a caller cannot probe which talkgroups exist).
2. Lists are newest first and paginated (``limit`` up to 200, ``offset``); ``total`` counts
   every match. ``recent`` answers the last :data:`RECENT_LIMIT` transmissions of one
   talkgroup started within :data:`RECENT_WINDOW` and ended, oldest first (the order to play
   them in). A floor grant during which nobody talked is not a transmission (the store
   deletes its row), so it is never listed.
3. Audio is ``audio/ogg`` (Ogg Opus), served whole or in one byte range as
   ``kernel.ranges`` says (206 with ``Content-Range``, 416 for a bad range).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kernel.deps import PrincipalDep, RowId, RuntimeDep, UtcTime
from kernel.errors import ApiError, responses
from kernel.identity import User
from kernel.ranges import requested_span
from ptt import protocol as p
from ptt.server.api import DispatcherDep, ServiceDep, identity_of
from ptt.server.recorder import resolve
from ptt.server.service import Client, RadioService
from ptt.store.models import TransmissionRow
from ptt.talkgroup import DISPATCH_ROLES, Identity, Right

router = APIRouter(prefix="/api/transmissions", tags=["radio"],
                   responses=responses(401, 403, 404, 422))

RECENT_LIMIT: Final = 50
RECENT_WINDOW: Final = timedelta(hours=24)


class Talker(BaseModel):
    user_id: int
    username: str
    name: str


class TransmissionOut(BaseModel):
    id: int
    talkgroup: str
    talker: Talker
    call_type: str
    started_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    duration_ms: int | None
    bytes: int | None
    incident_ref: str | None
    audio_url: str | None


class TransmissionPage(BaseModel):
    items: list[TransmissionOut]
    total: int
    limit: int
    offset: int


def audio_url(row_id: int) -> str:
    return f"/api/transmissions/{row_id}/audio"


def _out(row: TransmissionRow, username: str, name: str) -> TransmissionOut:
    return TransmissionOut(
        id=row.id, talkgroup=row.talkgroup,
        talker=Talker(user_id=row.talker_id, username=username, name=name),
        call_type=row.call_type, started_at=row.started_at, ended_at=row.ended_at,
        end_reason=row.end_reason, duration_ms=row.duration_ms, bytes=row.bytes,
        incident_ref=row.incident_ref, audio_url=audio_url(row.id) if row.path else None)


def audible(service: RadioService, who: Identity) -> set[str] | None:
    """The talkgroups ``who`` may replay; None means all of them (rule 1)."""
    if who.role in DISPATCH_ROLES:
        return None
    return {tg.id for tg in service.radio.roster.talkgroups.values()
            if Right.LISTEN in tg.rights_of(who)}


def _query(allowed: set[str] | None) -> Select[TransmissionRow, str, str]:
    q = select(TransmissionRow, User.username, User.display_name).join(
        User, User.id == TransmissionRow.talker_id)
    return q if allowed is None else q.where(TransmissionRow.talkgroup.in_(sorted(allowed)))


@router.get("", response_model=TransmissionPage)
async def list_transmissions(
    principal: PrincipalDep, rt: RuntimeDep, service: ServiceDep,
    talkgroup: str | None = None,
    talker: Annotated[str | None, Query(description="Username of the talker")] = None,
    since: Annotated[UtcTime | None, Query(description="Started at or after (ISO 8601)")] = None,
    until: Annotated[UtcTime | None, Query(description="Started before (ISO 8601)")] = None,
    incident_ref: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> TransmissionPage:
    """Recorded transmissions the caller may hear, newest first, with filters."""
    allowed = audible(service, identity_of(principal))
    if talkgroup is not None and allowed is not None and talkgroup not in allowed:
        raise ApiError(404, "not_found", f"no talkgroup {talkgroup} to list")
    q = _query(allowed)
    if talkgroup is not None:
        q = q.where(TransmissionRow.talkgroup == talkgroup)
    if talker is not None:
        q = q.where(User.username == talker)
    if since is not None:
        q = q.where(TransmissionRow.started_at >= since)
    if until is not None:
        q = q.where(TransmissionRow.started_at < until)
    if incident_ref is not None:
        q = q.where(TransmissionRow.incident_ref == incident_ref)
    async with rt.sessions() as s:
        total = (await s.execute(select(func.count()).select_from(q.subquery()))).scalar_one()
        rows = (await s.execute(q.order_by(TransmissionRow.started_at.desc(),
                                           TransmissionRow.id.desc())
                                .limit(limit).offset(offset)))
        items = [_out(*row) for row in rows]
    return TransmissionPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/status")
async def recording_status(principal: DispatcherDep, rt: RuntimeDep) -> dict[str, Any]:
    """Recorder and WebSocket audio health for the console: ``alarm`` is set while
    recordings fail (disk full, directory not writable)."""
    recorder = rt.services.get("recorder")
    wsaudio = rt.services.get("wsaudio")
    return {
        "recording": recorder is not None,
        "alarm": recorder.alarm if recorder is not None else None,
        "recorder": _counters(recorder.metrics) if recorder is not None else {},
        "wsaudio": wsaudio.counters() if wsaudio is not None else {},
    }


def _counters(metrics: object) -> dict[str, int]:
    return {k: getattr(metrics, k) for k in getattr(metrics, "__slots__", ())}


async def _row(rt: Any, service: RadioService, principal: Any,
               transmission_id: int) -> TransmissionOut:
    allowed = audible(service, identity_of(principal))
    async with rt.sessions() as s:
        found = (await s.execute(_query(allowed).where(
            TransmissionRow.id == transmission_id))).first()
    if found is None:
        raise ApiError(404, "not_found", f"no transmission {transmission_id}")
    return _out(*found)


@router.get("/{transmission_id}", response_model=TransmissionOut)
async def get_transmission(transmission_id: RowId, principal: PrincipalDep, rt: RuntimeDep,
                           service: ServiceDep) -> TransmissionOut:
    return await _row(rt, service, principal, transmission_id)


@router.get("/{transmission_id}/audio", response_class=Response,
            responses={200: {"content": {"audio/ogg": {}}}, 206: {"content": {"audio/ogg": {}}},
                       **responses(416)})
async def get_audio(transmission_id: RowId, request: Request, principal: PrincipalDep,
                    rt: RuntimeDep, service: ServiceDep) -> Response:
    """The recording as Ogg Opus; supports one byte range (rule 3)."""
    await _row(rt, service, principal, transmission_id)
    async with rt.sessions() as s:
        relative = (await s.execute(select(TransmissionRow.path).where(
            TransmissionRow.id == transmission_id))).scalar_one_or_none()
    if relative is None:
        raise ApiError(404, "not_recorded", f"transmission {transmission_id} has no recording")
    path = resolve(rt.settings.recordings_path, relative)
    try:
        if path is None:
            raise FileNotFoundError(relative)
        data = await asyncio.to_thread(path.read_bytes)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise ApiError(404, "audio_missing", f"recording {relative} is missing") from None
    headers = {"Accept-Ranges": "bytes",
               "Content-Disposition": f'inline; filename="{Path(relative).name}"'}
    span = requested_span(request.headers.get("range"), len(data))
    if span is None:
        return Response(data, 200, headers=headers, media_type="audio/ogg")
    start, end = span
    headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
    return Response(data[start:end + 1], 206, headers=headers, media_type="audio/ogg")


# -- the ``recent`` signaling message -----------------------------------------------------


class RecentHandler:
    """Answers ``recent`` on ``/ws`` (rule 2): what a client missed in a dead zone."""

    def __init__(self, service: RadioService, sessions: async_sessionmaker[AsyncSession],
                 ) -> None:
        self.service = service
        self.sessions = sessions

    async def __call__(self, client: Client, cmd: p.Recent) -> None:
        tg = self.service.radio.roster.talkgroups.get(cmd.talkgroup)
        if tg is None:
            self.service.send(client, p.error_message(
                "unknown_talkgroup", cmd.talkgroup, cmd.ref))
            return
        if Right.LISTEN not in tg.rights_of(client.identity):
            self.service.send(client, p.error_message(
                "no_right", f"no listen right on {cmd.talkgroup}", cmd.ref))
            return
        since = self.service.utcnow() - RECENT_WINDOW
        q = (_query(None).where(TransmissionRow.talkgroup == tg.id,
                                TransmissionRow.started_at >= since,
                                TransmissionRow.ended_at.is_not(None))
             .order_by(TransmissionRow.started_at.desc(), TransmissionRow.id.desc())
             .limit(RECENT_LIMIT))
        async with self.sessions() as s:
            items = [_out(*row).model_dump(mode="json")
                     for row in (await s.execute(q))]
        self.service.send(client, p.message("recent", cmd.ref, talkgroup=tg.id,
                                            transmissions=items[::-1]))
