"""Types of the optional C extension ``ptt/media/_rtpout.c`` (see that file for why)."""

import socket
from collections.abc import Hashable
from typing import Any

from ptt.rtp import Rewritten

MAX_PLAIN: int

class RtpOut:
    sent: int
    octets: int
    sent_bytes: int
    ntp: int
    rtp_timestamp: int
    def __init__(self, sock: socket.socket, family: int, address: bytes, port: int, scope_id: int,
                 protect: int, context: int, byte0: int, payload_type: int,
                 tail: bytes) -> None: ...
    def send(self, sequence: int, timestamp: int, marker: bool, payload: bytes) -> int: ...
    def connect_socket(self) -> None: ...
    def guard(self, dtls: Any, connected: Any, nominated: dict[Any, Any], pair: Any,
              transport: Any, session: Any) -> None: ...

class Retimer:
    packets: int
    bursts: int
    dropped_late: int
    def __init__(self, *, initial_sequence: int = ..., initial_timestamp: int = ...,
                 clock_rate: int = ..., tolerance: float = ...) -> None: ...
    def start_burst(self) -> None: ...
    def rewrite(self, source: Hashable, sequence: int, timestamp: int, now: float, *,
                marker: bool = ..., samples: int = ...) -> Rewritten | None: ...

def fan_out(downlinks: list[Any], source: Hashable, sequence: int, timestamp: int,
            marker: bool, samples: int, now: float, payload: bytes, ntp: int,
            offsets: list[float] | None
            ) -> tuple[int, int, list[Any] | None, list[tuple[Any, BaseException]] | None]: ...
