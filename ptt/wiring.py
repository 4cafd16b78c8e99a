"""The radio as a feature of the composition root: routes, start and stop.

This is the one module of ``ptt`` that knows the composition root (tokens, settings,
the session factory); everything else in ``ptt`` receives what it needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.websockets import WebSocket

from kernel.auth import TokenError
from kernel.deps import refuse_foreign_origin
from ptt.control import Radio
from ptt.errors import CommandRefused
from ptt.lease import LossReason
from ptt.media.ports import PortRange
from ptt.server import proxy, sessions
from ptt.server.api import identity_of
from ptt.server.api import router as api_router
from ptt.server.leadership import Leadership
from ptt.server.recorder import Recorder, purge_expired
from ptt.server.replay import RecentHandler
from ptt.server.replay import router as replay_router
from ptt.server.restproxy import LeaderRest
from ptt.server.service import RadioService
from ptt.server.sessions import SessionBook
from ptt.server.signaling import AuthFailed, Signaling
from ptt.server.store import SqlRadioStore, load_talkgroups
from ptt.server.voice import WebRtcVoice
from ptt.server.wsaudio import WebSocketVoice
from ptt.talkgroup import Identity
from ptt.turn import TurnCredentials

if TYPE_CHECKING:
    from fastapi import FastAPI

    from kernel.cluster import Cluster
    from kernel.runtime import Runtime

log = logging.getLogger("ptt.wiring")

#: Recordings are purged this long after start-up, then every day.
PURGE_DELAY = 300.0
PURGE_INTERVAL = 24 * 3600.0


class MediaCollector:
    """Exposes the voice counters (WebSocket audio, recorder, WebRTC relay) on /metrics."""

    def __init__(self, services: dict[str, Any]) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        wsaudio: WebSocketVoice | None = self.services.get("wsaudio")
        if wsaudio is not None:
            for name, value in wsaudio.counters().items():
                kind = GaugeMetricFamily if name == "listeners" else CounterMetricFamily
                yield kind(f"siaga_wsaudio_{name}", f"WebSocket audio: {name}", value=value)
        recorder: Recorder | None = self.services.get("recorder")
        if recorder is not None:
            for name in recorder.metrics.__slots__:
                yield CounterMetricFamily(f"siaga_recorder_{name}", f"Recorder: {name}",
                                          value=getattr(recorder.metrics, name))
            yield GaugeMetricFamily("siaga_recorder_alarm", "1 while recordings fail",
                                    value=int(recorder.alarm is not None))
        webrtc: WebRtcVoice | None = self.services.get("webrtc")
        if webrtc is not None:
            m = webrtc.relay.metrics
            for name in m.__slots__:
                yield CounterMetricFamily(f"siaga_webrtc_{name}", f"WebRTC relay: {name}",
                                          value=getattr(m, name))


class RadioFeature:
    def mount(self, app: FastAPI, runtime: Runtime) -> None:
        # The clients this node passes on to another node's radio (moved when it drains).
        relays = runtime.services["radio_relays"] = proxy.Relays()

        async def serve_here(websocket: WebSocket) -> None:
            signaling: Signaling = runtime.services["signaling"]
            wsaudio: WebSocketVoice | None = runtime.services.get("wsaudio")
            if wsaudio is None:
                await signaling.endpoint(websocket)
            else:
                await wsaudio.serve(websocket, signaling.endpoint)

        async def ws_endpoint(websocket: WebSocket) -> None:
            if await refuse_foreign_origin(websocket, runtime.settings.public_url):
                return
            leadership: Leadership | None = runtime.services.get("radio_leadership")
            if leadership is None:
                await serve_here(websocket)
            else:
                await proxy.serve(websocket, leadership, serve_here,
                                  runtime.services["radio_ready"], relays)

        app.add_api_websocket_route("/ws", ws_endpoint)
        app.add_middleware(LeaderRest,
                           leadership=lambda: runtime.services.get("radio_leadership"))
        app.include_router(api_router)
        app.include_router(replay_router)

    async def start(self, runtime: Runtime) -> None:
        talkgroups = await load_talkgroups(runtime.sessions)
        store = SqlRadioStore(runtime.sessions)
        store.start()
        bus = runtime.services.get("bus")
        service = RadioService(Radio(tg for tg, _ in talkgroups), store,
                               publish=bus.publish if bus is not None else lambda e: None)
        service.numbers.update({tg.id: number for tg, number in talkgroups})

        async def authenticate(token: str) -> tuple[Identity, int]:
            async with runtime.sessions() as session:
                try:
                    principal = await runtime.tokens.authenticate(session, token, runtime.now())
                except TokenError as exc:
                    raise AuthFailed(exc.code, exc.message) from None
            return identity_of(principal), principal.token_version

        settings = runtime.settings
        ice = [server.model_dump(mode="json") for server in settings.ice_servers]
        for server in ice:  # clients need the credential; config show masks it
            secret = next(s for s in settings.ice_servers if s.urls == server["urls"])
            if secret.credential is not None:
                server["credential"] = secret.credential.get_secret_value()
        turn = None
        if settings.turn_secret is not None:
            turn = TurnCredentials(settings.turn_secret.get_secret_value(),
                                   tuple(settings.turn_urls),
                                   settings.turn_credential_ttl_seconds)

        def ice_servers(identity: Identity) -> list[dict[str, Any]]:
            if turn is None:
                return ice
            return [*ice, turn.ice_server(identity.user_id, runtime.now())]

        signaling = Signaling(service, authenticate, ice_servers,
                              runtime.settings.command_centre_phone, runtime.revoker)
        runtime.services["radio_store"] = store
        runtime.services["radio"] = service
        runtime.services["signaling"] = signaling
        ports = None
        if settings.ice_port_min is not None and settings.ice_port_max is not None:
            ports = PortRange(settings.ice_port_min, settings.ice_port_max)
        runtime.services["webrtc"] = webrtc = WebRtcVoice(
            service, signaling, ice, public_ips=settings.ice_public_ips, ice_ports=ports)
        recorder = None
        if runtime.settings.record_transmissions:
            recorder = Recorder(runtime.settings.recordings_path, store)
            recorder.start()
            service.observers.append(recorder)
            store.on_transmission_started = recorder.transmission_stored
            runtime.services["recorder"] = recorder
        wsaudio = WebSocketVoice(service, signaling, relay=webrtc.relay, recorder=recorder,
                                 buffer_limit=runtime.settings.ws_audio_buffer_bytes)
        runtime.services["wsaudio"] = wsaudio
        signaling.on_command["recent"] = RecentHandler(service, runtime.sessions)

        async def drain(deadline: float) -> None:
            nodes: list[str] = []
            if runtime.cluster is not None:
                try:
                    live = await runtime.cluster.live_nodes()
                except Exception:  # NATS away: the clients still go, to the balancer
                    live = []
                nodes = [n.public_url for n in live
                         if n.node_id != runtime.cluster.node_id and not n.draining]
            leadership: Leadership | None = runtime.services.get("radio_leadership")
            hand_over = leadership.close if leadership is not None and leadership.holds() \
                else None
            relays: proxy.Relays = runtime.services["radio_relays"]
            await asyncio.gather(service.drain(deadline, nodes, hand_over),
                                 relays.drain(deadline, nodes))

        runtime.drain_hooks.append(drain)
        collector = MediaCollector(runtime.services)
        runtime.metrics.registry.register(collector)
        runtime.services["media_collector"] = collector
        if recorder is not None:
            runtime.services["recordings_purger"] = asyncio.create_task(
                self._purge_daily(runtime), name="ptt-purge")
        if runtime.cluster is not None:
            await self._lead(runtime, runtime.cluster, service, signaling)

    async def _lead(self, runtime: Runtime, cluster: Cluster, service: RadioService,
                    signaling: Signaling) -> None:
        """In a cluster, serve the radio only while this node holds the radio lease
        (``ptt.server.leadership``); sessions are kept in the cluster's bucket so that the
        next leader resumes them."""
        taking_over: set[asyncio.Task[None]] = set()

        def fresh_radio() -> None:
            talkgroups = list(service.radio.roster.talkgroups.values())
            service.reset(Radio(talkgroups), dict(service.numbers))

        def gained(token: int) -> None:
            fresh_radio()
            book.took_over(token)
            task = asyncio.create_task(self._take_over(runtime, service, book))
            taking_over.add(task)
            task.add_done_callback(taking_over.discard)

        def lost(reason: LossReason) -> None:
            book.stepped_down()
            fresh_radio()

        leadership = Leadership(cluster, on_gained=gained, on_lost=lost)
        # New clients wait (proxy.serve) until the take-over has restored what it can.
        runtime.services["radio_ready"] = lambda: not taking_over
        book = SessionBook(await cluster.key_value(sessions.BUCKET),
                           lambda: leadership.token, resume_window=service.resume_window)
        service.serving = leadership.holds
        service.sessions = book
        signaling.restore = book.load
        runtime.services["radio_sessions"] = book
        runtime.services["radio_leadership"] = leadership
        await leadership.start()

    @staticmethod
    async def _take_over(runtime: Runtime, service: RadioService, book: SessionBook) -> None:
        """Talkgroups opened or closed while another node led, as the database has them;
        then the emergencies and patches the last leader had."""
        try:
            talkgroups = await load_talkgroups(runtime.sessions)
        except Exception:
            log.exception("talkgroups not reloaded")
            return
        known = set(service.radio.roster.talkgroups)
        for tg, number in talkgroups:
            if tg.id not in known:
                service.add_talkgroup(tg, number)
        for code in known - {tg.id for tg, _ in talkgroups}:
            with contextlib.suppress(CommandRefused):
                service.remove_talkgroup(code)
        emergencies = await book.emergencies()
        if emergencies is not None and service.serving():
            service.restore_emergencies(emergencies)
        patches = await book.patches()
        if patches is not None and service.serving():
            service.restore_patches(patches)

    async def _purge_daily(self, runtime: Runtime) -> None:
        await asyncio.sleep(PURGE_DELAY)
        while True:
            try:
                await purge_expired(runtime.sessions, runtime.settings.recordings_path,
                                    datetime.now(UTC))
            except Exception:
                log.exception("recordings purge failed")
            await asyncio.sleep(PURGE_INTERVAL)

    async def stop(self, runtime: Runtime) -> None:
        leadership: Leadership | None = runtime.services.pop("radio_leadership", None)
        if leadership is not None:
            await leadership.close()  # its clients move to the next leader at once
        runtime.services.pop("radio_ready", None)
        book: SessionBook | None = runtime.services.pop("radio_sessions", None)
        if book is not None:
            await book.close()
        purger: asyncio.Task[None] | None = runtime.services.pop("recordings_purger", None)
        if purger is not None:
            purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purger
        collector: MediaCollector | None = runtime.services.pop("media_collector", None)
        if collector is not None:
            runtime.metrics.registry.unregister(collector)
        voice: WebRtcVoice | None = runtime.services.pop("webrtc", None)
        if voice is not None:
            await voice.close()
        wsaudio: WebSocketVoice | None = runtime.services.pop("wsaudio", None)
        if wsaudio is not None:
            await wsaudio.close()
        service: RadioService | None = runtime.services.pop("radio", None)
        if service is not None:
            await service.close()
        store: SqlRadioStore | None = runtime.services.pop("radio_store", None)
        recorder: Recorder | None = runtime.services.pop("recorder", None)
        if store is not None:
            await store.flush()  # the last transmissions' ids name their recordings
        if recorder is not None:
            await recorder.close()
        if store is not None:
            await store.stop()
        runtime.services.pop("signaling", None)
