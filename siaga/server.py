"""How Siaga is served by uvicorn, in one place for the CLI, the tests and the benchmarks.

- ``websockets-sansio``: the WebSocket implementation is the ``websockets`` library.
- 64 KiB per WebSocket message: signaling messages are small (16 KiB is the protocol's
  limit, answered with an error); anything bigger is abuse and closes the socket (1009).
- No permessage-deflate: it doubled the memory of every connection (~45 KiB of zlib
  state each, measured by ``bench/bench_signaling.py``) to save bytes on small JSON.
- WebSocket pings every 20 s keep NAT bindings open and find dead peers.
- asyncio's own event loop, never uvloop (which uvicorn would pick where it is installed):
  the media layer reads asyncio's datagram transports (``ptt.media.preflight``).
"""

from __future__ import annotations

from typing import Any

import uvicorn
from fastapi import FastAPI


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
