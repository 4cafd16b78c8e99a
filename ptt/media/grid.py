"""Sleeps of the relay's relaxed timer loops, ended by whatever wakes the process next.

Why: the RTCP loops of every sender and receiver and the ICE consent loops of every peer
sleep until a 100 ms boundary (``ptt.media.timers.on_grid``), so that many peers share a wakeup.
While a talker is forwarded the process wakes 50 times a second for the voice anyway, yet
those boundaries still woke it about ten more times a second; on our virtual machines one
wakeup costs as much CPU as forwarding a packet to a dozen listeners (``make bench`` prints
it). A grid sleep (:meth:`GridSleeps.sleep`) therefore ends at the first :meth:`wake` after
its time has come, which the relay calls right after it has forwarded a talker packet, or
at the latest ``grace`` seconds later (a timer, for when nobody talks). None of these loops
is urgent: RTCP reports are statistics, consent expires after 30 s (RFC 7675), and a report
or check 20-100 ms late changes nothing.

One :class:`GridSleeps` per event loop (:func:`grid_sleeps`). A sleep is a future: cancelling
the task that awaits it (a peer closing) cancels it, and the wake skips it.

Time comes from ``clock``, the loop's own by default, and then the grid arms one
``loop.call_at`` for its timer. Given another clock (tests step one by hand), it arms
nothing: whoever owns that clock asks :meth:`GridSleeps.get_timer` when the timer is due
and calls :meth:`GridSleeps.handle_timer` then.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import weakref
from collections.abc import Callable

__all__ = ["GRACE", "GridSleeps", "grid_sleeps", "wake"]

#: How long after its time a grid sleep waits for something else to wake the process.
GRACE = 0.1


class GridSleeps:
    """The grid sleeps of one event loop, earliest first."""

    def __init__(self, loop: asyncio.AbstractEventLoop, grace: float = GRACE, *,
                 clock: Callable[[], float] | None = None) -> None:
        self._loop = loop
        self._grace = grace
        self._clock = loop.time if clock is None else clock
        self._arms_timer = clock is None
        self._sleeping: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._backstop: asyncio.TimerHandle | None = None
        self._backstop_at = math.inf
        #: Sleeps ended by :meth:`wake`, and by the timer ``grace`` after their time.
        self.ended_on_wake = self.ended_on_timer = 0

    def __len__(self) -> int:
        return len(self._sleeping)

    def sleep(self, delay: float) -> asyncio.Future[None]:
        """A future that is done once ``delay`` seconds have passed and the process has been
        woken (:meth:`wake`), or ``grace`` seconds after that at the latest."""
        until = self._clock() + delay
        future: asyncio.Future[None] = self._loop.create_future()
        heapq.heappush(self._sleeping, (until, next(self._order), future))
        self._arm(until + self._grace)
        return future

    def wake(self) -> int:
        """End every sleep whose time has come; returns how many ended."""
        ended = self._end_due()
        self.ended_on_wake += ended
        return ended

    def _end_due(self) -> int:
        now = self._clock()
        ended = popped = 0
        sleeping = self._sleeping
        while sleeping and sleeping[0][0] <= now:
            future = heapq.heappop(sleeping)[2]
            popped += 1
            if not future.done():  # a cancelled sleeper is dropped here
                future.set_result(None)
                ended += 1
        if popped:  # the timer now waits for the earliest sleep left, if any
            self._cancel_backstop()
            if sleeping:
                self._arm(sleeping[0][0] + self._grace)
        return ended

    def get_timer(self) -> float | None:
        """When the timer is due (``clock`` time), or None when no sleep waits for it."""
        return None if self._backstop_at == math.inf else self._backstop_at

    def handle_timer(self) -> None:
        """The timer: end every sleep whose time has come, ``grace`` late at the latest."""
        self._backstop, self._backstop_at = None, math.inf
        self.ended_on_timer += self._end_due()
        if self._sleeping and self._backstop_at == math.inf:
            self._arm(self._sleeping[0][0] + self._grace)

    def _cancel_backstop(self) -> None:
        if self._backstop is not None:
            self._backstop.cancel()
        self._backstop, self._backstop_at = None, math.inf

    def _arm(self, when: float) -> None:
        if self._backstop_at <= when:
            return
        if self._backstop is not None:
            self._backstop.cancel()
            self._backstop = None
        self._backstop_at = when
        if self._arms_timer:
            self._backstop = self._loop.call_at(when, self.handle_timer)

    def close(self) -> None:
        """Cancel every sleep and the timer (the loop is closing)."""
        self._cancel_backstop()
        for _, _, future in self._sleeping:
            future.cancel()
        self._sleeping.clear()


#: Where an event loop cannot hold its grid as an attribute (uvloop's loop has no __dict__).
_GRIDS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, GridSleeps] = (
    weakref.WeakKeyDictionary())


def grid_sleeps(loop: asyncio.AbstractEventLoop | None = None) -> GridSleeps:
    """The grid sleeps of ``loop`` (the running loop if None), made on first use. Kept on
    the loop object itself where it can be, so that it goes when the loop goes."""
    loop = loop or asyncio.get_running_loop()
    grid = _grid_of(loop)
    if grid is None:
        grid = GridSleeps(loop)
        try:
            loop._siaga_grid_sleeps = grid  # type: ignore[attr-defined]
        except AttributeError:
            _GRIDS[loop] = grid
    return grid


def wake() -> int:
    """End the running loop's grid sleeps whose time has come; 0 without a running loop or
    without grid sleeps."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return 0
    grid = _grid_of(loop)
    return grid.wake() if grid is not None else 0


def _grid_of(loop: asyncio.AbstractEventLoop) -> GridSleeps | None:
    grid: GridSleeps | None = getattr(loop, "_siaga_grid_sleeps", None)
    return grid if grid is not None else _GRIDS.get(loop)
