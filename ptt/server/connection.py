"""One client's WebSocket, seen by the service as a non-blocking outbox.

The service never awaits a client: it puts encoded text into a bounded queue that one
writer task drains. A client whose outbox overflows is too slow to follow the net; it is
closed (close code 4009) rather than allowed to grow the server's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("ptt.connection")

OUTBOX_LIMIT = 512
CLOSE_TOO_SLOW = 4009


class Connection:
    def __init__(
        self,
        send_text: Callable[[str], Awaitable[None]],
        close: Callable[[int, str], Awaitable[None]],
        *,
        name: str = "",
        limit: int = OUTBOX_LIMIT,
    ) -> None:
        self._send_text = send_text
        self._close = close
        self.name = name
        self._outbox: asyncio.Queue[str | None] = asyncio.Queue(limit)
        self._writer = asyncio.create_task(self._write(), name=f"ws-writer {name}")
        self._closing: asyncio.Task[None] | None = None
        self._failed: str | None = None
        self.closed = False

    def send(self, text: str) -> None:
        if self.closed:
            return
        try:
            self._outbox.put_nowait(text)
        except asyncio.QueueFull:
            log.warning("client too slow; closing", extra={"client": self.name})
            self.close(CLOSE_TOO_SLOW, "too slow to follow the net")

    def close(self, code: int, reason: str) -> None:
        """Flush what is queued, then close with ``code``."""
        if self.closed:
            return
        self.closed = True
        self._closing = asyncio.create_task(self._finish(code, reason))

    async def _finish(self, code: int, reason: str) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._outbox.put_nowait(None)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._writer, 2)
        self._writer.cancel()
        with contextlib.suppress(Exception):
            await self._close(code, reason)

    async def _write(self) -> None:
        while True:
            text = await self._outbox.get()
            if text is None:
                return
            try:
                await self._send_text(text)
            except Exception:  # the socket is gone; the reader side notices and detaches
                self.closed = True
                self._failed = text
                return

    def take_unsent(self) -> list[str]:
        """What was queued but not written (the message whose write failed first), in
        order; the outbox is empty afterwards. A resumed session gets these again. Nothing
        while a close of ours is under way: that one writes what is queued first."""
        if self._closing is not None:
            return []
        unsent = [] if self._failed is None else [self._failed]
        self._failed = None
        while not self._outbox.empty():
            text = self._outbox.get_nowait()
            if text is not None:
                unsent.append(text)
        return unsent

    async def aclose(self) -> None:
        """Stop writing; a close already under way (with its code) is let finish first."""
        self.closed = True
        if self._closing is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._closing), 3)
        self._writer.cancel()
        with contextlib.suppress(BaseException):
            await self._writer
