"""The crews' SMS as part of the dispatch feature: gateway, outbox, inbox, routes, start, stop.

:class:`~dispatch.wiring.DispatchFeature` calls :class:`SmsFeature` after it has built the
dispatch service (replies are applied through it) and stops it before closing the service.
At start the gateway named by ``SIAGA_SMS_GATEWAY`` is built on the durable dedup store
(a missing setting stops the server with its name), work a previous run left is picked up
(interrupted sends, unapplied replies, and dispatch SMS lost between a commit and a crash:
assignments still DISPATCHED for less than :data:`RECOVER_WITHIN` with no SMS row), and the
outbox subscribes to the bus. The parts are ``runtime.services["sms"]`` (:class:`SmsSide`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
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
            prearrival=settings.hospital_prearrival_sms)
        longest = len(taplink.link(settings.public_url, "x" * LONGEST_TOKEN))
        if longest > MAX_LINK:
            log.warning("SIAGA_PUBLIC_URL is too long for the status link in every SMS",
                        extra={"link_chars": longest, "max": MAX_LINK})
        if not PAGE_PATH.is_file():
            log.error("the status link page is missing from this install",
                      extra={"path": str(PAGE_PATH)})
        outbox = Outbox(runtime.sessions, gateway, service.hub, config, clock)
        inbox = Inbox(runtime.sessions, service, outbox, clock)
        runtime.services["sms"] = SmsSide(outbox, inbox)
        await outbox.start()
        await inbox.start()
        bus = runtime.services.get("bus")
        if bus is not None:
            bus.subscribe(IncidentDispatched, outbox.on_dispatched)
            bus.subscribe(EscalationRaised, outbox.on_escalation)
            bus.subscribe(CrewNotified, outbox.on_notice)
        for assignment_id in await outbox.missing_dispatches(clock() - RECOVER_WITHIN):
            log.warning("dispatch SMS missing after a restart; sending it",
                        extra={"assignment_id": assignment_id})
            outbox.spawn(outbox.send_dispatch(await service.dispatch_brief(assignment_id)))
        log.info("sms ready", extra={"gateway": gateway.name})

    async def stop(self, runtime: Runtime) -> None:
        side: SmsSide | None = runtime.services.pop("sms", None)
        if side is None:
            return
        await side.inbox.close()
        await side.outbox.close()
        await side.outbox.gateway.aclose()
