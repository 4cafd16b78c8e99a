"""aiortc's RTCP reports and aioice's ICE consent checks, run less often and on a grid.

aiortc sends RTCP reports every 0.5-1.5 s from every sender and receiver, which for a relay
with a hundred idle listeners costs more CPU than forwarding the voice; RFC 3550 recommends
at least 5 s, and browsers (libwebrtc) report audio every 5 s. :func:`relax_rtcp` runs
aiortc's own loop (the same code object) with a longer interval: nothing of it is rewritten.
Each wait ends on a 100 ms grid (:func:`on_grid`), and :func:`align_consent_checks` does the
same for aioice's consent checks, so that the timers of many peers share one wakeup. The
waits are grid sleeps (``ptt.media.grid``): ended by the relay's next forwarded packet after
their time, so that they do not wake the process while it is awake for the voice anyway.

Private parts relied on: aiortc ``RTCRtpSender._run_rtcp`` and ``RTCRtpReceiver._run_rtcp``
(their code objects, re-run with stand-ins for their module's ``random`` and ``asyncio``),
aioice ``Connection.query_consent`` and ``ice.CONSENT_INTERVAL`` (the same), and the
instance attributes that shadow them. ``ptt.media.hooks`` runs each loop with a recording
``sleep`` to check that the stand-ins still set its waits.
"""

from __future__ import annotations

import asyncio
import math
import random as random_module
import sys
import types
from collections.abc import Callable
from typing import Any

from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender

from ptt.media.grid import grid_sleeps

__all__ = [
    "RTCP_INTERVAL", "TIMER_GRID", "align_consent_checks", "consent_waits", "on_grid",
    "relax_peer_rtcp", "relax_rtcp", "rtcp_waits", "run_timer_loop",
]



#: RTCP report interval for audio: RFC 3550's recommended minimum, libwebrtc's audio default.
RTCP_INTERVAL = 5.0


#: Timers of the relaxed loops fire on this grid (seconds of the event loop's clock), so
#: that the reports and checks of many peers share a wakeup instead of one each.
TIMER_GRID = 0.1


def on_grid(now: float, delay: float, grid: float = TIMER_GRID) -> float:
    """``delay`` lengthened so that ``now + delay`` falls on a multiple of ``grid``."""
    return math.ceil((now + delay) / grid - 1e-9) * grid - now


class _AlignedRandom:
    """Stands in for the ``random`` module in a copy of a timer loop that sleeps
    ``base + spread * random.random()``: the sleep becomes ``low + (high - low) * U``,
    lengthened to end on ``grid`` unless it is None."""

    def __init__(self, base: float, spread: float, low: float, high: float,
                 grid: float | None) -> None:
        self._base, self._spread = base, spread
        self._low, self._high = low, high
        self._grid = grid
        self._random = random_module.Random()

    def random(self) -> float:
        wait = self._low + (self._high - self._low) * self._random.random()
        if self._grid is not None:
            try:
                wait = on_grid(asyncio.get_running_loop().time(), wait, self._grid)
            except RuntimeError:  # no running loop: nothing to align with
                pass
        return (wait - self._base) / self._spread


class _AsyncioOnGrid:
    """Stands in for the ``asyncio`` module in a copy of a timer loop whose waits end on the
    grid: its ``sleep`` is a grid sleep (``ptt.media.grid``), ended by the next wakeup of
    the process after its time, so that the loop does not wake the process itself while a
    talker is forwarded. Everything else is asyncio's."""

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    @staticmethod
    def sleep(delay: float) -> asyncio.Future[None]:
        return grid_sleeps().sleep(delay)


_TIMER_LOOPS: dict[tuple[object, ...], Callable[..., Any]] = {}


def _timer_loop(original: Callable[..., Any], stand_in: Callable[[], _AlignedRandom],
                key: tuple[object, ...], *, on_grid: bool) -> Callable[..., Any]:
    """``original``'s own code, run with ``stand_in()`` as its module's ``random`` and, with
    ``on_grid``, :class:`_AsyncioOnGrid` as its ``asyncio`` (one copy per ``key``, shared by
    every peer)."""
    loop = _TIMER_LOOPS.get(key)
    if loop is None:
        scope = {**vars(sys.modules[original.__module__]), "random": stand_in()}
        if on_grid:
            scope["asyncio"] = _AsyncioOnGrid()
        loop = _TIMER_LOOPS[key] = types.FunctionType(
            original.__code__, scope, original.__name__, original.__defaults__,
            original.__closure__)
    return loop


