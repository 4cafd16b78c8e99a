"""HTTP routes of the crews' SMS: provider webhooks, the status link page, the console's API.

Webhooks (no login: the provider's signature is checked by :mod:`dispatch.sms.webhooks`):

- ``POST /sms/twilio/inbound``, ``POST /sms/http/inbound``: a crew's SMS. Stored and queued
  (:meth:`Inbox.accept`), answered at once: empty TwiML for Twilio, ``{"ok": true}`` for the
  HTTP gateway, also for a duplicate delivery.
- ``POST /sms/twilio/status``, ``POST /sms/http/status``: delivery reports.

Each answers 404 unless its gateway is the configured one, and the status
:class:`WebhookRejected` names (403 bad or missing signature, 400, 405, 413) otherwise; a
refusal is logged with its reason and never explained to the caller.

The status link (no login: the signed token is the credential, :mod:`dispatch.sms.taplink`):
``GET /t/{token}`` shows the page (it never changes anything: SMS apps and chat previews fetch
links), ``POST /t/{token}`` with ``status=<code>`` reports a status. Pages are plain HTML
forms (no script, no external asset) with ``Referrer-Policy: no-referrer`` so the token never
leaks through the map link.

The console (dispatch roles): ``GET /api/incidents/{id}/sms`` (the incident's SMS thread),
``GET /api/sms`` (latest messages), ``POST /api/sms/simulate`` (a crew's reply through the
console gateway, for demos).
"""

from __future__ import annotations

import functools
import html
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from dispatch.api.deps import DispatcherDep, ServiceDep
from dispatch.domain import AssignmentStatus, CancelReason, Complaint, Triage
from dispatch.errors import DispatchError
from dispatch.lifecycle import Trigger, UnitTrigger
from dispatch.service import Actor
from dispatch.sms import taplink
from dispatch.sms.gateway import WebhookRequest
from dispatch.sms.outbox import SmsView
from dispatch.sms.webhooks import MAX_BODY_BYTES, WebhookRejected
from dispatch.sms_text import REPLY_CODES, WIB, map_link, patient_count
from dispatch.store.models import (
    AssignmentRow,
    AuditEventRow,
    HospitalRow,
    IncidentRow,
    UnitRow,
)
from dispatch.travel import LatLon
from kernel.deps import RowId
from kernel.errors import ApiError, responses

if TYPE_CHECKING:
    from dispatch.service import DispatchService
    from dispatch.sms.wiring import SmsSide

log = logging.getLogger("dispatch.sms")
router = APIRouter(responses=responses(401, 403, 404, 422))

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
PAGE_PATH = Path(__file__).with_name("tap.html")
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
}
MAX_FORM_BYTES = 4096


def sms_side(request: Request) -> SmsSide:
    side: SmsSide = request.app.state.runtime.services["sms"]
    return side


async def read_capped(request: Request, limit: int) -> bytes:
    """The body, stopping one chunk past ``limit`` (the parser then refuses it as too large)."""
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            break
    return bytes(data)


async def webhook_request(request: Request) -> WebhookRequest:
    query = request.url.query
    return WebhookRequest(request.method, request.url.path + (f"?{query}" if query else ""),
                          dict(request.headers), await read_capped(request, MAX_BODY_BYTES))


def _check_gateway(side: SmsSide, name: str) -> None:
    if side.outbox.gateway.name != name:
        raise ApiError(404, "not_found", f"the {name} gateway is not configured")


def _rejected(request: Request, webhook: WebhookRequest, exc: WebhookRejected) -> Response:
    log.warning("sms webhook rejected", extra={
        "reason": exc.reason.value, "detail": exc.detail, "path": webhook.path,
        "client": request.client.host if request.client else None})
    return Response(status_code=exc.http_status)


def _ack(name: str) -> Response:
    if name == "twilio":
        return Response(EMPTY_TWIML, media_type="text/xml")
    return JSONResponse({"ok": True})


async def _inbound(request: Request, name: str) -> Response:
    side = sms_side(request)
    _check_gateway(side, name)
    webhook = await webhook_request(request)
    try:
        sms = side.outbox.gateway.parse_inbound(webhook)
    except WebhookRejected as exc:
        return _rejected(request, webhook, exc)
    await side.inbox.accept(sms, name)
    return _ack(name)


