"""Grid sleeps: the relaxed RTCP and consent waits end at the next wakeup after their time
(the relay wakes them right after forwarding a talker packet), or ``grace`` later by a
timer when nothing wakes the process."""

from __future__ import annotations

import asyncio

from aiortc import RTCConfiguration, RTCPeerConnection

from ptt.media import grid
from ptt.media.grid import GridSleeps, grid_sleeps
from ptt.media.timers import relax_rtcp


class Clock:
    """Time stepped by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_sleep_ends_at_the_first_wake_after_its_time() -> None:
    clock = Clock()
    sleeps = GridSleeps(asyncio.get_running_loop(), grace=10.0, clock=clock)
    first, later = sleeps.sleep(0.05), sleeps.sleep(0.3)
    assert sleeps.wake() == 0  # too early: nothing ends
    clock.now = 0.08
    assert not first.done()  # its time has come, but nothing woke it yet
    assert sleeps.wake() == 1
    assert first.done() and not later.done()
    assert (sleeps.ended_on_wake, sleeps.ended_on_timer, len(sleeps)) == (1, 0, 1)
    sleeps.close()
    assert later.cancelled()


async def test_without_a_wake_the_timer_ends_it_grace_after_its_time() -> None:
    clock = Clock()
    sleeps = GridSleeps(asyncio.get_running_loop(), grace=0.25, clock=clock)
    sleeping = sleeps.sleep(0.25)
    assert sleeps.get_timer() == 0.5
    clock.now = 0.125
    sleeps.handle_timer()  # before its time (a stray call): nothing ends
    assert not sleeping.done() and sleeps.get_timer() == 0.5
    clock.now = 0.5
    sleeps.handle_timer()
    assert sleeping.done() and sleeps.get_timer() is None
    assert (sleeps.ended_on_wake, sleeps.ended_on_timer) == (0, 1)
    again = sleeps.sleep(0.0)  # the timer is armed again for the next sleep
    assert sleeps.get_timer() == 0.75
    clock.now = 0.75
    sleeps.handle_timer()
    assert again.done() and sleeps.ended_on_timer == 2


async def test_on_the_loops_clock_the_grid_arms_the_loops_timer() -> None:
    loop = asyncio.get_running_loop()
    sleeps = GridSleeps(loop, grace=0.05)
    start = loop.time()
    sleeping = sleeps.sleep(0.05)
    timer = sleeps._backstop
    assert timer is not None and timer.when() == sleeps.get_timer()
    assert start + 0.1 <= timer.when() <= loop.time() + 0.1
    await sleeping  # nothing wakes the grid: only the loop's timer can end it
    assert (sleeps.ended_on_wake, sleeps.ended_on_timer) == (0, 1)
    assert sleeps._backstop is None


async def test_a_woken_sleep_leaves_no_timer_behind() -> None:
    loop = asyncio.get_running_loop()
    sleeps = GridSleeps(loop, grace=0.05)
    sleeping = sleeps.sleep(0.0)  # due at once: the next wake ends it
    timer = sleeps._backstop
    assert timer is not None
    sleeps.wake()
    assert sleeping.done()
    assert timer.cancelled() and sleeps._backstop is None and sleeps.get_timer() is None
    assert sleeps.ended_on_timer == 0


async def test_a_cancelled_sleeper_is_dropped_and_the_others_still_end() -> None:
    sleeps = GridSleeps(asyncio.get_running_loop(), grace=10.0)
    gone, kept = sleeps.sleep(0.0), sleeps.sleep(0.0)
    gone.cancel()
    await asyncio.sleep(0)
    assert sleeps.wake() == 1
    assert kept.done() and len(sleeps) == 0


async def test_one_grid_per_event_loop_and_wake_without_a_loop_is_harmless() -> None:
    assert grid_sleeps() is grid_sleeps(asyncio.get_running_loop())
    assert grid.wake() == 0
    assert await asyncio.to_thread(grid.wake) == 0  # no running loop in that thread


async def test_a_relaxed_rtcp_loop_sleeps_on_the_grid() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        transceiver = pc.addTransceiver("audio")
        relax_rtcp(transceiver.sender, 1.0)
        sleeps = grid_sleeps()
        before = len(sleeps)
        task = asyncio.ensure_future(transceiver.sender._run_rtcp())
        await asyncio.sleep(0)
        assert len(sleeps) == before + 1  # its wait is a grid sleep, not asyncio's
        task.cancel()  # aiortc's loop then says BYE and ends
        await asyncio.gather(task, return_exceptions=True)
    finally:
        await pc.close()
