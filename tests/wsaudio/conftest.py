"""Fixtures for WebSocket audio tests: clients connected to the live server, closed after."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.conftest import LiveServer
from tests.wsaudio.helpers import AudioClient


@pytest.fixture
async def audio_client(
    live_server: LiveServer,
) -> AsyncIterator[Callable[..., Awaitable[AudioClient]]]:
    """``await audio_client(username, [talkgroups], listen=True)``."""
    made: list[AudioClient] = []

    async def make(username: str, talkgroups: list[str], *, listen: bool = True) -> AudioClient:
        client = await AudioClient.joined(live_server, username, talkgroups, listen=listen)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()
