"""Fixtures for media tests: a VoiceRelay and real aiortc officers connected to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from ptt.media.relay import MediaHooks, VoiceRelay

from .officers import Officer


@pytest.fixture(params=[True, False], ids=["fast", "track"])
async def relay(request: pytest.FixtureRequest) -> AsyncIterator[VoiceRelay]:
    """Each relay test runs on both downlink paths: the fast path (the default) and aiortc's
    own sender per listener (``fast_path=False``). A test may ask, indirectly, for the fast
    path with some private hooks off (a :class:`MediaHooks`)."""
    if isinstance(request.param, MediaHooks):
        r = VoiceRelay(hooks=request.param)
    else:
        r = VoiceRelay(fast_path=request.param)
    yield r
    await r.close()


@pytest.fixture
async def officers(
    relay: VoiceRelay,
) -> AsyncIterator[Callable[..., Awaitable[Officer]]]:
    """``await officers(name, tone_hz)``: a connected officer, closed after the test
    (``browser_numbering=True``: its offer numbers payload types and extensions as
    Chromium does)."""
    created: list[Officer] = []

    async def make(name: str, freq: float, *, browser_numbering: bool = False) -> Officer:
        officer = Officer(name, freq, browser_numbering=browser_numbering)
        created.append(officer)
        await officer.connect(relay)
        return officer

    yield make
    for officer in created:
        await officer.close()
