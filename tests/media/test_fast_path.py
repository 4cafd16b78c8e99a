"""The downlink fast path: what goes on the wire, sender reports, late entry, both paths.

A listener here reads its downlink at the RTP level (``ReceiverTap`` on its receiver, after
SRTP): the relay's packets must look like a normal RTP stream of the negotiated Opus payload
type, on the SSRC and mid its SDP announced, carrying the talker's exact Opus bytes. The same
checks run on the fast path and on aiortc's own sender (``fast_path=False``), which must stay
interchangeable on the wire; only the marker bit differs (aiortc marks every audio packet, the
fast path the first packet of each burst, as RFC 3551 says).
"""

from __future__ import annotations

import datetime
import re
import socket
import time

import pytest
from aiortc import RTCPeerConnection, RTCRtpCodecParameters, RTCRtpSender
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpSendParameters
from aiortc.rtp import RtpPacket

from ptt.media import fast_sender
from ptt.media import native as native_glue
from ptt.media.downlink import PacketTrack
from ptt.media.fast_sender import FastRtpSender, ntp_time
from ptt.media.hooks import AiortcHookError, check_aiortc_hooks
from ptt.media.relay import VoiceRelay
from ptt.media.tap import ReceiverTap, opus_payload_types
from tests.polling import until

from .officers import Officer

pytestmark = pytest.mark.media


@pytest.fixture(params=["fast", "fast-python", "track"])
async def relay(request: pytest.FixtureRequest):
    """Here the fast path runs twice: with the C extension sending (where it is built) and
    with the same packets built in Python; and aiortc's own sender for comparison."""
    r = VoiceRelay(fast_path=request.param != "track",
                   native_send=request.param == "fast")
    yield r
    await r.close()


def assert_native_as_chosen(relay: VoiceRelay) -> None:
    """The packets went through the sender the relay was asked for; with the C extension,
    its fan-out loop sent on every downlink (the Python loop sends only until a downlink's
    C sender is ready)."""
    downlinks = [d for ds in relay._resolved.values() for d in ds if d.fast is not None]
    native = relay.native_send and native_glue.NATIVE_SEND
    assert downlinks and all(d.fast.native == native for d in downlinks)  # type: ignore[union-attr]
    assert all((d.native is not None and d.native.sent > 0) == native  # type: ignore[attr-defined]
               for d in downlinks)


A, C = 440.0, 880.0
TG1 = 1


class Wire:
    """The RTP packets (after SRTP) one listener got on one downlink, with arrival times."""

    def __init__(self, officer: Officer, relay: VoiceRelay, talkgroup: int) -> None:
        self.mid = relay.downlink_mids(officer.name)[talkgroup]
        offer = officer.pc.remoteDescription.sdp
        self.payload_type = opus_payload_types(offer)[self.mid]
        section = offer.split(f"a=mid:{self.mid}\r\n")[1].split("m=")[0]
        self.ssrc = int(re.search(r"a=ssrc:(\d+) ", section).group(1))  # type: ignore[union-attr]
        (self.receiver,) = (
            t.receiver for t in officer.pc.getTransceivers() if t.mid == self.mid
        )
        self.packets: list[RtpPacket] = []
        self.wall: list[float] = []
        self.tap = ReceiverTap(self.receiver, self.payload_type, self._on_packet)

    def _on_packet(self, packet: RtpPacket) -> None:
        self.packets.append(packet)
        self.wall.append(time.monotonic())


async def heard_on_wire(officer: Officer, relay: VoiceRelay, talkgroup: int) -> Wire:
    await officer.listen(relay, [talkgroup])
    return Wire(officer, relay, talkgroup)


def record_sent(talker: Officer) -> list[bytes]:
    sent: list[bytes] = []
    original = talker.uplink.encoder.packet
    talker.uplink.encoder.packet = lambda *a: sent.append(original(*a)) or sent[-1]  # type: ignore[method-assign]
    return sent


