"""Fixtures for media tests: a VoiceRelay and real aiortc officers connected to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from ptt.media.relay import VoiceRelay

from .officers import Officer


@pytest.fixture(params=[True, False], ids=["fast", "track"])
async def relay(request: pytest.FixtureRequest) -> AsyncIterator[VoiceRelay]:
    """Each relay test runs on both downlink paths: the fast path (the default) and aiortc's
    own sender per listener (``fast_path=False``)."""
    r = VoiceRelay(fast_path=request.param)
    yield r
    await r.close()


@pytest.fixture
async def officers(
    relay: VoiceRelay,
) -> AsyncIterator[Callable[[str, float], Awaitable[Officer]]]:
    """``await officers(name, tone_hz)``: a connected officer, closed after the test."""
    created: list[Officer] = []

    async def make(name: str, freq: float) -> Officer:
        officer = Officer(name, freq)
        created.append(officer)
        await officer.connect(relay)
        return officer

    yield make
    for officer in created:
        await officer.close()
