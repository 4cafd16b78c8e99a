"""Outbound SMS: the crew's dispatch SMS, the hospital's pre-arrival SMS and our answers to
crews, each stored as a row of ``sms_messages`` before it is sent.

Rules:

1. A message is a row before it is a request. The row (``queued``) carries the dedup key
   (``dispatch:<assignment>:<phone>``, ``prearrival:<assignment>:<phone>``,
   ``notice:<kind>:<assignment>:<ms>:<phone>`` for a change to a crew's job,
   ``reply:<inbound message>``), so an announcement handled twice, or again after a restart,
   finds its key and sends nothing new.
2. :class:`SqlDedupStore` is the gateways' dedup store on the same rows: the latest outcome of
   a key survives a restart, so a ``SENT`` key is never sent again and an ``UNKNOWN`` one is
   reconciled by the gateway before anything is resent.
3. ``UNKNOWN`` and retryable ``NOT_SENT`` outcomes are tried again after ``retry_after``, with
   the same key, up to :data:`MAX_ATTEMPTS` attempts; never under a new key. A dispatch SMS is
   no longer retried once the assignment has moved on (the crew answered some other way). A
   row found ``sending`` at start-up was cut off in flight: it becomes ``UNKNOWN``
   (``interrupted``) and is retried, so the gateway looks before it resends.
4. What could not be sent (a dispatch, pre-arrival or job change SMS), a delivery report
   ``failed``/``undelivered``, a unit without a crew phone and (pre-arrival SMS on) a
   destination hospital without a phone are escalations on the console (``sms.failed``),
   with what to do instead.
5. Delivery reports apply once per (provider id, status) and never move a message backwards
   (a late ``sent`` after ``delivered`` is ignored). A report that overtakes the send's own
   answer is held briefly and applied when the provider id is stored (on several nodes,
   where another node may be the sender, each sweep tries the held reports again).
6. Sending never blocks the bus: each message is sent by its own task (:meth:`Outbox.spawn`);
   :meth:`Outbox.drain` waits for them. Retries are armed on one ``loop.call_at``.
7. A row is sent by the node that *claims* it: in one short transaction the row is selected
   ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite has one process, whose claims take turns
   on a lock) while it is ``queued`` or ``retrying``, and set ``sending`` with the node's
   id (``claimed_by``) and a lease (``lease_until``). Two nodes never claim one row: the
   second skips it while it is locked and finds it ``sending`` after. The claim is
   committed before the provider is called, so no database lock is held during a send;
   the lease is what holds the row. An attempt is cut off at two thirds of the lease (its
   outcome is then ``UNKNOWN`` and reconciled), so a live node always settles its row
   before the lease ends; a node that died mid-send leaves a ``sending`` row whose lease
   expires, and any node then turns it ``UNKNOWN`` (``interrupted``) and retries it with
   reconciliation (rule 3). A node settles only a row it still holds.
8. On one node (no cluster) every ``sending`` row at start-up was this process's and is
   taken over at once. On several, each node also sweeps (:meth:`Outbox.sweep`) for what a
   dead node left: expired leases, retries due, rows queued but never claimed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dispatch.domain import AssignmentStatus, EscalationCause, Label
from dispatch.events import CrewNotified, EscalationRaised, IncidentDispatched
from dispatch.service.stream import StreamHub
from dispatch.service.views import Text
from dispatch.sms import taplink
from dispatch.sms.gateway import (
    DedupEntry,
    DedupKeyReused,
    DeliveryStatus,
    MessageStatus,
    OutboundSms,
    SendOutcome,
    SendResult,
    SmsGateway,
)
from dispatch.sms_text import (
    compose_crew_notice_sms,
    compose_dispatch_sms,
    compose_prearrival_sms,
    sms_parts,
    to_gsm7,
)
from dispatch.store.models import AssignmentRow, IncidentRow, SmsMessageRow, UnitRow
from dispatch.travel import LatLon
from kernel.db import transaction

log = logging.getLogger("dispatch.sms")

Clock = Callable[[], datetime]
MAX_ATTEMPTS = 5
MAX_REPLIES = 3  # answers to one number per REPLY_WINDOW: an auto-responder cannot loop us
REPLY_WINDOW = timedelta(minutes=10)
EARLY_REPORTS = 1000
NO_LINK = "radio"  # printed instead of a link that cannot fit (see docs: SIAGA_PUBLIC_URL)
ESCALATED_KINDS = ("dispatch", "prearrival", "notice")

# Delivery progress; a report is applied only if it moves a message forward (rule 5).
_RANK = {
    MessageStatus.ACCEPTED: 1, MessageStatus.SCHEDULED: 1, MessageStatus.QUEUED: 1,
    MessageStatus.SENDING: 2, MessageStatus.SENT: 3, MessageStatus.DELIVERED: 4,
    MessageStatus.UNDELIVERED: 4, MessageStatus.FAILED: 4, MessageStatus.CANCELED: 4,
    MessageStatus.READ: 5,
}

ADVICE = {
    "dispatch": Label("Telepon kru / gunakan radio / tugaskan unit berikutnya",
                      "Call the crew / use the radio / send the next unit"),
    "prearrival": Label("Telepon IGD rumah sakit", "Call the hospital's emergency department"),
    "notice": Label("Telepon kru / gunakan radio: mereka belum tahu perubahan tugasnya",
                    "Call the crew / use the radio: they do not know their job changed"),
}


class SmsView(BaseModel):
    """One SMS as the console shows it (the thread of an incident, the stream)."""

    id: int
    direction: Literal["out", "in"]
    kind: str
    gateway: str
    phone: str
    body: str
    parts: int
    incident_id: int | None
    assignment_id: int | None
    unit_id: int | None
    reply_to_id: int | None
    state: str
    result: str | None
    provider_id: str | None
    provider_status: str | None
    error_code: str | None
    error_message: str | None
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    status_at: datetime | None
    next_attempt_at: datetime | None
    done_at: datetime | None
    summary: Text


def describe(row: SmsMessageRow) -> Label:
    """One line on what became of a message (for people; branch on the fields instead)."""
    if row.direction == "in":
        return _INBOUND.get(row.result or row.state, Label("Diproses", "Being processed"))
    if row.state == "sent":
        status = MessageStatus.parse(row.provider_status)
        if status.is_failure:
            return Label("Gagal sampai ke ponsel", "Not delivered to the phone")
        if status in (MessageStatus.DELIVERED, MessageStatus.READ):
            return Label("Diterima ponsel", "Delivered to the phone")
        if status is MessageStatus.SENT:
            return Label("Terkirim ke operator", "Handed to the carrier")
        return Label("Diterima gateway SMS", "Accepted by the SMS gateway")
    return _OUTBOUND.get(row.state, Label("Mengirim", "Sending"))


_INBOUND = {
    "applied": Label("Status diterapkan", "Status applied"),
    "unchanged": Label("Status sudah tercatat", "Status already recorded"),
    "refused": Label("Ditolak, alasan dibalas", "Refused, reason sent back"),
    "bad_reply": Label("Tidak terbaca, bantuan dibalas", "Unreadable, help sent back"),
    "help": Label("Minta bantuan, dibalas", "Asked for help, answered"),
    "opt_out": Label("Minta berhenti (STOP)", "Asked to stop (STOP)"),
    "unknown_sender": Label("Nomor tak dikenal, diabaikan", "Unknown number, ignored"),
    "failed": Label("Gagal diproses; hubungi kru", "Could not be processed; contact the crew"),
}
_OUTBOUND = {
    "retrying": Label("Belum pasti terkirim, dicoba lagi", "Outcome unknown, retrying"),
    "failed": Label("Gagal dikirim", "Could not be sent"),
    "cancelled": Label("Tidak dikirim ulang: kru sudah melapor",
                       "Not resent: the crew has reported"),
}


def message_view(row: SmsMessageRow) -> SmsView:
    return SmsView(
        id=row.id, direction="in" if row.direction == "in" else "out", kind=row.kind,
        gateway=row.gateway, phone=row.phone, body=row.body, parts=row.parts,
        incident_id=row.incident_id, assignment_id=row.assignment_id, unit_id=row.unit_id,
        reply_to_id=row.reply_to_id, state=row.state, result=row.result,
        provider_id=row.provider_id, provider_status=row.provider_status,
        error_code=row.error_code, error_message=row.error_message, attempts=row.attempts,
        created_at=row.created_at, sent_at=row.sent_at, status_at=row.status_at,
        next_attempt_at=row.next_attempt_at, done_at=row.done_at,
        summary=Text.of(describe(row)),
    )


def _clip(text: str | None, limit: int = 300) -> str | None:
    return text if text is None or len(text) <= limit else text[: limit - 1] + "…"


class SqlDedupStore:
    """The gateways' :class:`~dispatch.sms.gateway.DedupStore` on ``sms_messages`` (rule 2)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def get(self, key: str) -> DedupEntry | None:
        async with self._sessions() as s:
            row = await _by_key(s, key)
        if row is None or row.outcome is None or row.fingerprint is None:
            return None  # queued, never attempted
        first = row.first_attempt_at or row.last_attempt_at or row.created_at
        result = SendResult(
            SendOutcome(row.outcome), row.provider_id,
            MessageStatus.parse(row.provider_status) if row.provider_status else None,
            row.error_code, row.error_message, row.retryable)
        return DedupEntry(row.fingerprint, result, first, row.last_attempt_at or first)

    async def put(self, key: str, entry: DedupEntry) -> None:
        result = entry.result
        async with transaction(self._sessions) as s:
            row = await _by_key(s, key)
            if row is None:  # a send that did not come through the outbox: keep the key all
                row = SmsMessageRow(direction="out", kind="other", gateway="", phone="",
                                    body="", parts=0, state="sent", dedup_key=key,
                                    created_at=entry.first_attempt_at)
                s.add(row)
            row.fingerprint = entry.fingerprint
            row.outcome = result.outcome.value
            row.retryable = result.retryable
            row.error_code = result.error_code
            row.error_message = _clip(result.error_message)
            row.first_attempt_at = entry.first_attempt_at
            row.last_attempt_at = entry.last_attempt_at
            if result.provider_id:
                row.provider_id = result.provider_id
            if result.status is not None:
                row.provider_status = result.status.value


