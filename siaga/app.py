"""The ASGI application: one process, one port, every endpoint.

``create_app`` wires the composition root's routes and then asks each feature package
to mount its own (``ptt``, ``dispatch``) through :data:`siaga.features.FEATURES`, so the
packages never import each other.
"""

from __future__ import annotations

import gc
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from kernel import cluster
from kernel.bus import EventBus
from kernel.config import Settings
from kernel.errors import install_error_handlers, responses
from kernel.logs import request_id
from kernel.revocation import CredentialsChanged
from kernel.runtime import Runtime
from siaga import __version__, apidocs
from siaga.api import router as core_router
from siaga.basemap import router as basemap_router
from siaga.console import router as console_router
from siaga.features import FEATURES
from siaga.headers import SecurityHeaders
from siaga.limits import BodyLimit
from siaga.places import router as places_router

log = logging.getLogger("siaga.http")


class RequestContext:
    """Gives every request and WebSocket a request id (``X-Request-ID`` in and out),
    logs the request, and counts it for Prometheus."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming[:64] if incoming.isprintable() and incoming else secrets.token_hex(8)
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if scope["type"] == "http":
                elapsed = time.perf_counter() - started
                route = scope.get("route")
                path = getattr(route, "path", None) or "unmatched"
                m = self.runtime.metrics
                m.http_requests.labels(scope["method"], path, str(status)).inc()
                m.http_latency.labels(path).observe(elapsed)
                if path not in ("/healthz", "/metrics"):
                    log.info("request", extra={"method": scope["method"],
                                               "path": scope["path"], "status": status,
                                               "ms": round(elapsed * 1000, 1)})
            request_id.reset(token)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    if runtime is None:
        if settings is None:
            raise ValueError("create_app needs settings or a runtime")
        runtime = Runtime.build(settings)
    rt = runtime

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started = []
        rt.services["bus"] = bus = EventBus()
        rt.cluster = await cluster.connect(rt.settings)
        bus.subscribe(CredentialsChanged, rt.revoker.handle)
        rt.revoker.start(bus.publish)
        try:
            for feature in FEATURES:
                await feature.start(rt)
                started.append(feature)
            # Everything built at start-up lives as long as the process: move it out of the
            # collector's sight, so full collections (which stall the event loop, and with
            # it every floor grant) only walk what came later.
            gc.collect()
            gc.freeze()
            yield
        finally:
            for feature in reversed(started):
                await feature.stop(rt)
            if rt.cluster is not None:
                await rt.cluster.close()
                rt.cluster = None
            await rt.revoker.close()
            await bus.close()
            await rt.engine.dispose()
            rt.offload.shutdown()

    app = FastAPI(
        title="Siaga",
        version=__version__,
        description="Push-to-talk radio and SPGDT emergency dispatch.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # served from our own files: siaga.apidocs
        redoc_url=None,
        lifespan=lifespan,
        # What the body limit (siaga.limits) can answer to any request.
        responses=responses(400, 413),
    )
    app.state.runtime = rt
    install_error_handlers(app)
    app.include_router(core_router)
    app.include_router(console_router)
    app.include_router(places_router)
    app.include_router(basemap_router)
    apidocs.mount(app)
    for feature in FEATURES:
        feature.mount(app, rt)
    shared = rt.settings.webui_dir / "shared"
    if shared.is_dir():
        # The code both screens run (radio client, translation, formats, DOM helpers): the
        # console loads it as /shared/…, the officers' app as ../shared/… from /app/ (and
        # its service worker caches it from there for offline starts).
        app.mount("/shared", StaticFiles(directory=shared), name="shared")
    if rt.settings.mobile_dir.is_dir():
        app.add_api_route("/app", lambda: RedirectResponse("app/"), include_in_schema=False)
        app.mount("/app", StaticFiles(directory=rt.settings.mobile_dir, html=True), name="app")
    if rt.settings.webui_dir.is_dir():
        # Last, so that every API route wins over a static file of the same name.
        app.mount("/", StaticFiles(directory=rt.settings.webui_dir, html=True), name="webui")
    app.add_middleware(BodyLimit, max_bytes=rt.settings.max_body_bytes)
    app.add_middleware(SecurityHeaders, tile_url=rt.settings.map_tile_url)
    app.add_middleware(RequestContext, runtime=rt)
    if rt.settings.forwarded_allow_ips:
        # Outermost, so that everything (logs, throttles, handlers) sees the real client.
        app.add_middleware(ProxyHeadersMiddleware,
                           trusted_hosts=list(rt.settings.forwarded_allow_ips))
    return app
