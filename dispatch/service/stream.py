"""The console stream: every change, as JSON, to every connected dispatcher console.

Rules:

1. ``publish`` never waits: a message is queued for each subscriber and the service carries
   on. Each subscriber has a bounded queue (:data:`DEFAULT_BACKLOG` messages).
2. A subscriber whose queue is full is *dropped*, not waited for and not allowed to grow: a
   console that cannot keep up (a stalled tab, a dead mobile link) would otherwise hold the
   whole server's memory. Its endpoint closes the socket (code 4009); the console reconnects
   and reloads its state from the REST API, which is the source of truth.
3. Messages are encoded once per publish, not once per subscriber.
4. Every message has an :class:`Audience`: dispatch consoles, one hospital's screens, or
   both. A hospital's subscription receives only messages addressed to its own hospital;
   the default audience is dispatch only, so a message nobody addressed to a hospital
   never reaches one (it may carry a caller's name and phone).
5. On several nodes, what this node publishes is also handed to ``forward`` with its
   audience (the relay of :mod:`dispatch.service.relay`, which puts it on NATS), and what
   the other nodes published arrives through :meth:`StreamHub.deliver`, which never
   forwards: a message crosses once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("dispatch.stream")

DEFAULT_BACKLOG = 256


@dataclass(frozen=True, slots=True)
class Audience:
    """Who receives a message (rule 4)."""

    dispatch: bool = True
    hospital_id: int | None = None

    @classmethod
    def hospital(cls, hospital_id: int, *, dispatch: bool = False) -> Audience:
        return cls(dispatch, hospital_id)

    def includes(self, sub: Subscription) -> bool:
        if sub.hospital_id is None:
            return self.dispatch
        return sub.hospital_id == self.hospital_id


DISPATCH = Audience()


class Dropped(Exception):
    """The subscriber fell too far behind and was disconnected (rule 2)."""


class Subscription:
    def __init__(self, hub: StreamHub, backlog: int, name: str,
                 hospital_id: int | None = None) -> None:
        self._hub = hub
        self.hospital_id = hospital_id
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
        text = await self._queue.get()
        if self.dropped:  # woken by drop()
            raise Dropped(self.name)
        return text

    def drop(self) -> None:
        """Drop this subscriber now, waking a reader that waits for a message."""
        self.dropped = True
        try:
            self._queue.put_nowait("")
        except asyncio.QueueFull:
            pass  # the reader does not wait: its next get() raises

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
        #: Called with each message this node publishes, its encoding and audience (rule 5).
        self.forward: Callable[[dict[str, Any], str, Audience], None] | None = None

    def subscribe(self, name: str = "", hospital_id: int | None = None) -> Subscription:
        """A dispatch console, or (``hospital_id``) one hospital's screen (rule 4)."""
        sub = Subscription(self, self.backlog, name, hospital_id)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    def hospitals(self) -> set[int]:
        """The hospitals with a screen connected now."""
        return {s.hospital_id for s in self._subscribers if s.hospital_id is not None}

    @staticmethod
    def encode(message: dict[str, Any]) -> str:
        return json.dumps(message, separators=(",", ":"), ensure_ascii=False)

    def publish(self, message: dict[str, Any], audience: Audience = DISPATCH) -> None:
        text = self.encode(message)
        self.deliver(text, audience)
        if self.forward is not None:
            self.forward(message, text, audience)

    def deliver(self, text: str, audience: Audience = DISPATCH) -> None:
        """Offer an encoded message to this node's subscribers of ``audience`` only."""
        self.published += 1
        for sub in list(self._subscribers):
            if not audience.includes(sub):
                continue
            sub.offer(text)
            if sub.dropped:
                self.dropped += 1
                self._subscribers.discard(sub)

    def drop_all(self) -> None:
        """Drop every subscriber (they missed messages: they reconnect and reload)."""
        for sub in list(self._subscribers):
            sub.drop()
            self.dropped += 1
        self._subscribers.clear()

    def __len__(self) -> int:
        return len(self._subscribers)