async def _by_key(s: AsyncSession, key: str) -> SmsMessageRow | None:
    stmt = select(SmsMessageRow).where(SmsMessageRow.dedup_key == key)
    return (await s.execute(stmt.execution_options(populate_existing=True))).scalar_one_or_none()


@dataclass(frozen=True)
class OutboxConfig:
    public_url: str
    token_secret: str
    status_callback: str | None  # where the provider reports delivery (None: console)
    tap_ttl: timedelta = timedelta(hours=12)
    retry_after: timedelta = timedelta(seconds=60)
    prearrival: bool = False
    max_attempts: int = MAX_ATTEMPTS
    node_id: str = "local"  # claimed_by of the rows this node sends (rule 7)
    lease: timedelta = timedelta(seconds=30)
    cluster: bool = False  # other nodes share the rows (rule 8)

    @property
    def attempt_limit(self) -> float:
        """Seconds an attempt may take: two thirds of the lease (rule 7)."""
        return self.lease.total_seconds() * 2 / 3


@dataclass(frozen=True)
class Claimed:
    """A row this node has claimed: what to send, or that it is no longer needed."""

    row_id: int
    sms: OutboundSms
    cancelled: SmsView | None  # the dispatch SMS was cancelled instead (rule 3)


@dataclass(frozen=True)
class Planned:
    kind: str
    key: str
    phone: str
    body: str


