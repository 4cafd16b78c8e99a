"""What the media layer needs from the Python and the event loop it runs on, checked before
``siaga serve`` listens.

Why: the relay reads a flag asyncio keeps to itself. The C sender
(``ptt/media/_rtpout.c``) checks, before it sends on an ICE socket, that the socket's datagram
transport is still open by reading its ``_closing`` flag (what ``is_closing()`` returns).
Names in a library's source do not prove behaviour (Python 3.11.2's datagram transports
inherit a ``pause_reading()`` that raises ``NotImplementedError``, which later 3.11 patch
releases implement), so :func:`check_media_support` opens a UDP endpoint on an event loop
of the kind the server runs on and watches it do what the relay relies on. A failure names
the missing thing at start-up instead of losing audio in the middle of a call.

What is checked, in order (each failure a :class:`MediaSupportError` naming it):

1. each private hook into aiortc, aioice and pylibsrtp, exercised on real objects of the
   installed libraries (``ptt.media.hooks.check_aiortc_hooks``, a few milliseconds);
2. the loop's datagram transports are asyncio's selector transports (uvloop's are not:
   they have no ``_closing``);
3. a datagram sent to the endpoint reaches ``datagram_received``, with ``_closing`` False
   and ``is_closing()`` agreeing;
4. after ``close()``, ``_closing`` is True at once, and ``connection_lost`` runs while the
   socket is still open.
"""

from __future__ import annotations

import asyncio
import socket
from asyncio import selector_events
from collections.abc import Callable
from typing import Any

from ptt.errors import PttError
from ptt.media.hooks import AiortcHookError, check_aiortc_hooks

__all__ = ["MediaSupportError", "check_media_support", "probe_datagram_transport"]

#: Seconds the probe waits for its own datagram, and for ``connection_lost``.
PROBE_TIMEOUT = 2.0


class MediaSupportError(PttError):
    """The Python, its asyncio or a media library lacks what the media layer needs."""


def check_media_support(
    loop_factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.SelectorEventLoop,
) -> None:
    """Raise :class:`MediaSupportError` naming what is missing (module docstring).

    ``loop_factory`` makes a loop of the kind the server runs on (``siaga.server`` has
    uvicorn run asyncio's selector loop). Not for a thread that runs a loop already.
    """
    try:
        check_aiortc_hooks()
    except AiortcHookError as exc:
        raise MediaSupportError(str(exc)) from exc
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(probe_datagram_transport())


class _Probe(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.transport: Any = None
        self.received = asyncio.get_running_loop().create_future()
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if not self.received.done():
            self.received.set_result(data)

    def connection_lost(self, exc: Exception | None) -> None:
        # The socket must still be open here.
        sock = self.transport.get_extra_info("socket")
        if not self.lost.done():
            self.lost.set_result(sock is not None and sock.fileno() != -1)


async def probe_datagram_transport() -> None:
    """Steps 2-4 of the module docstring, on the running loop (a UDP socket on 127.0.0.1)."""
    loop = asyncio.get_running_loop()
    selector_transport = getattr(selector_events, "_SelectorTransport", None)
    if selector_transport is None:
        raise MediaSupportError("asyncio.selector_events._SelectorTransport is gone; "
                                "ptt/media/_rtpout.c reads its _closing flag")
    transport, probe = await loop.create_datagram_endpoint(
        _Probe, local_addr=("127.0.0.1", 0), family=socket.AF_INET)
    try:
        if not isinstance(transport, selector_transport):
            raise MediaSupportError(
                f"the event loop {type(loop).__module__}.{type(loop).__qualname__} makes "
                f"datagram transports of type {type(transport).__qualname__}, not asyncio's "
                "selector transports, whose _closing flag ptt/media/_rtpout.c reads; run "
                "asyncio's own event loop (not uvloop)")
        if getattr(transport, "_closing", None) is not False or transport.is_closing():
            raise MediaSupportError("an open asyncio datagram transport does not have "
                                    "_closing False and is_closing() False")
        transport.sendto(b"siaga", transport.get_extra_info("sockname"))
        try:
            await asyncio.wait_for(probe.received, PROBE_TIMEOUT)
        except TimeoutError:
            raise MediaSupportError("an asyncio datagram transport did not deliver a datagram "
                                    "sent to itself to datagram_received") from None
    finally:
        transport.close()
    if getattr(transport, "_closing", None) is not True:
        raise MediaSupportError("asyncio's datagram transport close() does not set _closing, "
                                "which ptt/media/_rtpout.c reads as is_closing()")
    try:
        socket_open = await asyncio.wait_for(probe.lost, PROBE_TIMEOUT)
    except TimeoutError:
        raise MediaSupportError("a closed asyncio datagram transport never called "
                                "connection_lost") from None
    if not socket_open:
        raise MediaSupportError("asyncio closes a datagram transport's socket before it calls "
                                "connection_lost; the C sender could send on a reused "
                                "descriptor")
