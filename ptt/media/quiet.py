"""Quiet sockets: the sockets of peers that are not talking are read in sweeps, not per datagram.

Why: on our servers one wakeup of the event loop costs about as much CPU as the work it wakes
up for (``make bench`` prints it: a bare asyncio process woken by a datagram uses ~0.2 ms
per wakeup, most of it the interpreter's code and data coming back into the caches). A
connected peer that does not hold a floor sends only RTCP reports and ICE consent checks,
about one datagram a second; with 100 peers these arrive ~80 times a second, at random
moments, and each wakes the process. None of them is urgent: RTCP carries statistics, and
consent has a 30 s timeout (RFC 7675). So such a peer's sockets leave the event loop's
selector (``pause_reading``) and are watched by a private selector that nobody waits on.
A sweep asks it, without blocking, which of them have datagrams, and reads those through
the transport's own read handler, so the protocol above sees exactly what it would have
seen, only later (up to two intervals, 200 ms).
Measured (``make bench``, ``fast`` against ``fast-loud``, 100 listeners): the background CPU
of connected peers halves (34-39 to 17-20 ms per second over several runs); while a talker
is forwarded the saving is a few percent, since the process is awake then anyway and what
remains is the Python work on each datagram.

Sweeps run in a loop of grid sleeps (``ptt.media.grid``), one ``interval`` apart and on the
100 ms grid: a sleep ends at the first wake after its time, which the relay gives right after
it has forwarded a talker packet (the process is awake and warm anyway), or, while nobody
talks, by the grid's timer one grace period (100 ms) later, the same timer that ends the
relaxed RTCP and consent waits.

A sweep drains each ready socket up to ``burst`` datagrams; what is left waits for the
next sweep, and past the socket's receive buffer the kernel drops it. That is the only
behaviour a flooding peer sees: a flood costs the server one read per datagram it reads, at
most ``burst`` per sweep, never a wakeup per datagram.

The sockets of a peer that holds a floor are read as datagrams arrive (:meth:`loud`), as
are a peer's sockets until its ICE and DTLS have connected (the relay decides; this module
only does what it is told). Only asyncio's own selector transports can be quiet: under
another event loop (uvloop), or for the server's own TURN allocations, every socket stays
read as datagrams arrive.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import selectors
from asyncio import selector_events
from typing import Any

from ptt.errors import PttError, UsageError
from ptt.media.aiortc_tap import on_grid
from ptt.media.grid import GridSleeps, grid_sleeps

__all__ = ["QuietSockets", "QuietSocketsError", "check_quiet_hooks", "SWEEP_INTERVAL"]

logger = logging.getLogger(__name__)

#: Seconds between sweeps while a talker is forwarded; a grid grace (0.1 s) more while nobody
#: talks.
SWEEP_INTERVAL = 0.1
#: Datagrams read from one socket per sweep (a default receive buffer holds ~200-300 small
#: ones): a stuck microphone's 5 packets per sweep are all read, a flood is capped.
SWEEP_BURST = 256
#: Seconds between looks for quiet transports that were closed without being forgotten.
PRUNE_INTERVAL = 1.0


class QuietSocketsError(PttError):
    """The asyncio internals this module reads have changed (raised at start-up)."""


def check_quiet_hooks() -> None:
    """Fail loudly if asyncio's selector datagram transport no longer works as used here."""
    cls = getattr(selector_events, "_SelectorDatagramTransport", None)
    read_ready = getattr(cls, "_read_ready", None)
    if cls is None or read_ready is None:
        raise QuietSocketsError("asyncio's _SelectorDatagramTransport._read_ready is gone")
    source = inspect.getsource(read_ready)
    if "recvfrom" not in source or "datagram_received" not in source:
        raise QuietSocketsError(
            "asyncio's _SelectorDatagramTransport._read_ready no longer reads one datagram "
            "and hands it to datagram_received; QuietSockets cannot read for the loop")
    for name in ("pause_reading", "resume_reading", "is_reading", "is_closing"):
        if not callable(getattr(cls, name, None)):
            raise QuietSocketsError(f"asyncio's datagram transport has no {name}()")


def _quietable(transport: Any) -> bool:
    """Only asyncio's own selector transports: another loop (uvloop) reads as it likes."""
    return isinstance(transport, selector_events._SelectorDatagramTransport)  # type: ignore[attr-defined]


