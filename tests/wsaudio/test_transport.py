"""WebSocket audio end to end: a WebSocket talker heard by WebSocket listeners, under the
floor rules, with the stream numbering of docs/protocol.md ("Voice over WebSocket")."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.conftest import LiveServer
from tests.polling import until
from tests.wsaudio.helpers import AudioClient, tone_packets

Connect = Callable[..., Awaitable[AudioClient]]
A = 440.0


async def test_talker_is_heard_by_every_websocket_listener(
    live_server: LiveServer, audio_client: Connect
) -> None:
    s1 = await audio_client("satpol1", ["satpolpp"])
    s2 = await audio_client("satpol2", ["satpolpp"])
    d = await audio_client("dispatcher1", ["satpolpp"])
    quiet = await audio_client("dishub1", ["gabungan"])  # another talkgroup: hears nothing
    await s1.take_floor()
    await s1.talk("satpolpp", tone_packets(A, 50))
    await until(lambda: len(s2.frames) == 50 and len(d.frames) == 50, "50 frames each")
    number = s1.numbers["satpolpp"]
    for listener in (s2, d):
        assert {h.frame.talkgroup_id for h in listener.frames} == {number}
        tones = listener.heard_tones()
        assert tones.count(A) >= 45, tones
    assert s1.frames == [] and quiet.frames == []  # the talker does not hear itself
    wsaudio = live_server.runtime.services["wsaudio"]
    assert wsaudio.sinks()[s2.welcome["user"]["user_id"]] == "transport"  # the fast path


async def test_a_burst_is_one_stream_and_the_next_burst_another(
    live_server: LiveServer, audio_client: Connect
) -> None:
    s1 = await audio_client("satpol1", ["satpolpp"])
    s2 = await audio_client("satpol2", ["satpolpp"])
    await s1.take_floor()
    await s1.talk("satpolpp", tone_packets(A, 20), pace=0.005)
    await until(lambda: len(s2.frames) == 20, "first burst")
    await s1.send("floor_release")
    await s2.expect("floor_idle")
    await s1.take_floor()
    await s1.talk("satpolpp", tone_packets(A, 20), pace=0.005)
    await until(lambda: len(s2.frames) == 40, "second burst")
    first, second = s2.frames[:20], s2.frames[20:]
    for burst in (first, second):
        assert len({h.frame.stream_id for h in burst}) == 1
        assert [h.frame.sequence for h in burst] == list(range(20))
        steps = {(b.frame.timestamp - a.frame.timestamp) % (1 << 32)
                 for a, b in zip(burst, burst[1:], strict=False)}
        assert steps == {960}
    assert first[0].frame.stream_id != second[0].frame.stream_id


async def test_only_clients_that_opt_in_get_binary_frames(
    live_server: LiveServer, audio_client: Connect
) -> None:
    s1 = await audio_client("satpol1", ["satpolpp"])
    webrtc_only = await audio_client("satpol2", ["satpolpp"], listen=False)
    d = await audio_client("dispatcher1", ["satpolpp"])
    await d.send("audio", transport="webrtc", ref="off")
    assert (await d.expect("audio", ref="off"))["transport"] == "webrtc"
    await s1.take_floor()
    await s1.talk("satpolpp", tone_packets(A, 10), pace=0.005)
    await s1.send("ping", ref="p")
    await s1.expect("pong", ref="p")
    await webrtc_only.send("ping", ref="p")
    await webrtc_only.expect("pong", ref="p")
    assert webrtc_only.frames == [] and d.frames == []


async def test_a_listener_who_opts_in_mid_burst_hears_the_rest(
    live_server: LiveServer, audio_client: Connect
) -> None:
    s1 = await audio_client("satpol1", ["satpolpp"])
    late = await audio_client("satpol2", ["satpolpp"], listen=False)
    await s1.take_floor()
    await s1.talk("satpolpp", tone_packets(A, 10), pace=0.005)
    await late.listen()
    await s1.talk("satpolpp", tone_packets(A, 10), pace=0.005)
    await until(lambda: len(late.frames) == 10, "late entry")
    assert [h.frame.sequence for h in late.frames] == list(range(10, 20))


async def test_in_a_patch_each_listener_hears_on_its_own_talkgroup(
    live_server: LiveServer, audio_client: Connect
) -> None:
    d = await audio_client("dispatcher1", ["satpolpp"])
    s1 = await audio_client("satpol1", ["satpolpp"])
    h1 = await audio_client("dishub1", ["dishub"])
    await d.send("patch", talkgroups=["satpolpp", "dishub"])
    await h1.expect("patched")
    await s1.take_floor()
    await s1.talk("satpolpp", tone_packets(A, 10), pace=0.005)
    await until(lambda: len(h1.frames) == 10 and len(d.frames) == 10, "heard across")
    assert {h.frame.talkgroup_id for h in h1.frames} == {h1.numbers["dishub"]}
    assert {h.frame.talkgroup_id for h in d.frames} == {d.numbers["satpolpp"]}
    assert h1.frames[0].frame.stream_id == d.frames[0].frame.stream_id