async def _status(request: Request, name: str) -> Response:
    side = sms_side(request)
    _check_gateway(side, name)
    webhook = await webhook_request(request)
    try:
        report = side.outbox.gateway.parse_status(webhook)
    except WebhookRejected as exc:
        return _rejected(request, webhook, exc)
    await side.outbox.record_status(report)
    return _ack(name)


@router.post("/sms/twilio/inbound", include_in_schema=False)
async def twilio_inbound(request: Request) -> Response:
    return await _inbound(request, "twilio")


@router.post("/sms/twilio/status", include_in_schema=False)
async def twilio_status(request: Request) -> Response:
    return await _status(request, "twilio")


@router.post("/sms/http/inbound", include_in_schema=False)
async def http_inbound(request: Request) -> Response:
    return await _inbound(request, "http")


@router.post("/sms/http/status", include_in_schema=False)
async def http_status(request: Request) -> Response:
    return await _status(request, "http")


# --- the console ----------------------------------------------------------------------


class SimulateIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    from_: str = Field(alias="from", min_length=3, max_length=32)
    body: str = Field(max_length=1600)


class SimulateOut(BaseModel):
    message: SmsView
    answer: str | None


@router.get("/api/incidents/{incident_id}/sms", response_model=list[SmsView], tags=["sms"])
async def incident_sms(incident_id: RowId, request: Request, who: DispatcherDep,
                       service: ServiceDep) -> list[SmsView]:
    """The incident's SMS, oldest first: dispatch SMS per crew phone with their delivery,
    the crews' replies (once matched to the incident) and our answers."""
    async with service.sessions() as s:
        await service.need_incident(s, incident_id)
    return await sms_side(request).outbox.thread(incident_id)


