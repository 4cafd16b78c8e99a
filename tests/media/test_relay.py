"""VoiceRelay with real WebRTC peers: officers send Opus tones, listeners decode and check them.

Each talker sends a distinct sine tone (440, 660, 880 Hz) encoded to Opus; listeners decode
what they receive through aiortc's normal receive path and recognise the tone by FFT on each
20 ms frame. Peers connect over this host's non-loopback address (aioice offers no 127.0.0.1).
"""

from __future__ import annotations

import math
import socket

import numpy as np
import pytest
from aiortc import RTCSessionDescription

from ptt.media.grid import grid_sleeps
from ptt.media.relay import MediaHooks, SignalingError, UplinkPacket, VoiceRelay
from tests.polling import until

from .audio import RATE
from .officers import Officer, wait_for

pytestmark = pytest.mark.media

A, B, C = 440.0, 660.0, 880.0
TG1, TG2, TG3 = 1, 2, 3
MAX_GAP = 0.100  # seconds of silence allowed at a talker change


def talk(*talkers: Officer) -> None:
    for t in talkers:
        t.uplink.talk()


async def packets_received(officer: Officer, relay: VoiceRelay, talkgroup: int) -> int:
    """RTP packets that reached ``officer``'s downlink for ``talkgroup`` (its receiver's
    count, before decoding)."""
    mid = relay.downlink_mids(officer.name)[talkgroup]
    (transceiver,) = [t for t in officer.pc.getTransceivers() if t.mid == mid]
    stats = await transceiver.receiver.getStats()
    return sum(s.packetsReceived for s in stats.values() if s.type == "inbound-rtp")


def max_pts_gap(pts: list[int]) -> float:
    """Longest stretch (seconds) without audio between consecutive frames of a track."""
    steps = np.diff(np.asarray(pts, dtype=np.int64)) - 960
    return float(steps.max()) / RATE if len(steps) else 0.0


