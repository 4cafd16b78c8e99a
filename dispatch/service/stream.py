"""The console stream: every change, as JSON, to every connected dispatcher console.

Rules:

1. ``publish`` never waits: a message is queued for each subscriber and the service carries
   on. Each subscriber has a bounded queue (:data:`DEFAULT_BACKLOG` messages).
2. A subscriber whose queue is full is *dropped*, not waited for and not allowed to grow: a
   console that cannot keep up (a stalled tab, a dead mobile link) would otherwise hold the
   whole server's memory. Its endpoint closes the socket (code 4009); the console reconnects
   and reloads its state from the REST API, which is the source of truth.
3. Messages are encoded once per publish, not once per subscriber.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

log = logging.getLogger("dispatch.stream")

DEFAULT_BACKLOG = 256


class Dropped(Exception):
    """The subscriber fell too far behind and was disconnected (rule 2)."""


class Subscription:
    def __init__(self, hub: StreamHub, backlog: int, name: str) -> None:
        self._hub = hub
        self._queue: asyncio.Queue[str] = asyncio.Queue(backlog)
        self.name = name
        self.dropped = False

    def offer(self, text: str) -> None:
        if self.dropped:
            return
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            self.dropped = True
            log.warning("console too slow; dropping it", extra={"user": self.name})

    async def get(self) -> str:
        """The next message; :class:`Dropped` once the subscriber has been dropped."""
        if self.dropped:
            raise Dropped(self.name)
        return await self._queue.get()

    def pending(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        self._hub.unsubscribe(self)


class StreamHub:
    def __init__(self, backlog: int = DEFAULT_BACKLOG) -> None:
        self.backlog = backlog
        self._subscribers: set[Subscription] = set()
        self.published = 0
        self.dropped = 0

    def subscribe(self, name: str = "") -> Subscription:
        sub = Subscription(self, self.backlog, name)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    def publish(self, message: dict[str, Any]) -> None:
        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
        self.published += 1
        for sub in list(self._subscribers):
            sub.offer(text)
            if sub.dropped:
                self.dropped += 1
                self._subscribers.discard(sub)

    def __len__(self) -> int:
        return len(self._subscribers)
