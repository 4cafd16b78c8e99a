"""A listener that stops reading loses audio, counted; the server's memory does not grow and
the other listeners are not held back."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable

import pytest
import websockets

from tests.conftest import LiveServer
from tests.polling import until
from tests.radio.client import RadioClient
from tests.wsaudio.helpers import AudioClient

Connect = Callable[..., Awaitable[AudioClient]]


async def stalled_listener(server: LiveServer, username: str) -> RadioClient:
    """Joins and opts in, then never reads again (a tiny receive window, so the server's
    side fills up quickly)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    sock.connect((server.host, server.port))
    token = await server.login(username)
    ws = await websockets.connect(f"{server.ws_url}/ws?token={token}", sock=sock,
                                  max_queue=4)
    client = RadioClient(username, ws)
    client.welcome = await client.expect("welcome")
    await client.send("join", talkgroup="satpolpp")
    await client.expect("joined")
    await client.send("audio", transport="websocket", ref="a")
    await client.expect("audio", ref="a")
    return client


@pytest.mark.parametrize("fast_path", [True, False], ids=["transport", "asgi"])
async def test_a_listener_that_never_reads_drops_audio_not_memory(
    live_server: LiveServer, audio_client: Connect, fast_path: bool
) -> None:
    wsaudio = live_server.runtime.services["wsaudio"]
    wsaudio.uplink_rate = wsaudio.uplink_burst = 1e9  # let the talker send flat out
    s1 = await audio_client("satpol1", ["satpolpp"])
    reader = await audio_client("dispatcher1", ["satpolpp"])
    wsaudio.fast_path = fast_path  # for the stalled listener only
    stalled = await stalled_listener(live_server, "satpol2")
    user = stalled.welcome["user"]["user_id"]
    assert wsaudio.sinks()[user] == ("transport" if fast_path else "asgi")
    await s1.take_floor()
    # Large packets (a TOC byte and 1,274 bytes: the server never decodes) fill the stalled
    # socket's kernel buffers quickly: 50 x 100 frames is 6.5 MB.
    packets = [b"\xf8" + bytes(1274)] * 50
    frame_size = len(s1.frame("satpolpp", packets[0]))
    peak = sent = 0
    for round_ in range(20):
        for _ in range(5):
            await s1.talk("satpolpp", packets, pace=0)
            sent += len(packets)
            peak = max(peak, wsaudio.buffered(user))
        await s1.send("ping", ref=round_)  # the server has handled every frame sent
        await s1.expect("pong", ref=round_)
        peak = max(peak, wsaudio.buffered(user))
    m = wsaudio.metrics
    assert m.dropped_backpressure > 1000
    bound = (wsaudio.buffer_limit if fast_path else wsaudio.queue_frames * frame_size)
    assert peak <= bound + frame_size + 4
    # The stalled listener is not disconnected for it, and the reader heard everything.
    assert not live_server.runtime.services["radio"].clients[user].connection.closed
    await until(lambda: len(reader.frames) == sent, "the reading listener's frames", 10)
    stalled.ws.transport.abort()