class TestRouting:
    async def test_routed_talker_heard_by_all_listeners_never_by_itself_or_non_holder(
        self, relay: VoiceRelay, officers
    ) -> None:
        a, b = await officers("a", A), await officers("b", B)
        l1, l2 = await officers("l1", C), await officers("l2", C)
        for o in (a, b, l1, l2):
            await o.listen(relay, [TG1])
        # The route names the talker itself too: the relay must leave it out.
        relay.set_route("a", [("l1", TG1), ("l2", TG1), ("a", TG1), ("b", TG1)])

        for talker in (a, b):
            talker.uplink.talk()
        await until(lambda: all(o.on(relay, TG1).count(A) >= 40 for o in (l1, l2, b))
                    and relay.metrics.dropped_not_holder >= 40, "40 of a's packets heard",
                    timeout=10)

        for listener in (l1, l2, b):
            heard = listener.on(relay, TG1)
            assert heard.count(A) >= 40, (listener.name, heard.tones)
            assert heard.count(B) == 0
        assert a.on(relay, TG1).tones == []
        assert relay.metrics.dropped_not_holder >= 40  # b's packets
        assert relay.metrics.forwarded >= 3 * 40

    async def test_talker_change_heard_without_gap(self, relay: VoiceRelay, officers) -> None:
        a, b, listener = await officers("a", A), await officers("b", B), await officers("l", C)
        await listener.listen(relay, [TG1])
        a.uplink.talk()
        b.uplink.talk()  # b keys up early: its packets are dropped until it gets the floor
        relay.set_route("a", [("l", TG1)])
        heard = listener.on(relay, TG1)
        await until(lambda: heard.count(A) >= 30, "30 of a's packets heard", timeout=10)
        relay.clear_route("a")
        relay.set_route("b", [("l", TG1)])
        await until(lambda: heard.count(B) >= 30, "30 of b's packets heard", timeout=10)

        last_a, first_b = heard.last(A), heard.first(B)
        assert last_a is not None and first_b is not None, heard.tones
        assert last_a < first_b
        assert heard.count(A) >= 25 and heard.count(B) >= 25
        assert B not in heard.tones[:last_a] and A not in heard.tones[first_b:]
        gap = (heard.pts[first_b] - heard.pts[last_a] - 960) / RATE
        assert gap < MAX_GAP, f"{gap * 1000:.0f} ms of silence at the talker change"
        assert max_pts_gap(heard.pts) < MAX_GAP  # and one continuous stream throughout

    async def test_two_talkgroups_each_on_own_track(self, relay: VoiceRelay, officers) -> None:
        a, b, dispatcher = await officers("a", A), await officers("b", B), await officers("d", C)
        await dispatcher.listen(relay, [TG1, TG2])
        assert set(relay.downlink_mids("d")) == {TG1, TG2}
        relay.set_route("a", [("d", TG1)])
        relay.set_route("b", [("d", TG2)])

        a.uplink.talk()
        b.uplink.talk()
        await until(lambda: dispatcher.on(relay, TG1).count(A) >= 35
                    and dispatcher.on(relay, TG2).count(B) >= 35, "35 packets on each track",
                    timeout=10)

        on_1, on_2 = dispatcher.on(relay, TG1), dispatcher.on(relay, TG2)
        assert on_1.count(A) >= 35 and on_1.count(B) == 0
        assert on_2.count(B) >= 35 and on_2.count(A) == 0

    async def test_late_entry_and_renegotiation_keep_existing_track_flowing(
        self, relay: VoiceRelay, officers
    ) -> None:
        """Counted in packets: the late listener gets every packet the talker sends from
        the route change on and none before it, the renegotiated listener every packet of
        the transmission. (How soon is a figure of ``make bench``: late entry.) A packet
        the relay cannot send yet because the new downlink's transport is not connected
        (a loaded machine) is counted by the relay, not lost unseen."""
        routed: list[UplinkPacket] = []
        relay.on_packet = routed.append
        a, l1, l2 = await officers("a", A), await officers("l1", C), await officers("l2", C)
        await l1.listen(relay, [TG1])
        relay.set_route("a", [("l1", TG1)])
        kept = l1.on(relay, TG1)
        a.uplink.talk()
        await until(lambda: kept.count(A) >= 30, "30 packets heard by l1", timeout=10)

        # Mid-transmission: l1 adds a talkgroup (renegotiation), l2 joins late.
        await l1.listen(relay, [TG1, TG2])
        await l2.listen(relay, [TG1])
        relay.set_route("a", [("l1", TG1), ("l2", TG1)])
        joined = len(routed)  # the next packet routed is the first the late listener gets
        not_connected = relay.metrics.dropped_not_connected
        late = l2.on(relay, TG1)
        await until(lambda: late.count(A) >= 25 and kept.count(A) >= 55,
                    "25 packets heard by l2 and 55 by l1", timeout=10)
        a.uplink.talk(False)

        async def every_routed_packet_arrived() -> bool:
            got_late = await packets_received(l2, relay, TG1)
            got_kept = await packets_received(l1, relay, TG1)
            unsent = relay.metrics.dropped_not_connected - not_connected
            return (got_late, got_kept) == (len(routed) - joined - unsent, len(routed))

        try:
            await until(every_routed_packet_arrived,
                        "l2 to receive exactly the packets routed since it joined, l1 all")
        except AssertionError as e:
            got = (await packets_received(l2, relay, TG1), await packets_received(l1, relay, TG1))
            raise AssertionError(f"{e}: received {got}, routed {len(routed) - joined} since "
                                 f"the join of {len(routed)}; {relay.metrics}") from None
        assert late.count(B) == late.count(C) == 0
        assert max_pts_gap(late.pts) < MAX_GAP
        assert kept.count(B) == 0
        assert max_pts_gap(kept.pts) < MAX_GAP  # the renegotiation did not stall the track

    async def test_removed_downlink_is_reused_by_the_next_talkgroup(
        self, relay: VoiceRelay, officers
    ) -> None:
        a, listener = await officers("a", A), await officers("l", C)
        await listener.listen(relay, [TG1, TG2])
        old_mid = relay.downlink_mids("l")[TG2]

        offer = await relay.set_downlinks("l", [TG1])
        assert offer is not None and offer.count("m=audio") == 3
        assert "a=inactive" in offer
        await listener.pc.setRemoteDescription(_desc(offer, "offer"))
        await listener.pc.setLocalDescription(await listener.pc.createAnswer())
        await relay.accept_answer("l", listener.pc.localDescription.sdp)
        assert await relay.set_downlinks("l", [TG1]) is None  # nothing to change

        await listener.listen(relay, [TG1, TG3])
        assert relay.downlink_mids("l")[TG3] == old_mid
        assert listener.pc.remoteDescription.sdp.count("m=audio") == 3
        relay.set_route("a", [("l", TG3)])
        a.uplink.talk()
        await until(lambda: listener.on(relay, TG3).count(A) >= 25, "25 packets on TG3",
                    timeout=10)


