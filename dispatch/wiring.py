"""Dispatch as a feature of the composition root: routes, start and stop.

The one module of ``dispatch`` that knows the runtime. It builds the
:class:`~dispatch.service.DispatchService` with the runtime's sessions and clock, the bus's
``publish`` (so the SMS sender and the composition root hear :mod:`dispatch.events`), the
console stream, and the OSRM adapter when ``settings.osrm_url`` is set. The service is
``runtime.services["dispatch"]``; the composition root wires the radio's emergencies to its
``record_radio_alert``. The crews' SMS (:mod:`dispatch.sms.wiring`) start after the service
and stop before it. On several nodes (``runtime.cluster``) the console stream is relayed
through NATS (:mod:`dispatch.service.relay`), started before anything can publish.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket

from dispatch.api import dispatch_error_handler, router, stream_endpoint
from dispatch.domain import Triage
from dispatch.errors import DispatchError
from dispatch.lifecycle import DEFAULT_TIMERS
from dispatch.osrm import OsrmTravelTimes
from dispatch.queue import QueuePolicy
from dispatch.recommend import DEFAULT_POLICY
from dispatch.service import DispatchConfig, DispatchService, StreamHub
from dispatch.service.relay import StreamRelay
from dispatch.sms.wiring import SmsFeature

if TYPE_CHECKING:
    from fastapi import FastAPI

    from kernel.config import Settings
    from kernel.runtime import Runtime


def queue_policy(settings: Settings) -> QueuePolicy:
    """The waiting limits per triage colour (``SIAGA_QUEUE_*_SECONDS``)."""
    return QueuePolicy({
        Triage.MERAH: timedelta(seconds=settings.queue_merah_seconds),
        Triage.KUNING: timedelta(seconds=settings.queue_kuning_seconds),
        Triage.HIJAU: timedelta(seconds=settings.queue_hijau_seconds),
    })


class DispatchFeature:
    def __init__(self) -> None:
        self.sms = SmsFeature()
        self.relay: StreamRelay | None = None

    def mount(self, app: FastAPI, runtime: Runtime) -> None:
        async def stream(websocket: WebSocket) -> None:
            await stream_endpoint(websocket, runtime)

        app.add_api_websocket_route("/api/dispatch/stream", stream)
        app.add_exception_handler(DispatchError, dispatch_error_handler)
        app.include_router(router)
        self.sms.mount(app, runtime)

    async def start(self, runtime: Runtime) -> None:
        bus = runtime.services.get("bus")
        osrm_url = runtime.settings.osrm_url
        ack = timedelta(seconds=runtime.settings.sms_ack_timeout_seconds)
        service = DispatchService(
            runtime.sessions,
            clock=lambda: datetime.fromtimestamp(runtime.now(), UTC),
            publish=bus.publish if bus is not None else None,
            hub=StreamHub(),
            osrm=OsrmTravelTimes(osrm_url) if osrm_url else None,
            config=DispatchConfig(
                timers=dataclasses.replace(DEFAULT_TIMERS, acknowledge_within=ack),
                mass_casualty_patients=runtime.settings.mass_casualty_patients,
                rank=dataclasses.replace(
                    DEFAULT_POLICY, trauma_reach_s=runtime.settings.trauma_reach_seconds),
                kelurahan_mismatch_m=runtime.settings.kelurahan_mismatch_metres,
                queue=queue_policy(runtime.settings)),
        )
        if runtime.cluster is not None:
            self.relay = StreamRelay(runtime.cluster, service.hub,
                                     on_remote=lambda message: service.rearm_soon())
            await self.relay.start()
        await service.start()
        runtime.services["dispatch"] = service
        await self.sms.start(runtime)

    async def stop(self, runtime: Runtime) -> None:
        await self.sms.stop(runtime)
        if self.relay is not None:
            await self.relay.close()
            self.relay = None
        service: DispatchService | None = runtime.services.pop("dispatch", None)
        if service is None:
            return
        await service.close()
        if service.osrm is not None:
            await service.osrm.aclose()
