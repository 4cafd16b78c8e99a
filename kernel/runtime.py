"""The long-lived objects of one running server, built once by the app factory.

Handlers reach them through ``request.app.state.runtime``; tests build their own with
other settings. Nothing here does I/O at construction time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kernel.auth import TokenService
from kernel.config import Settings
from kernel.db import create_engine, session_factory
from kernel.ratelimit import FailureLimiter


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
    login_limiter: FailureLimiter
    metrics: Metrics
    clock: Any = time.time
    services: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        engine = create_engine(settings.database_url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            tokens=TokenService(settings.token_secret(), settings.token_ttl_seconds),
            login_limiter=FailureLimiter(
                settings.login_max_failures, float(settings.login_window_seconds)
            ),
            metrics=Metrics(),
        )

    def now(self) -> float:
        return float(self.clock())