class TestRenegotiationNumbering:
    async def test_reoffers_keep_the_browsers_numbering_and_voice_flows_both_ways(
        self, relay: VoiceRelay, officers
    ) -> None:
        # Chromium numbers Opus 111, audio level 1, mid 4; aiortc's defaults are 96, 2, 1.
        a = await officers("a", A, browser_numbering=True)
        listener = await officers("l", C, browser_numbering=True)
        offers = []
        for officer, groups in ((a, [TG1]), (listener, [TG1]), (listener, [TG1, TG2])):
            offer = await relay.set_downlinks(officer.name, groups)
            assert offer is not None
            offers.append(offer)
            await officer.pc.setRemoteDescription(
                RTCSessionDescription(sdp=offer, type="offer"))
            await officer.pc.setLocalDescription(await officer.pc.createAnswer())
            await relay.accept_answer(officer.name, officer.pc.localDescription.sdp)

        for offer in offers:
            lines = offer.split("\r\n")
            sections = sum(1 for line in lines if line.startswith("m=audio"))
            assert sections >= 2
            assert lines.count("a=rtpmap:111 opus/48000/2") == sections
            assert not any(line.startswith("a=rtpmap:96 ") for line in lines)
            assert lines.count("a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid") == sections
            assert lines.count(
                "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level") == sections
        # The talker's uplink (payload type 111, tapped as negotiated first) still reaches the
        # listener after both renegotiated, on the downlink numbered as the browser's.
        relay.set_route("a", [("l", TG1)])
        a.uplink.talk()
        await until(lambda: listener.on(relay, TG1).count(A) >= 30, "30 packets", timeout=10)
        assert relay.metrics.dropped_not_holder == 0


