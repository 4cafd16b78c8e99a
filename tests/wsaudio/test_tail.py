"""The tail of a transmission (ptt/server/service.py, rule 8): packets a talker sent before
letting go but that the server reads after the release still reach the listeners, until
another talker is granted the floor or the tail's time is over."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from ptt.server import service as service_module
from tests.conftest import LiveServer
from tests.polling import until
from tests.wsaudio.helpers import AudioClient, tone_packets

Connect = Callable[..., Awaitable[AudioClient]]


@pytest.fixture
def long_tail(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tail long enough that a loaded test machine reads the last frames within it."""
    monkeypatch.setattr(service_module, "RELEASE_TAIL", 30.0)


async def test_packets_read_after_the_release_still_reach_the_listeners(
        live_server: LiveServer, audio_client: Connect, long_tail: None) -> None:
    s1 = await audio_client("satpol1", ["satpolpp"])
    s2 = await audio_client("satpol2", ["satpolpp"])
    await s1.take_floor()
    packets = tone_packets(440.0, 5)
    await s1.talk("satpolpp", packets[:3], pace=0)
    await s1.send("floor_release")
    await s1.talk("satpolpp", packets[3:], pace=0)  # read after the release
    await until(lambda: len(s2.frames) == 5, "all five packets at the listener")
    assert s2.heard_tones() == pytest.approx([440.0] * 5, abs=15)


async def test_the_tail_ends_when_another_talker_is_granted(
        live_server: LiveServer, audio_client: Connect, long_tail: None) -> None:
    s1 = await audio_client("satpol1", ["satpolpp"])
    s2 = await audio_client("satpol2", ["satpolpp"])
    await s1.take_floor()
    await s1.send("floor_release")
    await s2.take_floor()
    await s1.talk("satpolpp", tone_packets(440.0, 1), pace=0)
    assert (await s1.expect("error"))["code"] == "not_holder"
    assert s2.frames == []


async def test_the_tail_ends_after_its_time(
        live_server: LiveServer, audio_client: Connect, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service_module, "RELEASE_TAIL", 0.05)
    service = live_server.runtime.services["radio"]
    s1 = await audio_client("satpol1", ["satpolpp"])
    s2 = await audio_client("satpol2", ["satpolpp"])
    await s1.take_floor()
    await s1.send("floor_release")
    await s1.expect("floor_released")
    await until(lambda: not service._tails, "the tail to end")
    await s1.talk("satpolpp", tone_packets(440.0, 1), pace=0)
    assert (await s1.expect("error"))["code"] == "not_holder"
    assert s2.frames == []