class TestOnTheWire:
    async def test_stream_is_the_announced_one_carrying_the_talkers_bytes(
        self, relay: VoiceRelay, officers
    ) -> None:
        a, listener = await officers("a", A), await officers("l", C)
        wire = await heard_on_wire(listener, relay, TG1)
        sent = record_sent(a)
        relay.set_route("a", [("l", TG1)])
        a.uplink.talk()
        await until(lambda: len(wire.packets) >= 30, "30 packets", timeout=10)

        packets = wire.packets
        assert {p.ssrc for p in packets} == {wire.ssrc}
        assert {p.payload_type for p in packets} == {wire.payload_type}
        assert {p.extensions.mid for p in packets} == {wire.mid}
        assert all(p.version == 2 and not p.csrc and not p.padding_size for p in packets)
        seqs = [p.sequence_number for p in packets]
        assert all((b - a_) % 65536 == 1 for a_, b in zip(seqs, seqs[1:], strict=False))
        stamps = [p.timestamp for p in packets]
        assert all((b - a_) % 2**32 == 960 for a_, b in zip(stamps, stamps[1:], strict=False))
        payloads = [p.payload for p in packets]
        start = sent.index(payloads[0])
        assert payloads == sent[start : start + len(payloads)]  # not re-encoded
        if relay.fast_path:
            assert packets[0].marker and not any(p.marker for p in packets[1:])
            assert relay.metrics.dropped_not_connected == 0
            assert_native_as_chosen(relay)

    async def test_the_c_sender_sends_on_a_socket_connected_to_the_listener(
        self, relay: VoiceRelay, officers
    ) -> None:
        """Once the C sender sends, the nominated pair's socket is connected to the listener
        (send(2) with the route the kernel keeps); the Python paths leave it unconnected."""
        a, listener = await officers("a", A), await officers("l", C)
        wire = await heard_on_wire(listener, relay, TG1)
        relay.set_route("a", [("l", TG1)])
        a.uplink.talk()
        await until(lambda: len(wire.packets) >= 10, "10 packets", timeout=10)

        transport = relay.peer_connection("l").getTransceivers()[0].receiver.transport
        pair = transport.transport._connection._nominated[1]
        sock = pair.protocol.transport.get_extra_info("socket")
        if relay.native_send and native_glue.NATIVE_SEND:
            assert sock.getpeername()[:2] == pair.remote_addr[:2]
        else:
            with pytest.raises(OSError):
                sock.getpeername()
        await until(lambda: len(wire.packets) >= 20, "10 more packets", timeout=10)

    async def test_sender_reports_count_what_was_sent(self, relay: VoiceRelay, officers) -> None:
        relay.rtcp_interval = 1.0  # a report within the test's 6 s (the default is ~5 s)
        a, listener = await officers("a", A), await officers("l", C)
        wire = await heard_on_wire(listener, relay, TG1)
        relay.set_route("a", [("l", TG1)])
        talking = datetime.datetime.now(datetime.UTC)
        a.uplink.talk()

        def remote_outbound() -> list[object]:
            return [s for s in stats.values() if s.type == "remote-outbound-rtp"]

        stats: dict[str, object] = {}

        async def counted() -> bool:
            stats.clear()
            stats.update(await wire.receiver.getStats())
            return any(s.packetsSent >= 10 for s in remote_outbound())  # type: ignore[attr-defined]

        # Ten packets at least: all but a downlink's first are sent by the C loop where it
        # is built, whose counts reach aiortc's reports only through FastRtpSender.sync.
        await until(counted, "a sender report counting the packets", timeout=6)
        (report,) = (s for s in remote_outbound() if s.ssrc == wire.ssrc)  # type: ignore[attr-defined]

        count = report.packetsSent  # type: ignore[attr-defined]
        assert 0 < count <= len(wire.packets)
        assert report.bytesSent == sum(len(p.payload) for p in wire.packets[:count])  # type: ignore[attr-defined]
        # The report's NTP time is when one of this talk's packets was sampled.
        assert talking <= report.remoteTimestamp <= datetime.datetime.now(datetime.UTC)  # type: ignore[attr-defined]


class TestLateEntry:
    async def test_listener_routed_mid_transmission_gets_the_next_packet(
        self, relay: VoiceRelay, officers
    ) -> None:
        a, l1, l2 = await officers("a", A), await officers("l1", C), await officers("l2", C)
        first = await heard_on_wire(l1, relay, TG1)
        late = await heard_on_wire(l2, relay, TG1)
        relay.set_route("a", [("l1", TG1)])
        a.uplink.talk()
        await until(lambda: len(first.packets) >= 10, "l1 hears a", timeout=10)

        # Until now every talker packet went to l1 only: the next one is l1's packet number
        # `forwarded`, and l2's first (the time it takes is bench_webrtc's "late" figure).
        forwarded = relay.metrics.forwarded
        relay.set_route("a", [("l1", TG1), ("l2", TG1)])
        await until(lambda: bool(late.packets) and len(first.packets) > forwarded,
                    "l2 hears a", timeout=5)
        assert late.packets[0].payload == first.packets[forwarded].payload
        assert late.packets[0].marker  # a new burst for that listener's stream
        assert late.packets[0].payload_type == late.payload_type