class TestRobustness:
    async def test_garbage_sdp_gives_clear_error_and_others_continue(
        self, relay: VoiceRelay, officers
    ) -> None:
        a, listener = await officers("a", A), await officers("l", C)
        await listener.listen(relay, [TG1])
        relay.set_route("a", [("l", TG1)])
        a.uplink.talk()
        await until(lambda: listener.on(relay, TG1).count(A) >= 10, "a heard", timeout=10)

        with pytest.raises(SignalingError, match="client 'x'.*SDP offer"):
            await relay.open_peer("x", "this is not SDP\r\n")
        offer_without_audio_codec = a.pc.localDescription.sdp.replace("opus/48000/2", "speex/48000")
        with pytest.raises(SignalingError, match="client 'y'"):
            await relay.open_peer("y", offer_without_audio_codec)
        with pytest.raises(SignalingError, match="answer without a pending offer"):
            await relay.accept_answer("l", "v=0\r\n")
        assert set(relay.clients) == {"a", "l"}
        assert relay.metrics.peers_failed == 2

        before = listener.on(relay, TG1).count(A)
        heard = listener.on(relay, TG1)
        await until(lambda: heard.count(A) - before >= 18, "18 more packets heard", timeout=10)
        assert max_pts_gap(heard.pts) < MAX_GAP

    async def test_stray_datagrams_at_a_peers_port_do_not_hang_up_the_call(
        self, relay: VoiceRelay, officers
    ) -> None:
        """Anyone who can reach the server's UDP port may send anything: an empty datagram
        (which would close aiortc's DTLS transport), a truncated or forged RTP packet."""
        a, listener = await officers("a", A), await officers("l", C)
        await listener.listen(relay, [TG1])
        relay.set_route("a", [("l", TG1)])
        a.uplink.talk()
        await until(lambda: listener.on(relay, TG1).count(A) >= 10, "a heard", timeout=10)

        connection = relay.peer_connection("a").getTransceivers()[0].receiver.transport \
            .transport._connection
        pair = connection._nominated[1]
        family = socket.AF_INET6 if ":" in pair.local_candidate.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as stray:
            target = (pair.local_candidate.host, pair.local_candidate.port)
            for datagram in (b"", b"\x80", b"\x80\x6f" + bytes(10), bytes([0x90]) * 200):
                for _ in range(5):
                    stray.sendto(datagram, target)
        before = listener.on(relay, TG1).count(A)
        heard = listener.on(relay, TG1)
        await until(lambda: heard.count(A) - before >= 20, "20 more packets heard", timeout=10)

        assert relay.peer_connection("a").connectionState == "connected"
        assert max_pts_gap(heard.pts) < MAX_GAP

    async def test_flood_from_non_holder_is_counted_and_dropped(
        self, relay: VoiceRelay, officers
    ) -> None:
        """Every packet of a peer without the floor is counted and dropped: 500 packets/s
        (ten talkers' worth) are all seen, none heard."""
        a, rogue, listener = await officers("a", A), await officers("r", C), await officers("l", B)
        await listener.listen(relay, [TG1])
        relay.set_route("a", [("l", TG1)])
        rogue.uplink.flood = 500
        talk(a, rogue)
        heard = listener.on(relay, TG1)
        await until(lambda: rogue.uplink.sent > 200 and heard.count(A) >= 35,
                    "the rogue to send 200 packets while a is heard", timeout=10)
        rogue.uplink.talk(False)

        assert rogue.uplink.sent > 200  # far beyond 50 packets/s
        await wait_for(lambda: relay.metrics.dropped_not_holder >= 0.9 * rogue.uplink.sent,
                       "the rogue's packets to be counted")
        heard = listener.on(relay, TG1)
        assert heard.count(C) == 0
        assert heard.count(A) >= 35
        assert max_pts_gap(heard.pts) < MAX_GAP

    async def test_unpaced_flood_from_non_holder_harms_no_one(
        self, relay: VoiceRelay, officers
    ) -> None:
        """A non-holder sending as fast as it can: what the server's socket buffer cannot
        hold the kernel drops, unread and uncounted. How much is sent depends on the
        machine (the rogue shares the event loop with the server, which reads every one of
        its datagrams); what must hold does not: the rogue is never heard, the talker is
        heard without a gap, and what is read is counted, not forwarded."""
        a, rogue, listener = await officers("a", A), await officers("r", C), await officers("l", B)
        await listener.listen(relay, [TG1])
        relay.set_route("a", [("l", TG1)])
        rogue.uplink.flood = math.inf
        talk(a, rogue)
        heard = listener.on(relay, TG1)
        await until(lambda: rogue.uplink.sent > 200 and heard.count(A) >= 35,
                    "the rogue to send 200 packets while a is heard", timeout=10)
        rogue.uplink.talk(False)

        assert rogue.uplink.sent > 200  # far beyond a talker's 50 packets/s
        await wait_for(lambda: relay.metrics.dropped_not_holder >= 200,
                       "the rogue's packets to be counted")
        assert relay.peer_connection("a").connectionState == "connected"
        heard = listener.on(relay, TG1)
        assert heard.count(C) == 0
        assert heard.count(A) >= 35
        assert max_pts_gap(heard.pts) < MAX_GAP

    async def test_hooks_see_media_and_routed_packets_unchanged(
        self, relay: VoiceRelay, officers
    ) -> None:
        media: list[str] = []
        packets: list[UplinkPacket] = []
        relay.on_media = lambda client, now: media.append(client)
        relay.on_packet = packets.append
        a, b, listener = await officers("a", A), await officers("b", B), await officers("l", C)
        await listener.listen(relay, [TG1])
        sent: list[bytes] = []
        original = a.uplink.encoder.packet
        a.uplink.encoder.packet = lambda *args: sent.append(original(*args)) or sent[-1]  # type: ignore[method-assign]
        relay.set_route("a", [("l", TG1)])
        talk(a, b)
        await until(lambda: len(packets) >= 20 and "b" in media, "20 of a's packets routed",
                    timeout=10)

        assert {"a", "b"} <= set(media)  # the floor's no-media timer sees everyone
        assert {p.client_id for p in packets} == {"a"}  # the recorder only the holder
        payloads = [p.payload for p in packets]
        assert len(payloads) >= 20
        # Forwarded without re-encoding: the talker's exact Opus bytes, in order.
        start = sent.index(payloads[0])
        assert payloads == sent[start : start + len(payloads)]
        assert all(p.samples == 960 for p in packets)


