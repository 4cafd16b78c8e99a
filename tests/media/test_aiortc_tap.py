"""The private aiortc hooks still work: if an aiortc upgrade breaks them, these fail loudly.

``check_aiortc_hooks`` names the attribute that changed; the end-to-end test proves that the
tap still sees every packet, bit-exact, and that aiortc's decoder path stays empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import aiortc
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtp import RtpPacket

from ptt.media.downlink import TIME_BASE, PacketTrack
from ptt.media.grid import GridSleeps
from ptt.media.hooks import AiortcHookError, check_aiortc_hooks
from ptt.media.tap import ReceiverTap, opus_payload_types
from ptt.media.timers import TIMER_GRID, align_consent_checks, on_grid, relax_peer_rtcp, relax_rtcp
from tests.polling import until

from .audio import ToneEncoder


class TestHooksPresent:
    def test_aiortc_version_is_the_tested_range(self) -> None:
        major, minor = (int(x) for x in aiortc.__version__.split(".")[:2])
        assert (major, minor) == (1, 16), (
            f"aiortc {aiortc.__version__}: ptt/media was written against 1.16; "
            "re-check RTCRtpReceiver._handle_rtp_packet and RTCDtlsTransport._handle_rtp_data"
        )

    def test_private_hooks_present(self) -> None:
        check_aiortc_hooks()  # raises AiortcHookError naming the part otherwise

    async def test_checks_run_inside_a_running_loop(self) -> None:
        check_aiortc_hooks()  # as VoiceRelay() does, on the server's loop

    def test_dispatch_to_another_method_is_named(self, monkeypatch: pytest.MonkeyPatch) -> None:
        async def dispatch(self, data, arrival_time_ms):  # type: ignore[no-untyped-def]
            packet = RtpPacket.parse(data, self._rtp_header_extensions_map)
            receiver = self._rtp_router.route_rtp(packet)
            await receiver._receive_rtp(packet)  # renamed: the tap's handler is not called

        monkeypatch.setattr(RTCRtpReceiver, "_receive_rtp",
                            lambda self, packet: asyncio.sleep(0), raising=False)
        monkeypatch.setattr(RTCDtlsTransport, "_handle_rtp_data", dispatch)
        with pytest.raises(AiortcHookError, match=r"RTCDtlsTransport\._handle_rtp_data"):
            check_aiortc_hooks()

    def test_dispatch_with_other_arguments_is_named(self, monkeypatch: pytest.MonkeyPatch
                                                    ) -> None:
        async def dispatch(self, data, arrival_time_ms):  # type: ignore[no-untyped-def]
            packet = RtpPacket.parse(data, self._rtp_header_extensions_map)
            receiver = self._rtp_router.route_rtp(packet)
            await receiver._handle_rtp_packet(packet, arrival_time=arrival_time_ms)

        monkeypatch.setattr(RTCDtlsTransport, "_handle_rtp_data", dispatch)
        with pytest.raises(AiortcHookError, match="calls the receiver's _handle_rtp_packet"):
            check_aiortc_hooks()

    def test_decoder_that_ignores_the_exit_sign_is_named(self, monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
        from aiortc import rtcrtpreceiver

        from ptt.media import hooks

        release = threading.Event()

        def worker(loop, input_q, output_q, error) -> None:  # type: ignore[no-untyped-def]
            release.wait()  # never reads its queue

        monkeypatch.setattr(rtcrtpreceiver, "decoder_worker", worker)
        monkeypatch.setattr(hooks, "DECODER_EXIT_TIMEOUT", 0.05)
        try:
            with pytest.raises(AiortcHookError, match="decoder worker"):
                check_aiortc_hooks()
        finally:
            release.set()

    def test_renamed_decoder_queue_is_named(self, monkeypatch: pytest.MonkeyPatch) -> None:
        init = RTCRtpReceiver.__init__

        def renamed(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            init(self, *args, **kwargs)
            self._inbox = self.__dict__.pop("_RTCRtpReceiver__decoder_queue")

        monkeypatch.setattr(RTCRtpReceiver, "__init__", renamed)
        with pytest.raises(AiortcHookError, match="decoder_queue"):
            check_aiortc_hooks()

    def test_aioice_receive_change_is_named(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from aioice.ice import Connection

        def data_received(self, data: bytes) -> None:  # type: ignore[no-untyped-def]
            self._queue.put_nowait(data)

        monkeypatch.setattr(Connection, "data_received", data_received)
        with pytest.raises(AiortcHookError, match="data_received"):
            check_aiortc_hooks()

    def test_aioice_media_demux_change_is_named(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from aioice.ice import StunProtocol

        def datagram_received(self, data, addr) -> None:  # type: ignore[no-untyped-def]
            self.receiver.media_received(data, addr)  # media no longer to data_received

        monkeypatch.setattr(StunProtocol, "datagram_received", datagram_received)
        with pytest.raises(AiortcHookError, match="datagram_received"):
            check_aiortc_hooks()

    def test_aioice_request_handling_change_is_named(self, monkeypatch: pytest.MonkeyPatch
                                                     ) -> None:
        from aioice.ice import Connection

        def request_received(self, message, addr, protocol) -> None:  # type: ignore[no-untyped-def]
            self.check_incoming(message, addr, protocol)  # no longer answers first

        monkeypatch.setattr(Connection, "request_received", request_received)
        with pytest.raises(AiortcHookError, match="request_received"):
            check_aiortc_hooks()

    def test_aioice_answer_bytes_change_is_named(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from aioice import stun
        from aioice.ice import StunProtocol

        send_stun = StunProtocol.send_stun

        def with_software(self, message, addr) -> None:  # type: ignore[no-untyped-def]
            message.attributes["SOFTWARE"] = "aioice"
            send_stun(self, message, addr)

        monkeypatch.setattr(StunProtocol, "send_stun", with_software)
        with pytest.raises(AiortcHookError, match="other bytes"):
            check_aiortc_hooks()
        assert stun  # the module whose messages are compared

    def test_sender_report_counters_renamed_is_named(self, monkeypatch: pytest.MonkeyPatch
                                                     ) -> None:
        from aiortc import RTCRtpSender

        init = RTCRtpSender.__init__

        def renamed(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            init(self, *args, **kwargs)
            # as if aiortc read its octet count from another attribute from now on
            type(self)._RTCRtpSender__octet_count = property(lambda self: 0,
                                                             lambda self, value: None)

        monkeypatch.setattr(RTCRtpSender, "__init__", renamed)
        try:
            with pytest.raises(AiortcHookError, match="sender reports"):
                check_aiortc_hooks()
        finally:
            with contextlib.suppress(AttributeError):
                del RTCRtpSender._RTCRtpSender__octet_count  # type: ignore[attr-defined]

    def test_transport_statistics_change_is_named(self, monkeypatch: pytest.MonkeyPatch
                                                  ) -> None:
        get_stats = RTCDtlsTransport._get_stats

        def stats(self):  # type: ignore[no-untyped-def]
            report = get_stats(self)
            for value in report.values():
                value.packetsSent = value.bytesSent = 0  # counted elsewhere now
            return report

        monkeypatch.setattr(RTCDtlsTransport, "_get_stats", stats)
        with pytest.raises(AiortcHookError, match="statistics"):
            check_aiortc_hooks()

    def test_srtp_session_change_is_named(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from pylibsrtp import Session

        init = Session.__init__

        def without_buffer(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            init(self, *args, **kwargs)
            del self._buffer

        monkeypatch.setattr(Session, "__init__", without_buffer)
        with pytest.raises(AiortcHookError, match="protect in place"):
            check_aiortc_hooks()

    def test_renegotiation_fields_renamed_is_named(self, monkeypatch: pytest.MonkeyPatch
                                                   ) -> None:
        from aiortc import RTCRtpTransceiver

        init = RTCRtpTransceiver.__init__

        def renamed(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            init(self, *args, **kwargs)
            self._preferred_codecs = self.__dict__.pop("_codecs")

        monkeypatch.setattr(RTCRtpTransceiver, "__init__", renamed)
        with pytest.raises(AiortcHookError, match="_codecs"):
            check_aiortc_hooks()


class TestRelaxedRtcp:
    """aiortc's own RTCP loop, run with RFC 3550's 5 s interval instead of aiortc's 1 s,
    and the relay's timers on a 100 ms grid so that many peers share a wakeup."""

    @staticmethod
    async def waits(
        run: Callable[[], Awaitable[object]], monkeypatch: pytest.MonkeyPatch, runs: int
    ) -> list[tuple[float, float]]:
        """(loop time, wait) of the first wait of each run; each run is cancelled there
        (aiortc's loops then end as on close, aioice's raise)."""
        found: list[tuple[float, float]] = []

        async def sleep(delay: float, *args: object) -> None:
            found.append((asyncio.get_running_loop().time(), delay))
            raise asyncio.CancelledError

        with monkeypatch.context() as patch:
            patch.setattr(asyncio, "sleep", sleep)
            patch.setattr(GridSleeps, "sleep", lambda self, delay: sleep(delay))
            for _ in range(runs):
                with contextlib.suppress(asyncio.CancelledError):
                    await run()
        return found

    async def slept(self, endpoint: Any, monkeypatch: pytest.MonkeyPatch, runs: int
                    ) -> list[float]:
        return [wait for _, wait in await self.waits(endpoint._run_rtcp, monkeypatch, runs)]

    @staticmethod
    def on_the_grid(waits: list[tuple[float, float]]) -> list[bool]:
        # Within a millisecond of a 100 ms boundary (the loop's clock moves on a little
        # between the wait being chosen and being taken).
        return [abs((t + w) / TIMER_GRID - round((t + w) / TIMER_GRID)) < 0.01 for t, w in waits]

    async def test_waits_end_on_the_timer_grid(self, monkeypatch: pytest.MonkeyPatch) -> None:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        try:
            relaxed, browser_like = pc.addTransceiver("audio"), pc.addTransceiver("audio")
            relax_rtcp(relaxed.sender)
            relax_rtcp(browser_like.sender, grid=None)
            assert all(self.on_the_grid(
                await self.waits(relaxed.sender._run_rtcp, monkeypatch, 20)))
            # Without a grid (the benchmark's browser-like peers): anywhere.
            anywhere = await self.waits(browser_like.sender._run_rtcp, monkeypatch, 20)
            assert self.on_the_grid(anywhere).count(False) > 10
        finally:
            await pc.close()

    async def test_consent_checks_every_four_to_six_seconds_on_the_grid(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from aioice.ice import Connection

        connection = Connection(ice_controlling=True)
        connection.remote_password = "password"
        align_consent_checks(connection)
        waits = await self.waits(connection.query_consent, monkeypatch, 100)
        assert len(waits) == 100
        assert all(4.0 <= wait <= 6.0 + TIMER_GRID for _, wait in waits)
        assert all(self.on_the_grid(waits))
        await connection.close()

    def test_on_grid_lengthens_to_the_next_boundary(self) -> None:
        assert on_grid(10.03, 1.0) == pytest.approx(1.07)
        assert on_grid(10.0, 1.0) == pytest.approx(1.0)  # already on it
        assert on_grid(10.0, 1.0, grid=0.25) == pytest.approx(1.0)
        assert on_grid(7.31, 0.0, grid=0.5) == pytest.approx(0.19)

    async def test_sender_and_receiver_wait_half_to_one_and_a_half_intervals(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        try:
            transceiver = pc.addTransceiver("audio")
            stock = await self.slept(transceiver.sender, monkeypatch, 50)
            assert all(0.5 <= d <= 1.5 for d in stock)  # aiortc's own interval
            relax_peer_rtcp(pc)
            for endpoint in (transceiver.sender, transceiver.receiver):
                delays = await self.slept(endpoint, monkeypatch, 200)
                assert all(2.5 <= d <= 7.5 + TIMER_GRID for d in delays)  # then to the grid
                assert min(delays) < 3.5 and max(delays) > 6.5  # randomised, not fixed
                assert 4.5 < sum(delays) / len(delays) < 5.5
        finally:
            await pc.close()

    async def test_one_endpoint_only_and_a_custom_interval(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        try:
            first, second = pc.addTransceiver("audio"), pc.addTransceiver("audio")
            relax_rtcp(first.sender, 2.0)
            delays = await self.slept(first.sender, monkeypatch, 50)
            assert all(1.0 <= d <= 3.0 + TIMER_GRID for d in delays)
            assert all(d <= 1.5 for d in await self.slept(second.sender, monkeypatch, 50))
            with pytest.raises(ValueError, match="shorter"):
                relax_rtcp(second.sender, 0.2)
        finally:
            await pc.close()

    @pytest.mark.parametrize(
        ("owner", "name", "message"),
        [
            ("aiortc.RTCRtpReceiver", "_run_rtcp", "RTCRtpReceiver._run_rtcp.*relax_rtcp"),
            ("aioice.ice.Connection", "query_consent", "query_consent.*align_consent_checks"),
        ],
    )
    def test_changed_timer_loop_is_named(
        self, monkeypatch: pytest.MonkeyPatch, owner: str, name: str, message: str
    ) -> None:
        async def loop(self) -> None:  # type: ignore[no-untyped-def]
            await asyncio.sleep(1.0)

        monkeypatch.setattr(f"{owner}.{name}", loop)
        with pytest.raises(AiortcHookError, match=message):
            check_aiortc_hooks()


class TestOpusPayloadType:
    def test_browser_style_offer_uses_111(self) -> None:
        sdp = (
            "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
            "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"
            "a=sendrecv\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:63 red/48000/2\r\n"
            "a=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\n"
            "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n"
            "a=rtpmap:0 PCMU/8000\r\n"
        )
        assert opus_payload_types(sdp) == {"0": 111}


class TestReceiverTap:
    """The tap on a stand-in receiver object: only the attribute it replaces matters."""

    async def test_other_payload_types_and_empty_packets_dropped(self) -> None:
        got: list[RtpPacket] = []
        receiver = SimpleNamespace(receive=None)
        tap = ReceiverTap(receiver, 111, got.append)  # type: ignore[arg-type]
        for pt, payload in [(111, b"\x78"), (0, b"\xff"), (13, b"\x00"), (111, b"")]:
            await receiver._handle_rtp_packet(RtpPacket(payload_type=pt, payload=payload), 0)
        assert [p.payload for p in got] == [b"\x78"]
        assert (tap.received, tap.dropped_payload_type) == (1, 3)

    async def test_callback_error_is_logged_not_raised_into_aiortc(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        def boom(packet: RtpPacket) -> None:
            raise RuntimeError("bug")

        receiver = SimpleNamespace(receive=None)
        ReceiverTap(receiver, 111, boom)  # type: ignore[arg-type]
        await receiver._handle_rtp_packet(RtpPacket(payload_type=111, payload=b"\x78"), 0)
        assert "RTP tap callback failed" in caplog.text


class TestPacketTrack:
    async def test_packets_carry_pts_and_48k_time_base(self) -> None:
        track = PacketTrack()
        track.push(960, b"\x78\x01")
        packet = await track.recv()
        assert bytes(packet) == b"\x78\x01"
        assert packet.pts == 960 and packet.time_base == TIME_BASE

    async def test_full_queue_drops_oldest_and_counts(self) -> None:
        track = PacketTrack(maxlen=3)
        results = [track.push(i * 960, bytes([0x78, i])) for i in range(5)]
        assert results == [True, True, True, False, False]
        assert track.dropped == 2 and track.queued == 3
        assert [(await track.recv()).pts for _ in range(3)] == [1920, 2880, 3840]

    async def test_recv_waits_for_push(self) -> None:
        track = PacketTrack()
        pending = asyncio.ensure_future(track.recv())
        # One turn of the loop runs recv() up to where it waits: no packet, so it is waiting.
        await asyncio.sleep(0)
        assert not pending.done()
        track.push(0, b"\x78")
        assert bytes(await asyncio.wait_for(pending, 1)) == b"\x78"

    async def test_stop_ends_a_waiting_recv(self) -> None:
        track = PacketTrack()
        pending = asyncio.ensure_future(track.recv())
        await asyncio.sleep(0)  # recv() runs up to where it waits
        assert not pending.done()
        track.stop()
        with pytest.raises(MediaStreamError):
            await asyncio.wait_for(pending, 1)

    async def test_is_truthy_even_when_empty(self) -> None:
        """aiortc's sender loop skips a falsy track: a ``__len__`` would silence it."""
        assert PacketTrack()

    async def test_latency_measured_when_aiortc_comes_back(self) -> None:
        now = [10.0]
        seen: list[float] = []
        track = PacketTrack(clock=lambda: now[0], on_latency=seen.append)
        track.push(0, b"\x78", arrival=10.0)
        track.push(960, b"\x78", arrival=10.02)
        await track.recv()
        now[0] = 10.004
        await track.recv()
        assert seen == [pytest.approx(0.004)]

    async def test_latency_hook_can_be_switched_off_and_on(self) -> None:
        """Benchmarks measure CPU without the per-packet hook, then latency with it."""
        now = [10.0]
        seen: list[float] = []
        track = PacketTrack(clock=lambda: now[0])
        for i in range(4):
            track.push(i * 960, b"\x78", arrival=10.0 + i * 0.02)
        await track.recv()
        now[0] = 10.01
        await track.recv()
        track.on_latency = seen.append
        await track.recv()  # the packet that arrived at 10.04
        now[0] = 10.05
        await track.recv()
        assert seen == [pytest.approx(0.01)]


@pytest.mark.media
async def test_tap_delivers_every_payload_bit_exact_without_decoder_path() -> None:
    """A real aiortc sender (packet track) to a tapped aiortc receiver, over ICE/DTLS/SRTP."""
    sender = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    receiver = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    track = PacketTrack(maxlen=200)
    sender.addTransceiver(track, direction="sendonly")
    taps: list[ReceiverTap] = []
    got: list[RtpPacket] = []
    try:
        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        (transceiver,) = receiver.getTransceivers()
        pt = opus_payload_types(sender.localDescription.sdp)[transceiver.mid]
        assert pt == 96  # aiortc's own offer
        taps.append(ReceiverTap(transceiver.receiver, pt, got.append))
        await receiver.setLocalDescription(await receiver.createAnswer())
        await sender.setRemoteDescription(receiver.localDescription)
        await until(lambda: receiver.connectionState == "connected", "connected")

        sent = ToneEncoder(440).packets(100)
        for i, payload in enumerate(sent):
            track.push(i * 960, payload)
        await until(lambda: len(got) == len(sent), "all packets tapped", timeout=5)

        assert [p.payload for p in got] == sent  # bit-exact, in order, none stuck
        assert [p.payload_type for p in got] == [pt] * len(sent)
        timestamps = [p.timestamp for p in got]
        assert [(t - timestamps[0]) % (1 << 32) for t in timestamps] == [
            i * 960 for i in range(100)
        ]
        # aiortc's decoder path stayed empty: no jitter buffer output, nothing queued.
        stock = transceiver.receiver
        assert stock._RTCRtpReceiver__decoder_queue.qsize() == 0, (
            "RTCRtpReceiver.__decoder_queue received frames: the tap no longer bypasses it"
        )
        # The decoder thread aiortc started was ended at once; the track only got its end.
        thread = stock._RTCRtpReceiver__decoder_thread
        assert thread is not None
        thread.join(timeout=2)
        assert not thread.is_alive()
        assert stock.track._queue.qsize() <= 1
        assert taps[0].received == 100 and taps[0].dropped_payload_type == 0
        # Once connected, packets skip aiortc's queue and task (the first may still queue).
        assert taps[0].direct >= 95
        stats = await receiver.getStats()
        (transport,) = (v for v in stats.values() if v.type == "transport")
        assert transport.packetsReceived >= 100  # aiortc's transport counters kept
    finally:
        await sender.close()
        await receiver.close()


class TestMediaIsDemultiplexedByItsFirstByte:
    """RFC 7983: a datagram whose first byte is 128-191 is RTP or RTCP and goes straight to
    the connection's data path; aioice no longer tries (and fails) to parse it as STUN.
    Everything else, STUN above all, still goes through aioice's handler."""

    @staticmethod
    async def gathered() -> tuple[Any, Any, list[tuple[bytes, int]]]:
        """A real aioice connection with its sockets, its data path recorded."""
        from aioice import Connection

        connection = Connection(ice_controlling=False)
        await connection.gather_candidates()
        received: list[tuple[bytes, int]] = []
        connection.data_received = lambda data, component: received.append((data, component))
        return connection, connection._protocols[0], received

    async def test_rtp_and_rtcp_skip_the_stun_parse(self, monkeypatch: pytest.MonkeyPatch
                                                    ) -> None:
        from aioice import stun

        from ptt.media.tap import datagram_shortcuts

        connection, protocol, received = await self.gathered()
        parses: list[bytes] = []
        real_parse = stun.parse_message
        monkeypatch.setattr(stun, "parse_message",
                            lambda data: (parses.append(data), real_parse(data))[1])
        try:
            datagram_shortcuts(connection)
            datagram_shortcuts(connection)  # idempotent: one wrapper per socket
            rtp, rtcp = b"\x80\x6f" + bytes(30), b"\x81\xc9" + bytes(30)
            dtls, other = b"\x16\xfe\xfd" + bytes(20), b"\xc0" + bytes(30)
            for datagram in (rtp, rtcp, dtls, other):
                protocol.datagram_received(datagram, ("192.0.2.1", 5000))
            component = protocol.local_candidate.component
            assert received == [(rtp, component), (rtcp, component), (dtls, component),
                                (other, component)]
            assert parses == [dtls, other]  # aioice parsed only what may be STUN
        finally:
            await connection.close()

    async def test_stun_still_reaches_aioice(self) -> None:
        from aioice import stun

        from ptt.media.tap import datagram_shortcuts

        connection, protocol, received = await self.gathered()
        requests: list[stun.Message] = []
        connection.request_received = lambda message, addr, protocol: requests.append(message)
        try:
            datagram_shortcuts(connection)
            request = stun.Message(message_method=stun.Method.BINDING,
                                   message_class=stun.Class.REQUEST)
            protocol.datagram_received(bytes(request), ("192.0.2.1", 5000))
            assert [m.transaction_id for m in requests] == [request.transaction_id]
            assert received == []
        finally:
            await connection.close()


class TestConsentChecksAnsweredWithoutAioicesMessages:
    """Two real aioice connections: once connected, the controlling side's consent checks
    are answered by ``_answer_binding`` on the other, and aioice's own transaction on the
    checking side accepts the answer. What it cannot answer exactly as aioice would, aioice
    answers."""

    @staticmethod
    async def connected() -> tuple[Any, Any]:
        from aioice import Connection

        checking, answering = Connection(ice_controlling=True), Connection(ice_controlling=False)
        await asyncio.gather(checking.gather_candidates(), answering.gather_candidates())
        for one, other in ((checking, answering), (answering, checking)):
            for candidate in other.local_candidates:
                await one.add_remote_candidate(candidate)
            await one.add_remote_candidate(None)
            one.remote_username, one.remote_password = other.local_username, other.local_password
        await asyncio.gather(checking.connect(), answering.connect())
        return checking, answering

    @staticmethod
    async def check(checking: Any, *, key: bytes | None = None) -> Any:
        from aioice import stun

        pair = checking._nominated[1]
        request = checking.build_request(pair, nominate=False)
        try:
            response, _ = await pair.protocol.request(
                request, pair.remote_addr,
                integrity_key=key or checking.remote_password.encode("utf8"),
                retransmissions=0)
        except stun.TransactionFailed as exc:
            return exc.response
        return response

    async def test_a_consent_check_is_answered_and_accepted(self) -> None:
        from ptt.media.tap import datagram_shortcuts

        checking, answering = await self.connected()
        try:
            datagram_shortcuts(answering)
            for _ in range(3):
                response = await self.check(checking)
                assert response.message_class.name == "RESPONSE"
                assert response.attributes["XOR-MAPPED-ADDRESS"] == checking._nominated[
                    1].protocol.transport.get_extra_info("sockname")[:2]
            assert answering._siaga_bindings_answered == 3
            assert answering._nominated and checking._nominated  # nothing else changed
        finally:
            await checking.close()
            await answering.close()

    async def test_a_wrong_password_is_refused_by_aioice(self) -> None:
        from aioice import stun

        from ptt.media.tap import datagram_shortcuts

        checking, answering = await self.connected()
        refused: list[tuple[int, str]] = []
        respond_error = answering.respond_error
        answering.respond_error = lambda request, addr, protocol, error: (
            refused.append(error), respond_error(request, addr, protocol, error))
        try:
            datagram_shortcuts(answering)
            with pytest.raises(stun.TransactionTimeout):  # the 401 is not signed with our key
                await self.check(checking, key=b"not-the-password")
            assert refused == [(401, "Unauthenticated")]  # aioice's own answer
            assert getattr(answering, "_siaga_bindings_answered", 0) == 0
        finally:
            await checking.close()
            await answering.close()

    async def test_a_role_conflict_is_left_to_aioice(self) -> None:
        from ptt.media.tap import datagram_shortcuts

        checking, answering = await self.connected()
        try:
            datagram_shortcuts(checking)  # controlling: a controlling peer's check conflicts
            answering_pair = answering._nominated[1]
            request = answering.build_request(answering_pair, nominate=False)
            request.attributes.pop("ICE-CONTROLLED")
            request.attributes["ICE-CONTROLLING"] = 0  # loses the tie-break
            from aioice import stun

            with pytest.raises(stun.TransactionFailed) as failed:
                await answering_pair.protocol.request(
                    request, answering_pair.remote_addr,
                    integrity_key=answering.remote_password.encode("utf8"), retransmissions=0)
            assert failed.value.response.error_code == 487  # aioice's role conflict answer
            assert getattr(checking, "_siaga_bindings_answered", 0) == 0
        finally:
            await checking.close()
            await answering.close()
