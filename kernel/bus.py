"""In-process domain event bus: how ``ptt`` and ``dispatch`` hear each other.

Publishers never wait for subscribers: ``publish`` queues the event for every
subscriber of its type and returns; each subscriber is served by one task in arrival
order, so a slow or failing subscriber delays and breaks no one else. The bus carries
plain frozen dataclasses defined in :mod:`siaga.bridge`, never a package's internals.
On several nodes the bus stays within its node: an event is handled where it arises, and
what the other nodes must see reaches them through the database and the dispatch console
stream, which is relayed over NATS (docs/architecture.md, "Several nodes").
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("siaga.bus")

Handler = Callable[[Any], Awaitable[None]]


class EventBus:
    def __init__(self, max_backlog: int = 10_000) -> None:
        self._subscribers: dict[type, list[asyncio.Queue[Any]]] = defaultdict(list)
        self._tasks: list[asyncio.Task[None]] = []
        self._max_backlog = max_backlog

    def subscribe(self, event_type: type, handler: Handler) -> None:
        queue: asyncio.Queue[Any] = asyncio.Queue(self._max_backlog)
        self._subscribers[event_type].append(queue)
        self._tasks.append(asyncio.create_task(self._serve(event_type, queue, handler)))

    def publish(self, event: object) -> None:
        for queue in self._subscribers.get(type(event), []):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                log.error("event dropped: subscriber backlog full",
                          extra={"event": type(event).__name__})

    async def drain(self) -> None:
        """Wait until every queued event has been handled (tests, shutdown)."""
        for queues in list(self._subscribers.values()):
            for queue in queues:
                await queue.join()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._subscribers.clear()

    async def _serve(self, event_type: type, queue: asyncio.Queue[Any], handler: Handler) -> None:
        while True:
            event = await queue.get()
            try:
                await handler(event)
            except Exception:
                log.exception("event handler failed", extra={"event": event_type.__name__})
            finally:
                queue.task_done()
