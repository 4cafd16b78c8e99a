"""Idle peers' sockets are read on a timer grid; media wakes a peer at once.

With plain asyncio datagram endpoints standing for an aioice connection's sockets, and then
with the relay's real peers: a connected peer that is not talking is idle, a talker is not,
and an idle peer that sends RTP is woken by its first packet.
"""

from __future__ import annotations

import asyncio
import socket
import time
from types import SimpleNamespace

import pytest

from ptt.media.aiortc_tap import IdleReads, ice_connections
from ptt.media.relay import VoiceRelay

from .officers import wait_for

pytestmark = pytest.mark.media

GRID = 0.4
RTP = b"\x80\x6f" + bytes(10)
RTCP = b"\x80\xc8" + bytes(26)  # a sender report's first bytes


class Inbox(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.got: list[tuple[bytes, float]] = []

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.got.append((data, time.monotonic()))


async def endpoint() -> tuple[asyncio.DatagramTransport, Inbox]:
    loop = asyncio.get_running_loop()
    transport, inbox = await loop.create_datagram_endpoint(Inbox, local_addr=("127.0.0.1", 0))
    return transport, inbox


@pytest.fixture
def sender():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    yield s
    s.close()


class TestIdleReads:
    async def test_idle_socket_is_read_on_the_grid_not_on_arrival(self, sender) -> None:
        transport, inbox = await endpoint()
        connection = SimpleNamespace(_protocols=[SimpleNamespace(transport=transport)])
        reads = IdleReads(GRID)
        try:
            reads.idle(connection)
            assert len(reads) == 1
            loop = asyncio.get_running_loop()
            # Just after a grid tick, so that the next one is most of a grid away.
            await asyncio.sleep((GRID / 2 - loop.time()) % GRID + 0.01)
            sent = time.monotonic()
            sender.sendto(RTCP, transport.get_extra_info("sockname"))
            await asyncio.sleep(GRID / 4)
            assert inbox.got == []  # waiting in the socket
            await wait_for(lambda: len(inbox.got) == 1, "the poll", timeout=2 * GRID)
            assert inbox.got[0][0] == RTCP
            assert inbox.got[0][1] - sent > GRID / 2
            assert reads.datagrams == 1 and len(reads) == 1  # RTCP does not wake it
        finally:
            reads.close()
            transport.close()

    async def test_rtp_wakes_the_connection_and_what_follows_is_read_at_once(
        self, sender
    ) -> None:
        (t1, inbox1), (t2, inbox2) = await endpoint(), await endpoint()
        connection = SimpleNamespace(_protocols=[SimpleNamespace(transport=t1),
                                                 SimpleNamespace(transport=t2)])
        reads = IdleReads(GRID)
        try:
            reads.idle(connection)
            assert len(reads) == 2
            sender.sendto(RTP, t1.get_extra_info("sockname"))
            sender.sendto(RTCP, t2.get_extra_info("sockname"))
            await wait_for(lambda: len(inbox1.got) == 1 and len(inbox2.got) == 1, "the poll",
                           timeout=2 * GRID)
            assert len(reads) == 0  # both sockets of the connection are awake
            sent = time.monotonic()
            sender.sendto(RTCP, t2.get_extra_info("sockname"))
            await wait_for(lambda: len(inbox2.got) == 2, "an awake read", timeout=GRID)
            assert inbox2.got[1][1] - sent < GRID / 2
        finally:
            reads.close()
            t1.close()
            t2.close()

    async def test_wake_reads_what_waited_and_close_gives_sockets_back(self, sender) -> None:
        transport, inbox = await endpoint()
        connection = SimpleNamespace(_protocols=[SimpleNamespace(transport=transport)])
        reads = IdleReads(10.0)  # no poll during the test
        reads.idle(connection)
        sender.sendto(RTCP, transport.get_extra_info("sockname"))
        await asyncio.sleep(0.05)
        assert inbox.got == []
        reads.wake(connection)
        assert [d for d, _ in inbox.got] == [RTCP]
        reads.idle(connection)
        reads.close()
        sender.sendto(RTCP, transport.get_extra_info("sockname"))
        await wait_for(lambda: len(inbox.got) == 2, "read by the event loop", timeout=1)
        transport.close()

    async def test_a_closed_socket_is_forgotten(self, sender) -> None:
        transport, _ = await endpoint()
        connection = SimpleNamespace(_protocols=[SimpleNamespace(transport=transport)])
        reads = IdleReads(0.05)
        try:
            reads.idle(connection)
            sender.sendto(RTCP, transport.get_extra_info("sockname"))
            transport.close()
            await asyncio.sleep(0.2)
            assert len(reads) == 0
            reads.idle(connection)  # closing: nothing to watch
            assert len(reads) == 0
        finally:
            reads.close()


class TestRelayIdlePeers:
    @pytest.fixture
    async def relay(self):
        r = VoiceRelay()
        yield r
        await r.close()

    def idle(self, relay: VoiceRelay, name: str) -> bool:
        reads = relay.idle_reads
        assert reads is not None
        fds = {fd for fd, t in reads._idle.items()}
        mine = {p.transport._sock_fd for c in ice_connections(relay.peer_connection(name))
                for p in c._protocols}
        assert mine
        return mine <= fds

    async def test_listeners_are_idle_talkers_are_not(self, relay: VoiceRelay, officers) -> None:
        a, listener = await officers("a", 440.0), await officers("l", 880.0)
        await listener.listen(relay, [1])
        await wait_for(lambda: self.idle(relay, "a") and self.idle(relay, "l"), "both idle")
        relay.set_route("a", [("l", 1)])
        assert not self.idle(relay, "a") and self.idle(relay, "l")
        a.uplink.talk()
        await wait_for(lambda: listener.on(relay, 1).count(440.0) >= 10, "l hears a",
                       timeout=10)
        a.uplink.talk(False)
        relay.clear_route("a")
        assert self.idle(relay, "a")

    async def test_an_idle_peer_that_talks_without_the_floor_is_woken_and_counted(
        self, relay: VoiceRelay, officers
    ) -> None:
        rogue = await officers("r", 660.0)
        await wait_for(lambda: self.idle(relay, "r"), "rogue idle")
        rogue.uplink.talk()
        await wait_for(lambda: not self.idle(relay, "r"), "rogue woken by its media",
                       timeout=2)
        before, sent = relay.metrics.dropped_not_holder, rogue.uplink.sent
        await asyncio.sleep(0.5)
        assert relay.metrics.dropped_not_holder - before >= 0.9 * (rogue.uplink.sent - sent)
        assert rogue.uplink.sent - sent >= 20

    async def test_idle_peers_rtcp_is_still_read(self, relay: VoiceRelay, officers) -> None:
        listener = await officers("l", 880.0)
        await wait_for(lambda: self.idle(relay, "l"), "idle")
        reads = relay.idle_reads
        assert reads is not None
        before = reads.datagrams
        await wait_for(lambda: reads.datagrams > before, "a poll read the peer's RTCP",
                       timeout=8)
        assert relay.peer_connection("l").connectionState == "connected"
        del listener


def test_asyncio_transport_change_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from ptt.media import aiortc_tap

    class Transport:  # no pause_reading / resume_reading
        max_size = 256 * 1024

    monkeypatch.setattr(aiortc_tap, "_SELECTOR_DATAGRAM_TRANSPORT", Transport)
    with pytest.raises(aiortc_tap.AiortcHookError, match="pause_reading"):
        aiortc_tap.check_aiortc_hooks()
