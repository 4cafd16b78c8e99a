"""What a WebSocket talker cannot do: every bad frame is dropped, counted and answered with
an error (rate-limited); the connection carries on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from websockets.exceptions import ConnectionClosed

from ptt.audioframe import HEADER_SIZE, MAX_PAYLOAD
from tests.conftest import LiveServer
from tests.polling import until
from tests.wsaudio.helpers import AudioClient, tone_packets

Connect = Callable[..., Awaitable[AudioClient]]


async def still_connected(client: AudioClient) -> None:
    await client.send("ping", ref="alive")
    await client.expect("pong", ref="alive")


async def test_malformed_frames_are_counted_refused_and_survived(
    live_server: LiveServer, audio_client: Connect
) -> None:
    s1 = await audio_client("satpol1", ["satpolpp"])
    s2 = await audio_client("satpol2", ["satpolpp"])
    await s1.take_floor()
    good = s1.frame("satpolpp", tone_packets(440.0, 1)[0])
    bad = {
        "truncated": good[:HEADER_SIZE],
        "oversized": good[:HEADER_SIZE] + b"\xf8" * (MAX_PAYLOAD + 1),
        "unknown version": bytes([0x21]) + good[1:],
        "unknown type": bytes([0x12]) + good[1:],
        "not Opus": good[:HEADER_SIZE] + b"\x03\x00",  # code 3 packet with zero frames
    }
    for data in bad.values():
        await s1.send_raw(data)
        error = await s1.expect("error")
        assert error["code"] == "bad_audio_frame", error
    await still_connected(s1)
    m = live_server.runtime.services["wsaudio"].metrics
    assert (m.dropped_malformed, m.dropped_invalid_opus) == (4, 1)
    await s1.send_raw(good)  # the talker is still on the air
    await until(lambda: len(s2.frames) == 1, "the good frame")


async def test_frames_for_a_group_not_joined_or_without_the_floor_are_dropped(
    live_server: LiveServer, audio_client: Connect
) -> None:
    s1 = await audio_client("satpol1", ["satpolpp"])
    s2 = await audio_client("satpol2", ["satpolpp"])
    d = await audio_client("dispatcher1", ["satpolpp", "dishub"])
    packet = tone_packets(440.0, 1)[0]
    s1.numbers["dishub"] = d.numbers["dishub"]  # a number it was never given
    await s1.send_raw(s1.frame("dishub", packet))
    assert (await s1.expect("error"))["code"] == "not_joined"
    await s1.send_raw(s1.frame("satpolpp", packet))  # joined, but no floor
    assert (await s1.expect("error"))["code"] == "not_holder"
    await d.take_floor("dishub")  # holds dishub's floor, talks on satpolpp
    await d.send_raw(d.frame("satpolpp", packet))
    assert (await d.expect("error"))["code"] == "not_holder"
    m = live_server.runtime.services["wsaudio"].metrics
    assert (m.dropped_not_joined, m.dropped_not_holder) == (1, 2)
    await still_connected(s1)
    await still_connected(d)
    assert s2.frames == []


async def test_a_flood_of_bad_frames_gets_few_errors_and_every_one_counted(
    live_server: LiveServer, audio_client: Connect
) -> None:
    s1 = await audio_client("satpol1", ["satpolpp"])
    for _ in range(200):
        await s1.send_raw(b"\x10")
    await still_connected(s1)
    errors = 0
    while s1.seen or not s1.inbox.empty():
        errors += (await s1.recv())["type"] == "error"
    m = live_server.runtime.services["wsaudio"].metrics
    assert m.frames_in == 200
    assert m.dropped_malformed + m.dropped_rate == 200  # past 100 at once, the rate limit
    assert m.dropped_malformed >= 100
    assert 5 <= errors <= 8 and m.errors_sent == errors
    assert m.errors_suppressed == 200 - errors


async def test_a_talker_over_the_audio_rate_is_limited(
    live_server: LiveServer, audio_client: Connect
) -> None:
    s1 = await audio_client("satpol1", ["satpolpp"])
    s2 = await audio_client("satpol2", ["satpolpp"])
    await s1.take_floor()
    await s1.talk("satpolpp", tone_packets(440.0, 150), pace=0)  # 3 s of audio at once
    await still_connected(s1)
    m = live_server.runtime.services["wsaudio"].metrics
    assert m.dropped_rate >= 40
    assert (await s1.expect("error"))["code"] == "audio_rate_limited"
    await until(lambda: len(s2.frames) == 150 - m.dropped_rate, "the rest is heard")


async def test_a_message_over_the_size_limit_closes_the_socket(
    live_server: LiveServer, audio_client: Connect
) -> None:
    """The one documented exception: the WebSocket layer refuses it (1009)."""
    s1 = await audio_client("satpol1", ["satpolpp"])
    await s1.send_raw(b"\x11" * (64 * 1024 + 1))
    await until(lambda: s1.closed_with == 1009, "closed with 1009")
    with pytest.raises(ConnectionClosed):
        await s1.send("ping")
