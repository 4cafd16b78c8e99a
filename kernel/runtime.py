"""The long-lived objects of one running server, built once by the app factory.

Handlers reach them through ``request.app.state.runtime``; tests build their own with
other settings. Nothing here does I/O at construction time.

The event loop relays voice and signaling, so nothing that blocks or burns CPU runs on
it (docs/architecture.md, "Nothing blocks the voice"). :class:`Offload` holds the two
bounded thread pools such work goes to: one for password hashing (argon2id, which
releases the GIL while it hashes, so a hash costs the loop nothing), one for the rest
(reports, CSV, files). Work beyond their threads queues on them, not on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kernel.auth import TokenService
from kernel.cluster import Cluster
from kernel.config import Settings
from kernel.db import create_engine, session_factory
from kernel.ratelimit import LoginThrottle
from kernel.revoker import Revoker

log = logging.getLogger("siaga.runtime")

P = ParamSpec("P")
T = TypeVar("T")

#: Niceness of the pools' threads (and of the threads they start): when the machine is
#: short of CPU, the scheduler serves the event loop's thread before a hash or a report.
WORKER_NICENESS = 10


def _lower_priority() -> None:
    # Linux: a thread id given to setpriority changes that thread only. Lowering one's own
    # priority needs no privilege; elsewhere this is a no-op.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICENESS)


class Offload:
    """Bounded thread pools for blocking or CPU-heavy work, created on first use and shut
    down with the app (a stopped pool is created again if used later, as tests do)."""

    def __init__(self, password_workers: int, blocking_workers: int) -> None:
        self._sizes = {"password": password_workers, "blocking": blocking_workers}
        self._pools: dict[str, ThreadPoolExecutor] = {}

    async def password(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a password hash or verification off the loop."""
        return await self._run("password", fn, *args, **kwargs)

    async def blocking(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run other blocking or CPU-heavy work (reports, files) off the loop."""
        return await self._run("blocking", fn, *args, **kwargs)

    def shutdown(self) -> None:
        """Stop the pools: queued work is cancelled, running work finishes on its own
        (the loop does not wait for it)."""
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            pool.shutdown(wait=False, cancel_futures=True)

    async def _run(self, kind: str, fn: Callable[P, T], *args: P.args,
                   **kwargs: P.kwargs) -> T:
        pool = self._pools.get(kind)
        if pool is None:
            pool = self._pools[kind] = ThreadPoolExecutor(
                self._sizes[kind], thread_name_prefix=f"siaga-{kind}",
                initializer=_lower_priority)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(pool, lambda: fn(*args, **kwargs))


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.http_requests = Counter(
            "siaga_http_requests", "HTTP requests served", ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "siaga_http_request_seconds", "HTTP request latency", ["route"],
            registry=self.registry,
        )
        self.logins = Counter(
            "siaga_logins", "Login attempts", ["outcome"], registry=self.registry
        )


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    tokens: TokenService
    login_throttle: LoginThrottle
    metrics: Metrics
    offload: Offload
    clock: Any = time.time
    services: dict[str, Any] = field(default_factory=dict)
    #: This node's cluster (:mod:`kernel.cluster`) while the app runs, None on one node.
    cluster: Cluster | None = None
    #: Called with the loop-clock deadline when the node drains (:meth:`drain`).
    drain_hooks: list[Callable[[float], Awaitable[None]]] = field(default_factory=list)
    #: Set once the node drains: /readyz answers 503 from then on.
    draining: bool = False
    #: Live sockets, closed when their account's credentials change (started by the app).
    revoker: Revoker = field(init=False)

    def __post_init__(self) -> None:
        self.revoker = Revoker(self.sessions)

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        engine = create_engine(settings.database_url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            tokens=TokenService(settings.token_secret(), settings.token_ttl_seconds),
            login_throttle=LoginThrottle(
                max_failures=settings.login_max_failures,
                window=float(settings.login_window_seconds),
                address_max_failures=settings.login_address_max_failures,
                delay_max=settings.login_delay_max_seconds,
            ),
            metrics=Metrics(),
            offload=Offload(settings.password_workers, settings.blocking_workers),
        )

    def now(self) -> float:
        return float(self.clock())

    async def drain(self, seconds: float) -> None:
        """Stop taking clients and let the ones here move on, within ``seconds``: the
        cluster and load balancers are told first (``/readyz`` 503), then every feature's
        drain hook runs, all at once, until it is done or the deadline passes."""
        self.draining = True
        deadline = asyncio.get_running_loop().time() + seconds
        if self.cluster is not None:
            try:
                await self.cluster.set_draining()
            except Exception as exc:
                log.warning("could not announce the drain to the cluster: %s", exc)
        results = await asyncio.gather(*(hook(deadline) for hook in self.drain_hooks),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                log.error("drain step failed", exc_info=result)