class QuietSockets:
    """The quiet datagram transports of one event loop and their sweeps (module docstring)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, interval: float = SWEEP_INTERVAL,
                 burst: int = SWEEP_BURST, sleeps: GridSleeps | None = None) -> None:
        if interval <= 0 or burst < 1:
            raise UsageError("interval must be positive and burst at least 1")
        self._loop = loop
        self.interval = interval
        self.burst = burst
        #: The grid the sweeps sleep on: the loop's own unless a test brings one.
        self._sleeps = sleeps if sleeps is not None else grid_sleeps(loop)
        self._selector = selectors.DefaultSelector()
        #: fd -> transport and transport -> fd, for the transports quiet now (by transport
        #: too: a closed socket's fileno() is -1, and its number may be reused).
        self._quiet: dict[int, Any] = {}
        self._fds: dict[Any, int] = {}
        #: When the next sweep looks for transports closed under us (at most once a second:
        #: that is a Python call per quiet socket, and sweeps follow forwarded packets).
        self._prune_due = loop.time()
        #: The loop of sweeps, while any transport is quiet.
        self._sweeping: asyncio.Task[None] | None = None
        #: Sweeps run and datagrams they read (tests, diagnostics).
        self.sweeps = 0
        self.read = 0

    def __len__(self) -> int:
        return len(self._quiet)

    def is_quiet(self, transport: Any) -> bool:
        return transport in self._fds

    def quiet(self, transport: Any) -> bool:
        """Stop reading ``transport`` as datagrams arrive; sweeps read it. Idempotent.

        Returns False (and changes nothing) for a transport that is closing or is not an
        asyncio selector datagram transport.
        """
        if transport.is_closing() or not _quietable(transport):
            return False
        if transport in self._fds:
            return True
        fd = int(transport.get_extra_info("socket").fileno())
        if fd in self._quiet:  # a closed transport's number, reused by a new socket
            self.forget(self._quiet[fd])
        transport.pause_reading()
        self._selector.register(fd, selectors.EVENT_READ, transport)
        self._quiet[fd] = transport
        self._fds[transport] = fd
        if self._sweeping is None:
            self._sweeping = self._loop.create_task(self._sweep_loop())
        return True

    def loud(self, transport: Any) -> None:
        """Read ``transport`` as datagrams arrive again (unless it is closing). Idempotent."""
        if transport not in self._fds:
            return
        self.forget(transport)
        if not transport.is_closing():
            transport.resume_reading()

    def forget(self, transport: Any) -> None:
        """Drop ``transport`` without reading it again (it is being closed). Idempotent."""
        fd = self._fds.pop(transport, None)
        if fd is None:
            return
        del self._quiet[fd]
        try:
            self._selector.unregister(fd)
        except (KeyError, ValueError):
            pass
        if not self._quiet:
            self._stop_sweeping()

    async def _sweep_loop(self) -> None:
        """Sweep one ``interval`` after the last sweep, at the grid's next wake."""
        while True:
            await self._sleeps.sleep(on_grid(self._loop.time(), self.interval))
            try:
                self.sweep()
            except Exception:  # never end the sweeps: the other peers still need reading
                logger.exception("a sweep of the quiet sockets failed")

    def _stop_sweeping(self) -> None:
        if self._sweeping is not None:
            self._sweeping.cancel()
            self._sweeping = None

    def sweep(self) -> int:
        """Read every quiet socket that has datagrams, up to ``burst`` each; return how many.

        In rounds: each round asks the private selector (level-triggered) which sockets
        still have a datagram and reads one from each, so a busy socket cannot starve the
        others and no socket is read past empty.
        """
        now = self._loop.time()
        self.sweeps += 1
        total = 0
        for _ in range(self.burst):
            ready = self._selector.select(0) if self._quiet else []
            if not ready:
                break
            for key, _event in ready:
                transport = key.data
                if transport.is_closing() or transport not in self._fds:
                    self.forget(transport)
                    continue
                try:
                    transport._read_ready()  # see check_quiet_hooks
                except Exception:  # the protocol's own bug: keep reading the others
                    logger.exception("reading a quiet socket failed")
                total += 1
        self.read += total
        if now >= self._prune_due:
            self._prune_due = now + PRUNE_INTERVAL
            for transport in [t for t in self._fds if t.is_closing()]:
                self.forget(transport)  # closed under us (ICE consent lost): its fd is gone
        return total

    def close(self) -> None:
        """Make every quiet transport loud again and stop the sweeps."""
        for transport in list(self._fds):
            self.loud(transport)
        self._stop_sweeping()
        self._selector.close()
