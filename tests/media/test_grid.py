"""Grid sleeps: the relaxed RTCP and consent waits end at the next wakeup after their time
(the relay wakes them right after forwarding a talker packet), or ``grace`` later by a
timer when nothing wakes the process."""

from __future__ import annotations

import asyncio

from aiortc import RTCConfiguration, RTCPeerConnection

from ptt.media import grid
from ptt.media.aiortc_tap import relax_rtcp
from ptt.media.grid import GridSleeps, grid_sleeps


async def test_a_sleep_ends_at_the_first_wake_after_its_time() -> None:
    sleeps = GridSleeps(asyncio.get_running_loop(), grace=10.0)
    first, later = sleeps.sleep(0.05), sleeps.sleep(0.3)
    assert sleeps.wake() == 0  # too early: nothing ends
    await asyncio.sleep(0.08)
    assert not first.done()  # its time has come, but nothing woke it yet
    assert sleeps.wake() == 1
    assert first.done() and not later.done()
    assert (sleeps.ended_on_wake, sleeps.ended_on_timer, len(sleeps)) == (1, 0, 1)
    sleeps.close()
    assert later.cancelled()


async def test_without_a_wake_the_timer_ends_it_grace_after_its_time() -> None:
    loop = asyncio.get_running_loop()
    sleeps = GridSleeps(loop, grace=0.05)
    start = loop.time()
    await sleeps.sleep(0.05)
    assert 0.1 - 0.01 <= loop.time() - start < 0.5
    assert (sleeps.ended_on_wake, sleeps.ended_on_timer) == (0, 1)
    await sleeps.sleep(0.0)  # the timer is armed again for the next sleep
    assert sleeps.ended_on_timer == 2


async def test_a_woken_sleep_leaves_no_timer_behind() -> None:
    loop = asyncio.get_running_loop()
    sleeps = GridSleeps(loop, grace=0.05)
    sleeping = sleeps.sleep(0.01)
    await asyncio.sleep(0.02)
    sleeps.wake()
    assert sleeping.done()
    await asyncio.sleep(0.1)  # past the grace: the timer would have fired by now
    assert sleeps.ended_on_timer == 0 and sleeps._backstop is None


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