@pytest.mark.parametrize("relay", ["fast", "fast-python"], indirect=True)
class TestFallbackAndIsolation:
    async def test_unusable_negotiation_falls_back_to_aiortcs_sender(
        self, relay: VoiceRelay, officers, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Pretend mid were a per-packet extension: the template cannot carry it.
        monkeypatch.setattr(
            fast_sender, "PER_PACKET_EXTENSIONS",
            fast_sender.PER_PACKET_EXTENSIONS | {"urn:ietf:params:rtp-hdrext:sdes:mid"},
        )
        a, listener = await officers("a", A), await officers("l", C)
        wire = await heard_on_wire(listener, relay, TG1)
        relay.set_route("a", [("l", TG1)])
        a.uplink.talk()
        await until(lambda: len(wire.packets) >= 20, "20 packets", timeout=10)
        assert all(p.marker for p in wire.packets)  # aiortc's sender marks every packet
        assert {p.ssrc for p in wire.packets} == {wire.ssrc}
        assert relay.metrics.dropped_not_connected == 0

    async def test_a_broken_downlink_does_not_cost_the_others_their_packets(
        self, relay: VoiceRelay, officers, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
    ) -> None:
        a, l1, l2 = await officers("a", A), await officers("l1", C), await officers("l2", C)
        broken, ok = await heard_on_wire(l1, relay, TG1), await heard_on_wire(l2, relay, TG1)
        relay.set_route("a", [("l1", TG1), ("l2", TG1)])
        a.uplink.talk()
        await until(lambda: len(broken.packets) >= 5, "l1 hears a", timeout=10)

        downlink = relay._peers["l1"].downlinks[TG1]
        fast = downlink.fast
        assert fast is not None
        assert_native_as_chosen(relay)
        if fast.native:
            # The C sender gets a socket the kernel refuses the send on (an IPv6-only socket
            # asked to send to an IPv4 address: ENETUNREACH), for l1 only; its guard holds.
            v6only = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            v6only.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            request.addfinalizer(v6only.close)
            out = native_glue.RtpOut(
                v6only, socket.AF_INET, b"\x7f\0\0\1", 9, 0,
                native_glue.SRTP_PROTECT_ADDRESS,
                int(native_glue.srtp_ffi.cast("uintptr_t", fast._srtp_ctx)),
                fast._byte0, fast.payload_type, fast._tail,
            )
            out.guard(fast._dtls, DtlsState.CONNECTED, fast._connection._nominated,
                      fast._pair, fast._socket, fast._srtp)
            fast._native = downlink.native = out
        else:
            real_protect = fast_sender.srtp_protect

            def protect(context, buffer, length):  # type: ignore[no-untyped-def]
                """libsrtp fails for l1's session only (srtp_err_status_fail)."""
                return 1 if context == fast._srtp_ctx else real_protect(context, buffer, length)

            monkeypatch.setattr(fast_sender, "srtp_protect", protect)
        before_broken, before_ok = len(broken.packets), len(ok.packets)
        await until(lambda: fast.failed >= 18 and len(ok.packets) - before_ok >= 18,
                    "18 sends failed for l1 and l2 hearing 18 more packets", timeout=10)
        assert len(broken.packets) - before_broken <= 1  # one may have been in flight
        assert sum("fast RTP send failed" in r.message for r in caplog.records) == 1
        assert relay.metrics.dropped_not_connected >= 18


class TestFastRtpSender:
    async def test_not_ready_before_negotiation(self) -> None:
        pc = RTCPeerConnection()
        try:
            transceiver = pc.addTransceiver(PacketTrack(), direction="sendonly")
            fast = FastRtpSender(transceiver.sender)
            assert fast.usable is None
            assert fast.send(1, 2, True, b"\x78\x01", ntp_time()) is False
            assert fast.sent == 0
        finally:
            await pc.close()

    async def test_per_packet_header_extension_makes_it_unusable(self) -> None:
        pc = RTCPeerConnection()
        try:
            transceiver = pc.addTransceiver(PacketTrack(), direction="sendonly")
            fast = FastRtpSender(transceiver.sender)
            parameters = RTCRtpSendParameters(
                codecs=[RTCRtpCodecParameters("audio/opus", 48000, 2, payloadType=111)],
                headerExtensions=[
                    RTCRtpHeaderExtensionParameters(
                        id=3, uri="http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
                    )
                ],
                muxId="0",
            )
            fast._configure(parameters)
            assert fast.usable is False
            assert fast.send(1, 2, True, b"\x78\x01", ntp_time()) is False
        finally:
            await pc.close()

    async def test_template_carries_payload_type_ssrc_and_mid(self) -> None:
        from aiortc.rtp import HeaderExtensionsMap

        pc = RTCPeerConnection()
        try:
            transceiver = pc.addTransceiver(PacketTrack(), direction="sendonly")
            fast = FastRtpSender(transceiver.sender)
            mid_ext = RTCRtpHeaderExtensionParameters(
                id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid"
            )
            parameters = RTCRtpSendParameters(
                codecs=[RTCRtpCodecParameters("audio/opus", 48000, 2, payloadType=111)],
                headerExtensions=[mid_ext],
                muxId="7",
            )
            fast._configure(parameters)
            assert fast.usable is True and fast.payload_type == 111
            header = fast_sender.FIXED_HEADER.pack(fast._byte0, 0x80 | 111, 65535, 2**32 - 1)
            extensions_map = HeaderExtensionsMap()
            extensions_map.configure(parameters)
            packet = RtpPacket.parse(header + fast._tail + b"\x78\x01", extensions_map)
            assert (packet.payload_type, packet.marker) == (111, 1)
            assert (packet.sequence_number, packet.timestamp) == (65535, 2**32 - 1)
            assert packet.ssrc == transceiver.sender._ssrc
            assert packet.extensions.mid == "7"
            assert packet.payload == b"\x78\x01"
        finally:
            await pc.close()

    def test_ntp_time_is_seconds_since_1900_in_32_32_fixed_point(self) -> None:
        assert ntp_time(0.0) == 2208988800 << 32
        assert ntp_time(1.5) == (2208988801 << 32) + (1 << 31)


class TestSendHooksChecked:
    def test_sender_report_change_is_named(self, monkeypatch: pytest.MonkeyPatch) -> None:
        async def _run_rtcp(self) -> None:  # type: ignore[no-untyped-def]
            pass

        monkeypatch.setattr(RTCRtpSender, "_run_rtcp", _run_rtcp)
        with pytest.raises(AiortcHookError, match="sender reports"):
            check_aiortc_hooks()

    def test_per_packet_audio_extension_is_named(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from aiortc import codecs

        extra = RTCRtpHeaderExtensionParameters(
            id=5, uri="http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
        )
        audio = [*codecs.HEADER_EXTENSIONS["audio"], extra]
        monkeypatch.setitem(codecs.HEADER_EXTENSIONS, "audio", audio)
        with pytest.raises(AiortcHookError, match="per-packet"):
            check_aiortc_hooks()

class TestRenegotiationOffer:
    async def test_negotiated_transceivers_keep_their_numbering_after_a_new_offer(self) -> None:
        """aiortc's createOffer resets negotiated codecs to its defaults; the wrapper does not."""
        from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

        from ptt.media.downlink import create_renegotiation_offer

        from .officers import browser_numbered

        server, client = (RTCPeerConnection(RTCConfiguration(iceServers=[])) for _ in range(2))
        try:
            client.addTransceiver("audio", direction="sendonly")
            offer = await client.createOffer()
            await client.setLocalDescription(
                RTCSessionDescription(sdp=browser_numbered(offer.sdp), type="offer"))
            await server.setRemoteDescription(client.localDescription)
            await server.setLocalDescription(await server.createAnswer())
            (transceiver,) = server.getTransceivers()
            assert [c.payloadType for c in transceiver._codecs][:1] == [111]
            server.addTransceiver("audio", direction="sendonly")

            await create_renegotiation_offer(server)
            assert [c.payloadType for c in transceiver._codecs][:1] == [111]
            assert {e.uri: e.id for e in transceiver._headerExtensions}[
                "urn:ietf:params:rtp-hdrext:sdes:mid"] == 4
            # Plain createOffer is what the wrapper guards against.
            await server.createOffer()
            assert [c.payloadType for c in transceiver._codecs][:1] == [96]
        finally:
            await server.close()
            await client.close()
