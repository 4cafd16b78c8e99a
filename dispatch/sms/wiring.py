"""The crews' SMS as part of the dispatch feature: gateway, outbox, inbox, routes, start, stop.

:class:`~dispatch.wiring.DispatchFeature` calls :class:`SmsFeature` after it has built the
dispatch service (replies are applied through it) and stops it before closing the service.
At start the gateway named by ``SIAGA_SMS_GATEWAY`` is built on the durable dedup store
(a missing setting stops the server with its name), work a previous run left is picked up
(interrupted sends, unapplied replies, and dispatch SMS lost between a commit and a crash:
assignments still DISPATCHED for less than :data:`RECOVER_WITHIN` with no SMS row), and the
outbox subscribes to the bus. The parts are ``runtime.services["sms"]`` (:class:`SmsSide`).

On several nodes (``runtime.cluster``) every node also sweeps, every sixth of the lease
(``SIAGA_SMS_LEASE_SECONDS``), for what a dead node left: sends and replies whose lease
expired, retries due, rows stored but never claimed, and dispatch SMS never queued
(outbox rules 7-8, inbox rule 5). Claims make each of these happen on one node only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from dispatch.events import CrewNotified, EscalationRaised, IncidentDispatched
from dispatch.sms import taplink
from dispatch.sms.gateway import build_gateway
from dispatch.sms.inbox import Inbox
from dispatch.sms.outbox import Outbox, OutboxConfig, SqlDedupStore
from dispatch.sms.routes import PAGE_PATH, router
from dispatch.sms_text import MAX_LINK

if TYPE_CHECKING:
    from fastapi import FastAPI

    from dispatch.service import DispatchService
    from kernel.runtime import Runtime

log = logging.getLogger("dispatch.sms")

RECOVER_WITHIN = timedelta(minutes=15)
LONGEST_TOKEN = 23  # ids below two million and sixteen thousand units (taplink rule 3)
CALLBACK_PATHS = {"twilio": "/sms/twilio/status", "http": "/sms/http/status"}


@dataclass
class SmsSide:
    outbox: Outbox  # also holds the gateway (``outbox.gateway``) and the settings it uses
    inbox: Inbox
    sweeper: asyncio.Task[None] | None = None
    #: Assignments found without a dispatch SMS and handled (paged, or no crew phone).
    recovered: set[int] = field(default_factory=set)


class SmsFeature:
    def mount(self, app: FastAPI, runtime: Runtime) -> None:
        app.include_router(router)

    async def start(self, runtime: Runtime) -> None:
        settings = runtime.settings
        service: DispatchService = runtime.services["dispatch"]

        def clock() -> datetime:
            return datetime.fromtimestamp(runtime.now(), UTC)

        gateway = build_gateway(settings, store=SqlDedupStore(runtime.sessions), clock=clock)
        path = CALLBACK_PATHS.get(gateway.name)
        config = OutboxConfig(
            public_url=settings.public_url, token_secret=runtime.tokens.secret,
            status_callback=settings.public_url + path if path else None,
            tap_ttl=timedelta(seconds=settings.tap_link_ttl_seconds),
            retry_after=timedelta(seconds=settings.sms_retry_seconds),
            prearrival=settings.hospital_prearrival_sms,
            node_id=settings.cluster_node_id(),
            lease=timedelta(seconds=settings.sms_lease_seconds),
            cluster=runtime.cluster is not None)
        longest = len(taplink.link(settings.public_url, "x" * LONGEST_TOKEN))
        if longest > MAX_LINK:
            log.warning("SIAGA_PUBLIC_URL is too long for the status link in every SMS",
                        extra={"link_chars": longest, "max": MAX_LINK})
        if not PAGE_PATH.is_file():
            log.error("the status link page is missing from this install",
                      extra={"path": str(PAGE_PATH)})
        outbox = Outbox(runtime.sessions, gateway, service.hub, config, clock)
        inbox = Inbox(runtime.sessions, service, outbox, clock)
        side = runtime.services["sms"] = SmsSide(outbox, inbox)
        await outbox.start()
        await inbox.start()
        bus = runtime.services.get("bus")
        if bus is not None:
            bus.subscribe(IncidentDispatched, outbox.on_dispatched)
            bus.subscribe(EscalationRaised, outbox.on_escalation)
            bus.subscribe(CrewNotified, outbox.on_notice)
        # On several nodes, what was committed less than a lease ago is another node's to
        # page; the sweep looks at it once the lease has passed.
        settled = clock() - (config.lease if config.cluster else timedelta(0))
        await self._page_missing(side, service, clock() - RECOVER_WITHIN, settled)
        if runtime.cluster is not None:
            side.sweeper = asyncio.create_task(self._sweep(side, service, config),
                                               name="sms-sweep")
        log.info("sms ready", extra={"gateway": gateway.name})

    async def _page_missing(self, side: SmsSide, service: DispatchService, since: datetime,
                            until: datetime, *, sweeping: bool = False) -> None:
        """Page the crews of assignments made from ``since`` to ``until`` whose dispatch
        SMS was never queued (a node died between the commit and the send)."""
        for assignment_id in await side.outbox.missing_dispatches(since, until):
            if assignment_id in side.recovered:
                continue  # a unit without a crew phone: nothing to send
            side.recovered.add(assignment_id)
            brief = await service.dispatch_brief(assignment_id)
            if not brief.crew_phones and sweeping:
                continue  # the node that made it told the consoles; every node would again
            log.warning("dispatch SMS missing after a node stopped; sending it",
                        extra={"assignment_id": assignment_id})
            side.outbox.spawn(side.outbox.send_dispatch(brief))

    async def _sweep(self, side: SmsSide, service: DispatchService,
                     config: OutboxConfig) -> None:
        while True:
            await asyncio.sleep(config.lease.total_seconds() / 6)
            try:
                await side.outbox.sweep()
                await side.inbox.sweep()
                now = side.outbox.now()
                await self._page_missing(side, service, now - RECOVER_WITHIN,
                                         now - config.lease, sweeping=True)
            except Exception:  # the database away for a moment: sweep again later
                log.exception("sms sweep failed")

    async def stop(self, runtime: Runtime) -> None:
        side: SmsSide | None = runtime.services.pop("sms", None)
        if side is None:
            return
        if side.sweeper is not None:
            side.sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await side.sweeper
        await side.inbox.close()
        await side.outbox.close()
        await side.outbox.gateway.aclose()