class Outbox:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], gateway: SmsGateway, hub: StreamHub,
        config: OutboxConfig, clock: Clock,
    ) -> None:
        self.gateway = gateway
        self.hub = hub
        self.config = config
        self._sessions = sessions
        self._clock = clock
        self._tasks: set[asyncio.Task[Any]] = set()
        self._early: OrderedDict[str, DeliveryStatus] = OrderedDict()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: datetime | None = None
        self._closed = False
        self._claiming = asyncio.Lock()  # SQLite's stand-in for SKIP LOCKED (rule 7)

    def now(self) -> datetime:
        return self._clock()

    # --- life ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Pick up what a previous run left: interrupted sends (rule 3), queued rows."""
        now = self.now()
        await self.recover(now, at_start=True)
        self.spawn(self.pick_up(now if not self.config.cluster else now - self.config.lease))
        await self._arm_next()

    async def sweep(self) -> None:
        """What dead nodes left (rule 8): expired leases, retries due, unclaimed rows."""
        now = self.now()
        await self.recover(now)
        await self.retry_due(now)
        await self.pick_up(now - self.config.lease)
        # Delivery reports that reached this node before another node stored the send's
        # provider id (rule 5): that node cannot hand them over, so look again.
        held, self._early = self._early, OrderedDict()
        for report in held.values():
            await self.record_status(report)

    async def recover(self, now: datetime, *, at_start: bool = False) -> int:
        """Turn ``sending`` rows whose sender is gone into ``UNKNOWN`` retries (rules 3, 7)."""
        stmt = select(SmsMessageRow).where(SmsMessageRow.direction == "out",
                                           SmsMessageRow.state == "sending")
        if self.config.cluster:
            gone: ColumnElement[bool] = or_(SmsMessageRow.lease_until.is_(None),
                                            SmsMessageRow.lease_until < now)
            if at_start:  # and what this node's previous run was sending
                gone = or_(gone, SmsMessageRow.claimed_by == self.config.node_id)
            stmt = stmt.where(gone)
        async with self._claiming, transaction(self._sessions) as s:
            rows = list((await s.execute(
                stmt.order_by(SmsMessageRow.id).with_for_update(skip_locked=True)
                .execution_options(populate_existing=True))).scalars())
            for row in rows:
                if row.outcome is None:
                    row.outcome = SendOutcome.UNKNOWN.value
                    row.error_code = "interrupted"
                    row.first_attempt_at = row.first_attempt_at or row.last_attempt_at
                log.warning("sms send interrupted; retrying it", extra={
                    "sms_id": row.id, "claimed_by": row.claimed_by})
                row.state, row.next_attempt_at, row.lease_until = "retrying", now, None
        return len(rows)

    async def pick_up(self, cutoff: datetime) -> int:
        """Send the rows queued up to ``cutoff`` that nobody claimed; how many."""
        return await self._send_claimed(SmsMessageRow.state == "queued",
                                        SmsMessageRow.created_at <= cutoff)

    async def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(self._guard(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guard(self, work: Coroutine[Any, Any, Any]) -> Any:
        try:
            return await work
        except Exception:
            log.exception("sms work failed")
            return None

    async def drain(self) -> None:
        """Wait until every send started so far (and those they started) has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- bus ----------------------------------------------------------------------------

    async def on_dispatched(self, event: IncidentDispatched) -> None:
        if not self._closed:
            self.spawn(self.send_dispatch(event))

    async def on_escalation(self, event: EscalationRaised) -> None:
        """An unacknowledged dispatch: tell the console what the SMS did (``escalation.sms``)."""
        if self._closed or event.cause is not EscalationCause.NOT_ACKNOWLEDGED:
            return
        async with self._sessions() as s:
            stmt = select(SmsMessageRow).where(SmsMessageRow.assignment_id == event.assignment_id,
                                               SmsMessageRow.kind == "dispatch")
            rows = list((await s.execute(stmt.order_by(SmsMessageRow.id))).scalars())
        views = [message_view(r) for r in rows]
        if views:
            label = Label(
                "; ".join(f"SMS ke {v.phone}: {v.summary.id.lower()}" for v in views)
                + "; kru belum membalas",
                "; ".join(f"SMS to {v.phone}: {v.summary.en.lower()}" for v in views)
                + "; no answer from the crew")
        else:
            label = Label("Tidak ada SMS dispatch (unit tanpa nomor kru)",
                          "No dispatch SMS (the unit has no crew phone)")
        self.hub.publish({
            "type": "escalation.sms", "at": event.at.isoformat(), "cause": event.cause.value,
            "assignment_id": event.assignment_id, "incident_id": event.incident_id,
            "unit_id": event.unit_id, "label": Text.of(label).model_dump(),
            "advice": Text.of(ADVICE["dispatch"]).model_dump(),
            "sms": [v.model_dump(mode="json") for v in views],
        })

    # --- what is sent -------------------------------------------------------------------

    async def on_notice(self, event: CrewNotified) -> None:
        if not self._closed:
            self.spawn(self.send_notice(event))

    async def send_notice(self, event: CrewNotified) -> list[int]:
        """Tell the crew the dispatch room changed their job (one SMS per crew phone).

        The key names the change (kind and time), so a destination changed twice sends two
        notices while the same announcement handled twice sends one."""
        a = event.assignment_id
        link = self.tap_link(event)

        def compose(link: str) -> str:
            return compose_crew_notice_sms(
                kind=event.kind.value, number=event.number, callsign=event.callsign,
                by=event.by, at=event.at, link=link, hospital=event.hospital_name)

        try:
            body = compose(link)
        except ValueError:  # see dispatch_body
            body = compose(NO_LINK)
        stamp = int(event.at.timestamp() * 1000)
        plan = [Planned("notice", f"notice:{event.kind.value}:{a}:{stamp}:{phone}", phone, body)
                for phone in dict.fromkeys(event.crew_phones)]
        ids = await self.queue(plan, incident_id=event.incident_id, assignment_id=a,
                               unit_id=event.unit_id)
        await asyncio.gather(*(self._attempt(i) for i in ids))
        return ids

    def tap_link(self, event: IncidentDispatched | CrewNotified) -> str:
        token = taplink.issue(self.config.token_secret, assignment_id=event.assignment_id,
                              unit_id=event.unit_id, expires_at=event.at + self.config.tap_ttl)
        return taplink.link(self.config.public_url, token)

    def dispatch_body(self, event: IncidentDispatched, link: str) -> str:
        def compose(link: str) -> str:
            return compose_dispatch_sms(
                number=event.number, triage=event.triage, complaint=event.complaint,
                address=event.address, kelurahan=event.kelurahan,
                scene=LatLon(event.scene_lat, event.scene_lon), link=link,
                hospital=event.hospital_name, notes=event.notes, landmark=event.landmark,
                patients=event.patients, carried=event.carried, caller_phone=event.caller_phone,
                approximate=event.location_approximate)

        try:
            return compose(link)
        except ValueError:  # the link cannot fit (a long public URL): page the crew anyway
            log.error("status link too long for the SMS; set a shorter SIAGA_PUBLIC_URL",
                      extra={"link_chars": len(link)})
            return compose(NO_LINK)

    async def send_dispatch(self, event: IncidentDispatched) -> list[int]:
        """Queue and send the crew's SMS (and the pre-arrival SMS); ids of new rows."""
        a = event.assignment_id
        body = self.dispatch_body(event, self.tap_link(event))
        plan = [Planned("dispatch", f"dispatch:{a}:{phone}", phone, body)
                for phone in dict.fromkeys(event.crew_phones)]
        if self.config.prearrival and event.hospital_phone:
            plan.append(Planned("prearrival", f"prearrival:{a}:{event.hospital_phone}",
                                event.hospital_phone, compose_prearrival_sms(
                                    number=event.number, triage=event.triage,
                                    complaint=event.complaint, unit=event.callsign,
                                    unit_type=event.unit_type,
                                    patients=event.patients if event.carried is None
                                    else event.carried,
                                    notes=event.notes)))
        if not event.crew_phones:
            self.hub.publish(self._failure(
                "dispatch", phone=None, status="no_phone", error_code="no_crew_phone",
                message_id=None, incident_id=event.incident_id, number=event.number,
                assignment_id=a, unit_id=event.unit_id, callsign=event.callsign,
                label=Label(f"Unit {event.callsign} tidak punya nomor kru: SMS tidak dikirim",
                            f"Unit {event.callsign} has no crew phone: no SMS sent")))
        if self.config.prearrival and event.hospital_id is not None and \
                not event.hospital_phone:
            self.hub.publish(self._failure(
                "prearrival", phone=None, status="no_phone", error_code="no_hospital_phone",
                message_id=None, incident_id=event.incident_id, number=event.number,
                assignment_id=a, unit_id=event.unit_id, callsign=event.callsign,
                label=Label(f"{event.hospital_name} tidak punya nomor telepon: SMS pra-RS "
                            "tidak dikirim",
                            f"{event.hospital_name} has no phone number: no pre-arrival "
                            "SMS sent")))
        ids = await self.queue(plan, incident_id=event.incident_id, assignment_id=a,
                               unit_id=event.unit_id)
        await asyncio.gather(*(self._attempt(i) for i in ids))
        return ids

    async def reply(
        self, *, to: str, body: str, reply_to: int, incident_id: int | None = None,
        assignment_id: int | None = None, unit_id: int | None = None,
    ) -> int | None:
        """Answer a crew's SMS (sent in the background); None when the guard holds it back."""
        since = self.now() - REPLY_WINDOW
        async with self._sessions() as s:
            recent = (await s.execute(select(func.count()).select_from(SmsMessageRow).where(
                SmsMessageRow.direction == "out", SmsMessageRow.kind == "reply",
                SmsMessageRow.phone == to, SmsMessageRow.created_at >= since))).scalar_one()
        if recent >= MAX_REPLIES:
            log.warning("not answering: too many answers to this number", extra={
                "sms_to": to, "window_s": REPLY_WINDOW.total_seconds()})
            return None
        ids = await self.queue([Planned("reply", f"reply:{reply_to}", to, to_gsm7(body))],
                               incident_id=incident_id, assignment_id=assignment_id,
                               unit_id=unit_id, reply_to=reply_to)
        for row_id in ids:
            self.spawn(self._attempt(row_id))
        return ids[0] if ids else None

    async def queue(
        self, plan: Sequence[Planned], *, incident_id: int | None, assignment_id: int | None,
        unit_id: int | None, reply_to: int | None = None,
    ) -> list[int]:
        """Store the planned messages whose keys are new (rule 1); their ids."""
        ids = []
        for item in plan:
            sms = OutboundSms(item.phone, item.body, item.key)
            row = SmsMessageRow(
                direction="out", kind=item.kind, gateway=self.gateway.name, phone=item.phone,
                body=item.body, parts=sms_parts(item.body), incident_id=incident_id,
                assignment_id=assignment_id, unit_id=unit_id, reply_to_id=reply_to,
                state="queued", dedup_key=item.key, fingerprint=sms.fingerprint(),
                created_at=self.now())
            try:
                async with transaction(self._sessions) as s:
                    s.add(row)
            except IntegrityError:
                log.info("sms already queued", extra={"dedup_key": item.key})
                continue
            ids.append(row.id)
        return ids

    # --- one attempt --------------------------------------------------------------------

    async def _attempt(self, row_id: int) -> None:
        await self._send_claimed(SmsMessageRow.id == row_id)

    async def _send_claimed(self, *where: ColumnElement[bool]) -> int:
        """Claim the rows ``where`` says (rule 7) and send them; how many were claimed."""
        done: list[int] = []  # each row once per call, whatever its attempt made of it
        while True:
            claimed = await self._claim(*where, SmsMessageRow.id.not_in(done))
            if not claimed:
                return len(done)
            done.extend(c.row_id for c in claimed)
            await asyncio.gather(*(self._send(c) for c in claimed))

    async def _claim(self, *where: ColumnElement[bool], limit: int = 50) -> list[Claimed]:
        now = self.now()
        stmt = (select(SmsMessageRow)
                .where(SmsMessageRow.direction == "out",
                       SmsMessageRow.state.in_(("queued", "retrying")), *where)
                .order_by(SmsMessageRow.id).limit(limit)
                .with_for_update(skip_locked=True).execution_options(populate_existing=True))
        claimed = []
        async with self._claiming, transaction(self._sessions) as s:
            for row in (await s.execute(stmt)).scalars():
                assert row.dedup_key is not None
                row.state, row.attempts = "sending", row.attempts + 1
                row.last_attempt_at, row.next_attempt_at = now, None
                row.claimed_by, row.lease_until = self.config.node_id, now + self.config.lease
                cancelled = None
                if row.attempts > 1 and await _moved_on(s, row):
                    row.state, row.error_code, row.done_at = "cancelled", "no_longer_needed", now
                    row.lease_until = None
                    cancelled = message_view(row)
                claimed.append(Claimed(row.id, OutboundSms(
                    row.phone, row.body, row.dedup_key, self.config.status_callback), cancelled))
        return claimed

    async def _send(self, claimed: Claimed) -> None:
        if claimed.cancelled is not None:
            self._announce(claimed.cancelled)
            return
        sms = claimed.sms
        try:
            result = await asyncio.wait_for(self.gateway.send(sms), self.config.attempt_limit)
        except DedupKeyReused as exc:  # a bug: never let it look like a send
            log.exception("dedup key reused", extra={"dedup_key": sms.dedup_key})
            result = SendResult.not_sent("dedup_key_reused", str(exc))
        except TimeoutError:  # the gateway recorded the attempt as interrupted: reconcile
            result = SendResult.unknown("lease", "the attempt outlasted its share of the lease")
        await self._settle(claimed.row_id, result)

    async def _settle(self, row_id: int, result: SendResult) -> None:
        now = self.now()
        failure: dict[str, Any] | None = None
        async with transaction(self._sessions) as s:
            row = await s.get(SmsMessageRow, row_id, populate_existing=True,
                              with_for_update=True)
            assert row is not None
            if row.state != "sending" or row.claimed_by != self.config.node_id:
                log.warning("sms claim lost during the send; its new holder settles it",
                            extra={"sms_id": row_id, "claimed_by": row.claimed_by})
                return
            row.lease_until = None
            row.outcome = result.outcome.value
            row.error_code, row.error_message = result.error_code, _clip(result.error_message)
            again = row.attempts < self.config.max_attempts
            if result.outcome is SendOutcome.SENT:
                row.state, row.provider_id = "sent", result.provider_id
                if result.status is not None and _forward(row.provider_status, result.status):
                    row.provider_status = result.status.value
                row.sent_at = row.sent_at or now
            elif again and (result.outcome is SendOutcome.UNKNOWN or result.retryable):
                row.state, row.next_attempt_at = "retrying", now + self.config.retry_after
            else:
                row.state, row.done_at = "failed", now
                if row.kind in ESCALATED_KINDS:
                    failure = await self._failure_of(s, row, result.outcome.value)
            view = message_view(row)
        log.info("sms %s", view.state, extra={
            "event": "sms_outbound", "sms_id": row_id, "kind": view.kind, "sms_to": view.phone,
            "outcome": result.outcome.value, "provider_id": view.provider_id,
            "error_code": view.error_code, "attempt": view.attempts})
        self._announce(view)
        if failure is not None:
            self.hub.publish(failure)
        if view.state == "retrying" and view.next_attempt_at is not None:
            self._arm(view.next_attempt_at)
        early = self._early.pop(view.provider_id, None) if view.provider_id else None
        if early is not None:
            await self.record_status(early)

    def _announce(self, view: SmsView) -> None:
        self.hub.publish({"type": "sms.message", "at": self.now().isoformat(),
                          "message": view.model_dump(mode="json")})

    # --- delivery reports ---------------------------------------------------------------

    async def record_status(self, report: DeliveryStatus) -> bool:
        """Apply a provider's delivery report (rule 5); True if it changed the message."""
        now = self.now()
        failure: dict[str, Any] | None = None
        async with transaction(self._sessions) as s:
            stmt = select(SmsMessageRow).where(SmsMessageRow.direction == "out",
                                               SmsMessageRow.provider_id == report.provider_id)
            row = (await s.execute(stmt.order_by(SmsMessageRow.id).limit(1))).scalar_one_or_none()
            if row is None:
                self._hold(report)
                return False
            if not _forward(row.provider_status, report.status):
                log.info("sms status ignored", extra={
                    "provider_id": report.provider_id, "status": report.raw_status,
                    "current": row.provider_status})
                return False
            current = SmsMessageRow.provider_status
            changed = await s.execute(
                update(SmsMessageRow)
                .where(SmsMessageRow.id == row.id,
                       current.is_(None) if row.provider_status is None
                       else current == row.provider_status)
                .values(provider_status=report.status.value, status_at=now,
                        error_code=report.error_code or row.error_code)
                .execution_options(synchronize_session=False))
            if changed.rowcount != 1:  # type: ignore[attr-defined]
                return False  # the same report, applied by a concurrent request
            row = await s.get(SmsMessageRow, row.id, populate_existing=True)
            assert row is not None
            if report.status.is_failure and row.kind in ESCALATED_KINDS:
                failure = await self._failure_of(s, row, report.status.value)
            view = message_view(row)
        self._announce(view)
        if failure is not None:
            log.warning("sms not delivered", extra={"sms_id": view.id, "sms_to": view.phone,
                                                    "status": view.provider_status})
            self.hub.publish(failure)
        return True

    def _hold(self, report: DeliveryStatus) -> None:
        """Keep a report whose message is not known yet (its send is still being stored)."""
        log.info("sms status for an unknown message", extra={
            "provider_id": report.provider_id, "status": report.raw_status})
        self._early[report.provider_id] = report
        while len(self._early) > EARLY_REPORTS:
            self._early.popitem(last=False)

    # --- escalations --------------------------------------------------------------------

    async def _failure_of(self, s: AsyncSession, row: SmsMessageRow, status: str
                          ) -> dict[str, Any]:
        incident = await s.get(IncidentRow, row.incident_id) if row.incident_id else None
        unit = await s.get(UnitRow, row.unit_id) if row.unit_id else None
        callsign = unit.callsign if unit else None
        if row.kind == "dispatch":
            label = Label(f"SMS dispatch ke kru {callsign} ({row.phone}) gagal: {status}",
                          f"Dispatch SMS to crew {callsign} ({row.phone}) failed: {status}")
        elif row.kind == "notice":
            label = Label(f"SMS perubahan tugas ke kru {callsign} ({row.phone}) gagal: {status}",
                          f"Job change SMS to crew {callsign} ({row.phone}) failed: {status}")
        else:
            label = Label(f"SMS pra-RS ke {row.phone} gagal: {status}",
                          f"Pre-arrival SMS to {row.phone} failed: {status}")
        return self._failure(row.kind, phone=row.phone, status=status,
                             error_code=row.error_code, message_id=row.id,
                             incident_id=row.incident_id,
                             number=incident.number if incident else None,
                             assignment_id=row.assignment_id, unit_id=row.unit_id,
                             callsign=callsign, label=label)

    def _failure(self, kind: str, *, phone: str | None, status: str, error_code: str | None,
                 message_id: int | None, incident_id: int | None, number: str | None,
                 assignment_id: int | None, unit_id: int | None, callsign: str | None,
                 label: Label) -> dict[str, Any]:
        return {
            "type": "sms.failed", "at": self.now().isoformat(), "kind": kind,
            "message_id": message_id, "incident_id": incident_id, "number": number,
            "assignment_id": assignment_id, "unit_id": unit_id, "callsign": callsign,
            "phone": phone, "status": status, "error_code": error_code,
            "label": Text.of(label).model_dump(), "advice": Text.of(ADVICE[kind]).model_dump(),
        }

    # --- retries ------------------------------------------------------------------------

    async def retry_due(self, now: datetime | None = None) -> int:
        """Attempt every message whose retry is due at ``now`` (tests step it); how many."""
        at = now or self.now()
        count = await self._send_claimed(SmsMessageRow.state == "retrying",
                                         SmsMessageRow.next_attempt_at <= at)
        await self._arm_next()
        return count

    async def _arm_next(self) -> None:
        async with self._sessions() as s:
            at = (await s.execute(select(func.min(SmsMessageRow.next_attempt_at)).where(
                SmsMessageRow.state == "retrying"))).scalar_one_or_none()
        if at is not None:
            self._arm(at)

    def _arm(self, at: datetime) -> None:
        if self._closed or (self._timer is not None and self._timer_at is not None
                            and self._timer_at <= at):
            return
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        delay = max(0.0, (at - self.now()).total_seconds())
        self._timer, self._timer_at = loop.call_at(loop.time() + delay, self._fire), at

    def _fire(self) -> None:
        self._timer = self._timer_at = None
        self.spawn(self.retry_due())

    # --- reading ------------------------------------------------------------------------

    async def thread(self, incident_id: int) -> list[SmsView]:
        async with self._sessions() as s:
            stmt = select(SmsMessageRow).where(SmsMessageRow.incident_id == incident_id)
            return [message_view(r) for r in
                    (await s.execute(stmt.order_by(SmsMessageRow.id))).scalars()]

    async def recent(self, limit: int = 100) -> list[SmsView]:
        async with self._sessions() as s:
            stmt = select(SmsMessageRow).order_by(SmsMessageRow.id.desc()).limit(limit)
            return [message_view(r) for r in (await s.execute(stmt)).scalars()]

    async def missing_dispatches(self, since: datetime, until: datetime | None = None
                                 ) -> list[int]:
        """Assignments still DISPATCHED, made from ``since`` (to ``until``), with no dispatch
        SMS row: their announcement was lost (a restart between the commit and the send)."""
        async with self._sessions() as s:
            sent = select(SmsMessageRow.assignment_id).where(SmsMessageRow.kind == "dispatch",
                                                             SmsMessageRow.assignment_id
                                                             .is_not(None))
            stmt = select(AssignmentRow.id).where(
                AssignmentRow.status == AssignmentStatus.DISPATCHED.name,
                AssignmentRow.dispatched_at >= since, AssignmentRow.id.not_in(sent))
            if until is not None:
                stmt = stmt.where(AssignmentRow.dispatched_at <= until)
            return list((await s.execute(stmt.order_by(AssignmentRow.id))).scalars())


def _forward(current: str | None, new: MessageStatus) -> bool:
    """Whether ``new`` moves a message on from ``current`` (rule 5)."""
    rank = _RANK.get(new, 0)
    if rank == 0:
        return False  # a word we do not know, or an inbound status: never on an outbound row
    return current is None or rank > _RANK.get(MessageStatus.parse(current), 0)


async def _moved_on(s: AsyncSession, row: SmsMessageRow) -> bool:
    """A dispatch SMS whose assignment is no longer waiting for the crew (rule 3)."""
    if row.kind != "dispatch" or row.assignment_id is None:
        return False
    assignment = await s.get(AssignmentRow, row.assignment_id, populate_existing=True)
    return assignment is None or assignment.status != AssignmentStatus.DISPATCHED.name