def relax_rtcp(endpoint: RTCRtpSender | RTCRtpReceiver, interval: float = RTCP_INTERVAL, *,
               grid: float | None = TIMER_GRID) -> None:
    """Make this sender's or receiver's RTCP reports ``interval`` seconds apart (on average),
    each wait ending on ``grid`` (None: anywhere, as a browser's).

    Call it before aiortc starts the sender or receiver (before the answer is applied):
    the loop is started by ``send()`` / ``receive()``.
    """
    if interval < 1.0:
        raise ValueError(f"RTCP interval {interval} s is shorter than aiortc's own")
    cls = type(endpoint)
    # aiortc sleeps 0.5 + random.random(): RFC 3550's 0.5-1.5 times the interval.
    loop = _timer_loop(
        cls._run_rtcp,
        lambda: _AlignedRandom(0.5, 1.0, interval * 0.5, interval * 1.5, grid),
        (cls.__qualname__, interval, grid), on_grid=grid is not None)
    endpoint._run_rtcp = types.MethodType(loop, endpoint)  # type: ignore[method-assign]


def relax_peer_rtcp(pc: RTCPeerConnection, interval: float = RTCP_INTERVAL, *,
                    grid: float | None = TIMER_GRID) -> None:
    """:func:`relax_rtcp` for every sender and receiver of ``pc``, and with a ``grid``, its
    ICE consent checks on that grid too (:func:`align_consent_checks`); idempotent."""
    for transceiver in pc.getTransceivers():
        for endpoint in (transceiver.sender, transceiver.receiver):
            if "_run_rtcp" not in vars(endpoint):
                relax_rtcp(endpoint, interval, grid=grid)
        if grid is not None:
            align_consent_checks(transceiver.receiver.transport.transport._connection)




def align_consent_checks(connection: Any) -> None:
    """Run this aioice connection's ICE consent checks (RFC 7675: every 4-6 s) with aioice's
    own loop code, each wait lengthened to end on :data:`TIMER_GRID` (at most 0.1 s later).

    Call it before ICE connects (the loop starts then). Idempotent.
    """
    from aioice import ice

    if "query_consent" in vars(connection):
        return
    interval = ice.CONSENT_INTERVAL
    loop = _timer_loop(
        ice.Connection.query_consent,
        lambda: _AlignedRandom(interval * 0.8, interval * 0.4, interval * 0.8, interval * 1.2,
                               TIMER_GRID),
        ("Connection.query_consent",), on_grid=True)
    connection.query_consent = types.MethodType(loop, connection)


class _Scripted:
    """Stands in for the ``asyncio`` module in a copy of a timer loop run by
    :func:`run_timer_loop`: records each wait; the first ``rounds`` return at once, the
    next raises ``CancelledError`` where the loop waits, as cancelling its task would."""

    def __init__(self, rounds: int) -> None:
        self.waits: list[float] = []
        self._rounds = rounds

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    def sleep(self, delay: float) -> Any:
        self.waits.append(delay)
        if len(self.waits) > self._rounds:
            raise asyncio.CancelledError
        return _no_wait()


async def _no_wait() -> None:
    return None


def run_timer_loop(original: Callable[..., Any], endpoint: Any, *, rounds: int,
                   random: Any = None) -> list[float]:
    """Run ``original``'s own code on ``endpoint``, synchronously, for ``rounds`` waits
    (then cancelled where it next waits), with ``random`` (if not None) as its module's
    ``random``; the waits it asked for. For the checks of ``ptt.media.hooks``."""
    scripted = _Scripted(rounds)
    scope = {**vars(sys.modules[original.__module__]), "asyncio": scripted}
    if random is not None:
        scope["random"] = random
    loop = types.FunctionType(original.__code__, scope, original.__name__,
                              original.__defaults__, original.__closure__)
    coroutine = loop(endpoint)
    try:
        coroutine.send(None)
    except (StopIteration, asyncio.CancelledError):
        pass
    else:  # it waited for something else than its timer
        coroutine.close()
    return scripted.waits


def rtcp_waits(endpoint: RTCRtpSender | RTCRtpReceiver, interval: float = RTCP_INTERVAL, *,
               runs: int = 20) -> list[float]:
    """The first wait of ``runs`` runs of ``endpoint``'s RTCP loop as :func:`relax_rtcp`
    runs it (without the grid): each should be 0.5-1.5 times ``interval``."""
    waits = []
    for _ in range(runs):
        stand_in = _AlignedRandom(0.5, 1.0, interval * 0.5, interval * 1.5, None)
        waits += run_timer_loop(type(endpoint)._run_rtcp, endpoint, rounds=0, random=stand_in)[:1]
    return waits


def consent_waits(*, runs: int = 20) -> list[float]:
    """The first wait of ``runs`` runs of aioice's consent loop as
    :func:`align_consent_checks` runs it (without the grid): each should be 0.8-1.2 times
    ``CONSENT_INTERVAL``."""
    from aioice import ice

    connection = ice.Connection(ice_controlling=False)
    connection.remote_password = "checked"
    interval = ice.CONSENT_INTERVAL
    waits = []
    for _ in range(runs):
        stand_in = _AlignedRandom(interval * 0.8, interval * 0.4, interval * 0.8,
                                  interval * 1.2, None)
        waits += run_timer_loop(ice.Connection.query_consent, connection, rounds=0,
                                random=stand_in)[:1]
    return waits