@router.get("/api/sms", response_model=list[SmsView], tags=["sms"])
async def recent_sms(request: Request, who: DispatcherDep,
                     limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[SmsView]:
    """The latest SMS in and out, newest first (also those from unknown numbers)."""
    return await sms_side(request).outbox.recent(limit)


@router.post("/api/sms/simulate", response_model=SimulateOut, tags=["sms"])
async def simulate(body: SimulateIn, request: Request, who: DispatcherDep) -> SimulateOut:
    """A crew's SMS reply, as if it came from ``from`` (demo; console gateway only).

    Applied at once, through the same path as a provider's webhook; ``answer`` is what the
    crew is sent back, if anything."""
    side = sms_side(request)
    gateway = side.outbox.gateway
    if gateway.name != "console":
        raise ApiError(409, "console_gateway_only",
                       "simulated replies need SIAGA_SMS_GATEWAY=console")
    raw = json.dumps({"from": body.from_, "body": body.body}).encode()
    try:
        sms = gateway.parse_inbound(WebhookRequest("POST", "/api/sms/simulate", {}, raw))
    except WebhookRejected as exc:
        raise ApiError(422, "invalid_request", exc.detail or exc.reason.value) from None
    log.info("simulated crew sms", extra={"username": who.username, "sms_from": sms.from_})
    row_id = await side.inbox.accept(sms, gateway.name, queue=False)
    result = await side.inbox.process(row_id) if row_id is not None else None
    if result is None:
        raise ApiError(409, "conflict", "the message was already processed")
    return SimulateOut(message=result.message, answer=result.answer)


# --- the status link ------------------------------------------------------------------


@dataclass
class TapContext:
    claims: taplink.TapClaims
    assignment: AssignmentRow
    incident: IncidentRow
    unit: UnitRow
    hospital: HospitalRow | None
    kelurahan: str
    used: dict[Trigger, datetime]
    replaced: bool  # another unit was sent to the incident after this one was stood down


async def tap_context(request: Request, token: str) -> TapContext:
    """The verified token and what its page shows; raises ``TapLinkRejected``."""
    runtime = request.app.state.runtime
    side = sms_side(request)
    service: DispatchService = runtime.services["dispatch"]
    claims = taplink.verify(side.outbox.config.token_secret, token, runtime.now())
    async with runtime.sessions() as s:
        assignment = await s.get(AssignmentRow, claims.assignment_id, populate_existing=True)
        if assignment is None or assignment.unit_id != claims.unit_id:
            # Signed by us for a row that is not there: a database rebuilt under old links.
            raise taplink.TapLinkRejected(taplink.TapReject.BAD_SIGNATURE)
        incident = await s.get(IncidentRow, assignment.incident_id, populate_existing=True)
        unit = await s.get(UnitRow, assignment.unit_id, populate_existing=True)
        assert incident is not None and unit is not None  # foreign keys
        hospital = (await s.get(HospitalRow, assignment.hospital_id)
                    if assignment.hospital_id else None)
        audit = await s.execute(
            select(AuditEventRow.action, AuditEventRow.at)
            .where(AuditEventRow.entity_type == "assignment",
                   AuditEventRow.entity_id == assignment.id,
                   AuditEventRow.actor == Actor.link(unit.callsign).name)
            .order_by(AuditEventRow.id))
        triggers = {t.value: t for t in Trigger}
        used = {triggers[action]: at for action, at in audit if action in triggers}
        later = await s.execute(
            select(AssignmentRow.id).where(AssignmentRow.incident_id == incident.id,
                                           AssignmentRow.id > assignment.id).limit(1))
        replaced = later.first() is not None
    return TapContext(claims, assignment, incident, unit, hospital,
                      service.place(incident.kelurahan_id).kelurahan, used, replaced)


@functools.cache
def page_template() -> Template:
    """Read on first use: a missing file (package data left out of an install) breaks the
    status page only, and :class:`~dispatch.sms.wiring.SmsFeature` says so at start."""
    return Template(PAGE_PATH.read_text(encoding="utf-8"))


def _wib(moment: datetime) -> str:
    return f"{moment.astimezone(WIB):%d/%m %H:%M} WIB"


def _notice(kind: str, text: str) -> str:
    return f'<p class="notice {kind}" role="status">{html.escape(text)}</p>'


def _page(status: int, *, title: str, header: str, notice: str = "", body: str = "",
          footer: str = "") -> HTMLResponse:
    text = page_template().substitute(title=html.escape(title), header=header, notice=notice,
                                      body=body, footer=footer)
    return HTMLResponse(text, status_code=status, headers=PAGE_HEADERS)


def refused_page(exc: taplink.TapLinkRejected) -> HTMLResponse:
    status = 410 if exc.reason is taplink.TapReject.EXPIRED else 403
    return _page(status, title="PSC 119", header="<h1>PSC 119</h1>",
                 notice=_notice("error", exc.message.id),
                 footer=html.escape(f"Lapor lewat SMS ({REPLY_CODES}) atau lewat radio."))


def ended_notice(ctx: TapContext) -> str:
    """Why the job is over, when the dispatch room ended it: the crew must stop at once."""
    assignment = ctx.assignment
    reason = CancelReason[assignment.cancel_reason] if assignment.cancel_reason else None
    if reason not in (CancelReason.DISPATCHER, CancelReason.OUT_OF_SERVICE):
        return ""
    assert assignment.cancelled_at is not None  # stamped with the cancellation
    by = assignment.cancelled_by or "PSC 119"
    when = _wib(assignment.cancelled_at)
    if reason is CancelReason.OUT_OF_SERVICE:
        text = (f"Tugas dihentikan: unit dinonaktifkan oleh {by} ({when}). "
                "Aktif lagi hanya lewat PSC 119.")
    elif ctx.replaced:
        text = f"Tugas dialihkan ke unit lain oleh {by} ({when}). Hentikan tugas ini."
    else:
        text = f"Tugas dibatalkan oleh {by} ({when}). Hentikan tugas ini."
    return _notice("error ended", text)


def status_page(ctx: TapContext, *, status: int = 200, notice: str = "") -> HTMLResponse:
    """The crew's single screen: the whole incident, their status and the buttons."""
    incident, assignment, unit = ctx.incident, ctx.assignment, ctx.unit
    triage, complaint = Triage[incident.triage], Complaint[incident.complaint]
    current = AssignmentStatus[assignment.status]
    e = html.escape
    header = (f"<h1>{e(incident.number)}</h1>"
              f'<p class="case"><span class="triage {triage.value}">{e(triage.name)}</span> '
              f"{e(complaint.label.id)} &middot; "
              f"{patient_count(incident.patients, assignment.patients)}</p>")
    ended = ended_notice(ctx)
    buttons = []
    for choice in taplink.TAP_STATUSES:
        at = ctx.used.get(taplink.trigger_of(choice))
        extra = " disabled" if at is not None else ""
        note = f"<small>sudah {at.astimezone(WIB):%H:%M}</small>" if at is not None else ""
        buttons.append(f'<button name="status" value="{choice.code}" class="{choice.code}"'
                       f"{extra}>{e(choice.label.id)}{note}</button>")
    form = "" if ended else f'<form class="buttons" method="post">{"".join(buttons)}</form>'
    approximate = " (perkiraan: pusat kelurahan)" if incident.location_approximate else ""
    caller = e(incident.caller_name or "-")
    if incident.caller_phone:
        caller += (f' &middot; <a href="tel:{e(incident.caller_phone)}">'
                   f"{e(incident.caller_phone)}</a>")
    details = [("Alamat", e(incident.address or "-"))]
    if incident.landmark:
        details.append(("Patokan", e(incident.landmark)))
    details += [("Kelurahan", e(ctx.kelurahan)),
                ("Peta", f'<a href="{e(map_link(LatLon(incident.lat, incident.lon)))}" '
                         f'rel="noreferrer noopener" target="_blank">Buka peta</a>'
                         f"{e(approximate)}"),
                ("Pasien", str(incident.patients)),
                ("Pelapor", caller)]
    if incident.notes:
        details.append(("Keterangan", e(incident.notes)))
    details += [("Rumah sakit", e(ctx.hospital.name if ctx.hospital else "belum ditentukan")),
                ("Ditugaskan", e(_wib(assignment.dispatched_at)))]
    body = (f'<p class="now">Unit <strong>{e(unit.callsign)}</strong>: '
            f"<strong>{e(current.label.id)}</strong></p>{form}"
            f"<dl>{''.join(f'<dt>{k}</dt><dd>{v}</dd>' for k, v in details)}</dl>")
    expires = datetime.fromtimestamp(ctx.claims.expires_at, UTC)
    footer = e(f"Tautan ini untuk kru {unit.callsign}, berlaku sampai {_wib(expires)}. "
               f"Tanpa data internet? {REPLY_CODES}.")
    return _page(status, title=f"PSC 119 {incident.number}", header=header,
                 notice=ended + notice, body=body, footer=footer)


@router.get("/t/{token}", include_in_schema=False)
async def tap_page(token: str, request: Request) -> HTMLResponse:
    try:
        return status_page(await tap_context(request, token))
    except taplink.TapLinkRejected as exc:
        return refused_page(exc)


@router.post("/t/{token}", include_in_schema=False)
async def tap_apply(token: str, request: Request) -> HTMLResponse:
    try:
        ctx = await tap_context(request, token)
    except taplink.TapLinkRejected as exc:
        log.warning("status link refused", extra={"reason": exc.reason.value})
        return refused_page(exc)
    form = dict(parse_qsl((await read_capped(request, MAX_FORM_BYTES)).decode("utf-8",
                                                                             "replace")))
    choice = taplink.BY_CODE.get(form.get("status", ""))
    if choice is None:
        return status_page(ctx, status=400, notice=_notice("error", "Pilih salah satu status"))
    reused = taplink.reuse_refusal(choice, ctx.used)
    if reused is not None:
        return status_page(ctx, status=409, notice=_notice("error", reused.id))
    trigger = taplink.action(choice, AssignmentStatus[ctx.assignment.status])
    service: DispatchService = request.app.state.runtime.services["dispatch"]
    actor = Actor.link(ctx.unit.callsign)
    try:
        if isinstance(trigger, UnitTrigger):
            result = await service.apply_crew_status(trigger=trigger, actor=actor,
                                                     unit_id=ctx.unit.id)
        else:
            result = await service.apply_crew_status(trigger=trigger, actor=actor,
                                                     assignment_id=ctx.assignment.id)
    except DispatchError as exc:
        return status_page(ctx, status=409, notice=_notice("error", exc.message.id))
    log.info("status link used", extra={"assignment_id": ctx.assignment.id,
                                        "unit": ctx.unit.callsign, "status": choice.code,
                                        "changed": result.changed})
    ctx = await tap_context(request, token)
    text = (f"Tercatat: {choice.label.id}" if result.changed
            else f"Status {choice.label.id} sudah tercatat")
    return status_page(ctx, notice=_notice("ok", text))
