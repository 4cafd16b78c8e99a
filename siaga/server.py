"""How Siaga is served by uvicorn, in one place for the CLI, the tests and the benchmarks.

- ``websockets-sansio``: the WebSocket implementation is the ``websockets`` library.
- 64 KiB per WebSocket message: signaling messages are small (16 KiB is the protocol's
  limit, answered with an error); anything bigger is abuse and closes the socket (1009).
- No permessage-deflate: it doubled the memory of every connection (~45 KiB of zlib
  state each, measured by ``bench/bench_signaling.py``) to save bytes on small JSON.
- WebSocket pings every 20 s keep NAT bindings open and find dead peers.
- asyncio's own event loop, never uvloop (which uvicorn would pick where it is installed):
  the media layer reads asyncio's datagram transports (``ptt.media.preflight``).
- SIGTERM drains before it stops (:class:`DrainingServer`): uvicorn alone would close every
  WebSocket at once, cutting off a transmission in progress.
"""

from __future__ import annotations

import asyncio
import signal
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI

from kernel.runtime import Runtime

#: How long a drain may take: a transmission in progress ends within it (docs/deploy.md).
DRAIN_SECONDS = 10.0


def uvicorn_config(app: FastAPI, host: str, port: int, **extra: Any) -> uvicorn.Config:
    options: dict[str, Any] = {
        "loop": "asyncio",
        "ws": "websockets-sansio",
        "ws_max_size": 64 * 1024,
        "ws_per_message_deflate": False,
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 20.0,
        "log_config": None,
        "access_log": False,
        "lifespan": "on",
    }
    options.update(extra)
    return uvicorn.Config(app, host=host, port=port, **options)


class DrainingServer(uvicorn.Server):
    """uvicorn's server, but the first SIGTERM drains the node (``Runtime.drain``: stop taking
    clients, move them on, let a transmission end) for at most ``drain_seconds`` before
    uvicorn's own shutdown; a second signal, or SIGINT, stops at once as uvicorn does."""

    def __init__(self, config: uvicorn.Config, runtime: Runtime,
                 drain_seconds: float = DRAIN_SECONDS) -> None:
        super().__init__(config)
        self.runtime = runtime
        self.drain_seconds = drain_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain: asyncio.Task[None] | None = None

    async def serve(self, sockets: Any = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig != signal.SIGTERM or self._loop is None or self._drain is not None:
            super().handle_exit(sig, frame)
            return
        # A signal handler runs between two bytecodes of the loop's thread: hand over.
        self._loop.call_soon_threadsafe(self._start_drain, sig)

    def _start_drain(self, sig: int) -> None:
        if self._drain is None:
            self._drain = asyncio.get_running_loop().create_task(self._drain_then_exit(sig))

    async def _drain_then_exit(self, sig: int) -> None:
        try:
            await asyncio.wait_for(self.runtime.drain(self.drain_seconds),
                                   self.drain_seconds + 1.0)
        except Exception:  # a drain that fails must not keep the process alive
            pass
        super().handle_exit(sig, None)