class TestTimers:
    """The relay's RTCP and consent timers (``ptt.media.grid``, ``timers.relax_rtcp``)."""

    async def test_while_a_talker_is_forwarded_timer_waits_end_on_its_packets(
        self, relay: VoiceRelay, officers
    ) -> None:
        """The RTCP and consent loops do not wake the process themselves while it is awake
        for the voice anyway (``ptt.media.grid``)."""
        relay.rtcp_interval = 1.0  # reports every 0.5-1.5 s: many waits end during the test
        a, listener = await officers("a", A), await officers("l", C)
        await listener.listen(relay, [TG1])
        relay.set_route("a", [("l", TG1)])
        heard = listener.on(relay, TG1)
        a.uplink.talk()
        await until(lambda: heard.count(A) >= 25, "a heard", timeout=10)
        sleeps = grid_sleeps()
        woken, timed_out = sleeps.ended_on_wake, sleeps.ended_on_timer
        before = heard.count(A)  # then three seconds of voice, counted in packets
        await until(lambda: heard.count(A) - before >= 150, "150 more packets heard",
                    timeout=15)
        woken, timed_out = sleeps.ended_on_wake - woken, sleeps.ended_on_timer - timed_out
        assert woken >= 5, (woken, timed_out)
        assert timed_out <= woken // 4, (woken, timed_out)  # a late packet may miss one
        assert listener.on(relay, TG1).count(A) >= 100

    async def test_a_listeners_receiver_reports_still_reach_the_server(
        self, relay: VoiceRelay, officers
    ) -> None:
        """aiortc's sender of the downlink still learns the listener's loss and jitter (on
        the fast path too, which sends the downlink's RTP itself)."""
        a, listener = await officers("a", A), await officers("l", C)
        await listener.listen(relay, [TG1])
        relay.set_route("a", [("l", TG1)])
        a.uplink.talk()
        (downlink,) = [t for t in relay.peer_connection("l").getTransceivers()
                       if t.direction == "sendonly"]

        async def receiver_reports() -> list[object]:
            stats = await downlink.sender.getStats()
            return [s for s in stats.values() if s.type == "remote-inbound-rtp"]

        remote = await until(receiver_reports, "a receiver report at the server", timeout=6)
        assert remote[0].packetsLost == 0


def _desc(sdp: str, kind: str):  # type: ignore[no-untyped-def]
    from aiortc import RTCSessionDescription

    return RTCSessionDescription(sdp=sdp, type=kind)


BASELINES = [MediaHooks(direct_rtp=False), MediaHooks(datagram_shortcuts=False),
             MediaHooks(relaxed_timers=False), MediaHooks()]


@pytest.mark.parametrize("relay", BASELINES, indirect=True,
                         ids=["no-direct", "no-shortcuts", "stock-timers", "all-hooks"])
async def test_each_benchmark_baseline_carries_voice_with_its_hook_really_off(
        relay: VoiceRelay, officers) -> None:
    """What ``make bench`` compares (one private hook off against all on) must be that: the
    voice still flows, and the hook that is off was not installed."""
    talker, listener = await officers("a", A), await officers("l", C)
    await listener.listen(relay, [TG1])
    relay.set_route("a", [("l", TG1)])
    talker.uplink.talk()
    await until(lambda: listener.on(relay, TG1).count(A) >= 20, "20 packets heard", timeout=10)
    peer = relay._peers["a"]
    direct = sum(tap.direct for tap in peer.taps)
    assert (direct > 0) == relay.hooks.direct_rtp, direct
    connection = peer.pc.getTransceivers()[0].receiver.transport.transport._connection
    shortcut = all("datagram_received" in vars(p) for p in connection._protocols)
    assert shortcut == relay.hooks.datagram_shortcuts
