"""Inbound SMS: a crew's reply, from the webhook to the lifecycle.

Rules:

1. The webhook only stores. The route authenticates, :meth:`Inbox.accept` inserts the row
   (``received``) and queues it, and the route answers at once (Twilio gives up after 15 s and
   retries). Providers deliver a webhook more than once: the unique index on (gateway,
   provider id) makes a second delivery a no-op (``accept`` returns None); the route still
   answers 200 so the provider stops.
2. One worker applies the rows in arrival order ("1" then "2" must not become "2" then "1").
   A row is claimed with a conditional UPDATE (``received`` → ``processing``), so it is applied
   once even if queued twice; rows a restart left ``received`` or ``processing`` are queued
   again at start (a repeated status is a no-op in the lifecycle). A row is not claimed
   while an earlier reply of the same crew is still unapplied: whoever applies that one
   queues the next (so replies reaching different nodes keep their order too).
3. The rules are the cores': :func:`dispatch.replies.parse_reply` and
   :func:`~dispatch.replies.resolve_reply`, then the lifecycle through
   ``apply_crew_status`` with the actor ``sms:<phone>``. The inbox only decides whom to answer:

   - unknown sender: nothing changes, it is logged, no answer (never answer strangers: SMS
     pumping, loops with auto-responders);
   - unreadable, HELP or BANTUAN: the core's :data:`~dispatch.replies.HELP_TEXT`;
   - a reply the cores refuse (no such incident, ambiguous, an illegal transition):
     ``PSC 119: <the core's reason in Bahasa Indonesia>``;
   - applied, or a repeat: no answer (the console and the status link show it; SMS cost money);
   - STOP: recorded and shown to the dispatcher (``sms.opt_out``: reach this crew by phone or
     radio); no answer (providers confirm opt-outs themselves and refuse messages after one);
     the number stays on the unit, because only a supervisor changes a unit's crew.
4. Answers go through the outbox with the key ``reply:<inbound id>``, at most
   :data:`~dispatch.sms.outbox.MAX_REPLIES` per number per ten minutes.
5. On several nodes a webhook may reach any of them; the node that stored a reply applies
   it. Its claim (``processing``) names the node and holds a lease, as the outbox's sends
   do: a node starting up, or sweeping (:meth:`Inbox.sweep`), takes over only rows whose
   lease expired (or its own previous run's), and rows stored more than a lease ago but
   never claimed. A node finishes a reply only while it still holds it. Replies of one
   crew keep their order across nodes by rule 2 (by row id: the order the nodes stored
   them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import assert_never

from sqlalchemy import ColumnElement, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from dispatch.domain import Label
from dispatch.errors import BadReply, DispatchError
from dispatch.replies import (
    HELP_TEXT,
    ApplyToAssignment,
    ApplyToUnit,
    OptOut,
    SendHelp,
    parse_reply,
    resolve_reply,
)
from dispatch.service import Actor, DispatchService
from dispatch.service.views import Text
from dispatch.sms.gateway import InboundSms
from dispatch.sms.outbox import Outbox, SmsView, message_view
from dispatch.sms_text import sms_parts
from dispatch.store.models import SmsMessageRow
from kernel.db import transaction

log = logging.getLogger("dispatch.sms")

Clock = Callable[[], datetime]
MAX_BODY = 1600


@dataclass(frozen=True)
class Handled:
    """What one reply did, and what (if anything) to answer."""

    result: str
    code: str | None = None
    answer: str | None = None
    incident_id: int | None = None
    assignment_id: int | None = None
    unit_id: int | None = None


@dataclass(frozen=True)
class InboundResult:
    message: SmsView
    answer: str | None


class Inbox:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], service: DispatchService,
                 outbox: Outbox, clock: Clock) -> None:
        self.service = service
        self.outbox = outbox
        self._sessions = sessions
        self._clock = clock
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    # --- life ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Queue what a previous run left unapplied (rules 2, 5), then start the worker."""
        await self._requeue(at_start=True)
        self._worker = asyncio.create_task(self._run())

    async def sweep(self) -> None:
        """Queue what a dead node left unapplied (rule 5)."""
        await self._requeue(at_start=False)

    async def _requeue(self, *, at_start: bool) -> None:
        config, now = self.outbox.config, self._clock()
        stuck: ColumnElement[bool] = SmsMessageRow.state == "processing"
        waiting: ColumnElement[bool] = SmsMessageRow.state == "received"
        if config.cluster:
            gone = or_(SmsMessageRow.lease_until.is_(None), SmsMessageRow.lease_until < now)
            if at_start:
                gone = or_(gone, SmsMessageRow.claimed_by == config.node_id)
            stuck = stuck & gone
            waiting = waiting & (SmsMessageRow.created_at <= now - config.lease)
        async with transaction(self._sessions) as s:
            await s.execute(update(SmsMessageRow)
                            .where(SmsMessageRow.direction == "in", stuck)
                            .values(state="received", lease_until=None)
                            .execution_options(synchronize_session=False))
            stmt = select(SmsMessageRow.id).where(SmsMessageRow.direction == "in",
                                                  SmsMessageRow.state == "received")
            if config.cluster:
                stmt = stmt.where(or_(waiting, SmsMessageRow.claimed_by.is_not(None)))
            pending = list((await s.execute(stmt.order_by(SmsMessageRow.id))).scalars())
        for row_id in pending:
            self._queue.put_nowait(row_id)

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    async def drain(self) -> None:
        """Wait until every queued reply has been applied (tests, shutdown)."""
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            row_id = await self._queue.get()
            try:
                await self.process(row_id)
            except Exception:
                log.exception("sms reply failed", extra={"sms_id": row_id})
            finally:
                self._queue.task_done()

    # --- the webhook's part -------------------------------------------------------------

    async def accept(self, sms: InboundSms, gateway: str, *, queue: bool = True) -> int | None:
        """Store a crew's SMS (rule 1): its row id, or None if it was already received."""
        row = SmsMessageRow(
            direction="in", kind="crew", gateway=gateway, phone=sms.from_,
            body=sms.body[:MAX_BODY], parts=sms_parts(sms.body[:MAX_BODY]),
            provider_id=sms.provider_id, provider_status="received", state="received",
            created_at=sms.received_at)
        try:
            async with transaction(self._sessions) as s:
                s.add(row)
        except IntegrityError:
            log.info("sms already received", extra={"provider_id": sms.provider_id,
                                                    "gateway": gateway})
            return None
        log.info("sms received", extra={"event": "sms_inbound", "sms_id": row.id,
                                        "sms_from": sms.from_, "provider_id": sms.provider_id})
        if queue:
            self._queue.put_nowait(row.id)
        return row.id

    # --- the worker's part --------------------------------------------------------------

    async def process(self, row_id: int) -> InboundResult | None:
        """Apply one stored reply (rule 2-3); None if another worker has (or had) it."""
        config, now = self.outbox.config, self._clock()
        async with transaction(self._sessions) as s:
            earlier = aliased(SmsMessageRow)
            waiting_for = exists().where(  # an earlier reply of the same crew, not applied yet
                earlier.direction == "in", earlier.phone == SmsMessageRow.phone,
                earlier.id < SmsMessageRow.id, earlier.state.in_(("received", "processing")))
            claimed = await s.execute(
                update(SmsMessageRow)
                .where(SmsMessageRow.id == row_id, SmsMessageRow.state == "received",
                       ~waiting_for)
                .values(state="processing", claimed_by=config.node_id,
                        lease_until=now + config.lease)
                .execution_options(synchronize_session=False))
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None  # taken, done, or queued again by whoever applies the earlier
            row = await s.get(SmsMessageRow, row_id, populate_existing=True)
            assert row is not None
            phone, body = row.phone, row.body
        try:
            handled = await self.handle(phone, body)
        except Exception:  # recorded as done all the same: the crew's next reply waits on it
            log.exception("sms reply could not be applied", extra={"sms_id": row_id})
            handled = Handled("failed", code="internal_error")
        async with transaction(self._sessions) as s:
            row = await s.get(SmsMessageRow, row_id, populate_existing=True,
                              with_for_update=True)
            assert row is not None
            if row.state != "processing" or row.claimed_by != config.node_id:
                log.warning("sms reply claim lost; its new holder finishes it",
                            extra={"sms_id": row_id, "claimed_by": row.claimed_by})
                return None
            row.lease_until = None
            row.state, row.result, row.error_code = "done", handled.result, handled.code
            row.incident_id, row.assignment_id = handled.incident_id, handled.assignment_id
            row.unit_id, row.done_at = handled.unit_id, self._clock()
            view = message_view(row)
        self.outbox.hub.publish({"type": "sms.message", "at": self._clock().isoformat(),
                                 "message": view.model_dump(mode="json")})
        if handled.result == "opt_out":
            self._announce_opt_out(view)
        await self._queue_next(phone, row_id)
        if handled.answer is not None:
            await self.outbox.reply(to=phone, body=handled.answer, reply_to=row_id,
                                    incident_id=handled.incident_id,
                                    assignment_id=handled.assignment_id,
                                    unit_id=handled.unit_id)
        return InboundResult(view, handled.answer)

    async def _queue_next(self, phone: str, after: int) -> None:
        """Queue the crew's next stored reply: its claim waited for this one (rule 2)."""
        async with self._sessions() as s:
            following = (await s.execute(
                select(SmsMessageRow.id).where(
                    SmsMessageRow.direction == "in", SmsMessageRow.phone == phone,
                    SmsMessageRow.state == "received", SmsMessageRow.id > after)
                .order_by(SmsMessageRow.id).limit(1))).scalar_one_or_none()
        if following is not None:
            self._queue.put_nowait(following)

    async def handle(self, phone: str, body: str) -> Handled:
        """What ``body`` from ``phone`` does (rule 3)."""
        context = await self.service.crew_context(phone)
        if context is None:
            log.warning("sms from an unknown number ignored", extra={"sms_from": phone})
            return Handled("unknown_sender")
        where = Handled("", unit_id=context.unit_id)
        if len(context.active) == 1:  # the thread it belongs to, whatever it says
            only = context.active[0]
            where = replace(where, incident_id=only.incident_id, assignment_id=only.id)
        parsed = parse_reply(body)
        if isinstance(parsed, BadReply):
            return replace(where, result="bad_reply", code=parsed.code, answer=HELP_TEXT)
        resolution = resolve_reply(parsed, context.active, context.numbers, context.ended)
        actor = Actor.sms(phone)
        try:
            match resolution:
                case SendHelp():
                    return replace(where, result="help", answer=HELP_TEXT)
                case OptOut():
                    log.warning("crew asked to stop SMS", extra={"sms_from": phone})
                    return replace(where, result="opt_out")
                case BadReply():
                    return replace(where, result="refused", code=resolution.code,
                                   answer=_refusal(resolution.message))
                case ApplyToAssignment(assignment=assignment, trigger=trigger):
                    where = replace(where, incident_id=assignment.incident_id,
                                    assignment_id=assignment.id)
                    result = await self.service.apply_crew_status(
                        trigger=trigger, actor=actor, assignment_id=assignment.id)
                case ApplyToUnit(trigger=unit_trigger):
                    result = await self.service.apply_crew_status(
                        trigger=unit_trigger, actor=actor, unit_id=context.unit_id)
                case _:
                    assert_never(resolution)
        except DispatchError as exc:  # the lifecycle's refusal, or the service's
            return replace(where, result="refused", code=exc.code, answer=_refusal(exc.message))
        return replace(where, result="applied" if result.changed else "unchanged")

    def _announce_opt_out(self, view: SmsView) -> None:
        label = Label(f"Kru {view.phone} mengirim STOP: SMS mungkin tidak sampai lagi; "
                      "hubungi lewat telepon atau radio",
                      f"Crew {view.phone} sent STOP: SMS may no longer reach them; "
                      "use the phone or the radio")
        self.outbox.hub.publish({
            "type": "sms.opt_out", "at": self._clock().isoformat(), "phone": view.phone,
            "unit_id": view.unit_id, "incident_id": view.incident_id,
            "message_id": view.id, "label": Text.of(label).model_dump()})


def _refusal(reason: Label) -> str:
    return f"PSC 119: {reason.id}"
