"""The C fan-out loop: one talker packet to every ready downlink, the others back to Python.

A downlink is served in C only while its guard holds (DTLS connected, the same nominated ICE
pair, the socket's transport open) and its retimer is the C one; otherwise it comes back
untouched (no sequence number used), for the Python loop. What it sends is the Retimer's
rewrite, protected with the session's keys, and counted for the sender reports.
"""

from __future__ import annotations

import asyncio
import socket
from types import SimpleNamespace
from typing import Any

import pytest
from aiortc.rtcdtlstransport import State as DtlsState
from pyee import EventEmitter

from ptt.media import fast_sender
from ptt.media import native as native_glue
from ptt.rtp import Retimer
from tests.polling import until

from .test_rtpout import TAIL, native, sessions
from .test_rtpout import sockets as sockets  # noqa: F401 - the fixture

pytestmark = pytest.mark.skipif(not native_glue.NATIVE_SEND,
                                reason="ptt.media._rtpout was not built (no C compiler)")

if native_glue.NATIVE_SEND:
    from ptt.media._rtpout import MAX_PLAIN, RtpOut, fan_out
    from ptt.media._rtpout import Retimer as NativeRetimer

CONNECTED = DtlsState.CONNECTED
OPUS = b"\x78" + bytes(range(60))


class Transport:
    """asyncio's datagram transport as the guard reads it (is_closing() returns _closing)."""

    def __init__(self) -> None:
        self._closing = False


class Link:
    """One listener's downlink as the relay holds it, its guard's objects within reach."""

    def __init__(self, sender: socket.socket, receiver: socket.socket) -> None:
        self.tx, self.rx = sessions()
        self.receiver = receiver
        self.dtls = SimpleNamespace(_state=CONNECTED)
        self.pair = object()
        self.nominated: dict[int, Any] = {1: self.pair}
        self.transport = Transport()
        self.out = native(sender, receiver, self.tx)
        self.out.guard(self.dtls, CONNECTED, self.nominated, self.pair, self.transport, self.tx)
        self.downlink = SimpleNamespace(native=self.out,
                                        retimer=NativeRetimer(initial_sequence=100))

    def heard(self) -> bytes:
        return self.rx.unprotect(self.receiver.recv(2048))


@pytest.fixture
def link(sockets) -> Link:  # noqa: F811
    return Link(*sockets)


def send(downlinks: list[Any], sequence: int = 1, *, now: float = 0.0,
         offsets: list[float] | None = None, payload: bytes = OPUS):
    return fan_out(downlinks, "a", sequence, 960 * sequence, True, 960, now, payload,
                   0x0123456789ABCDEF, offsets)


def test_sends_the_retimers_rewrite_and_counts_it(link: Link) -> None:
    offsets: list[float] = []
    assert send([link.downlink], 1, offsets=offsets) == (1, 0, None, None)
    assert send([link.downlink], 2, now=0.02, offsets=offsets) == (1, 0, None, None)
    first, second = link.heard(), link.heard()
    expected = Retimer(initial_sequence=100)
    for datagram, sequence, now in ((first, 1, 0.0), (second, 2, 0.02)):
        rewrite = expected.rewrite("a", sequence, 960 * sequence, now, marker=True)
        assert rewrite is not None
        assert datagram == (fast_sender.FIXED_HEADER.pack(
            0x90, (rewrite.marker << 7) | 111, rewrite.sequence, rewrite.timestamp)
            + TAIL + OPUS)
    assert (link.out.sent, link.out.octets, link.out.ntp) == (2, 2 * len(OPUS),
                                                              0x0123456789ABCDEF)
    assert link.out.sent_bytes == len(first) + len(second) + 20  # the SRTP tags
    assert link.out.rtp_timestamp == expected.rewrite("a", 3, 2880, 0.04).timestamp - 960  # type: ignore[union-attr]
    assert len(offsets) == 2 and all(0 <= o < 1 for o in offsets)


@pytest.mark.parametrize("breakage", ["dtls", "pair", "no pair", "closing", "python retimer",
                                      "no sender", "not guarded", "too long"])
def test_a_downlink_that_is_not_ready_goes_back_untouched(link: Link, sockets,  # noqa: F811
                                                          breakage: str) -> None:
    other = Link(*sockets)  # same sockets: its datagrams arrive on the same receiver
    payload = OPUS
    if breakage == "dtls":
        link.dtls._state = object()
    elif breakage == "pair":
        link.nominated[1] = object()
    elif breakage == "no pair":
        link.nominated.clear()
    elif breakage == "closing":
        link.transport._closing = True
    elif breakage == "python retimer":
        link.downlink.retimer = Retimer()
    elif breakage == "no sender":
        link.downlink.native = None
    elif breakage == "not guarded":
        link.downlink.native = native(sockets[0], sockets[1], link.tx)
    elif breakage == "too long":
        payload = bytes(MAX_PLAIN)
    delivered, late, pending, failed = send([link.downlink, other.downlink], payload=payload)
    if breakage == "too long":  # too long for every downlink
        assert (delivered, pending) == (0, [link.downlink, other.downlink])
        return
    assert (delivered, late, pending, failed) == (1, 0, [link.downlink], None)
    assert other.rx.unprotect(other.receiver.recv(2048))  # the other listener got it
    retimer = link.downlink.retimer
    assert retimer.packets == 0  # no sequence number was used up
    if isinstance(link.downlink.native, type(link.out)):
        assert link.downlink.native.sent == 0


def test_late_packets_are_counted_not_sent(link: Link) -> None:
    send([link.downlink], 5)
    link.heard()
    assert send([link.downlink], 5) == (0, 1, None, None)  # duplicate
    assert send([link.downlink], 4) == (0, 1, None, None)  # reordered
    assert link.out.sent == 1


def test_a_failed_send_is_reported_and_the_others_still_get_the_packet(link: Link,
                                                                       sockets) -> None:  # noqa: F811
    other = Link(*sockets)
    broken, _ = sessions()
    v6only = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    v6only.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    try:
        # An IPv6-only socket asked to send to an IPv4 address: the kernel says ENETUNREACH.
        context = int(native_glue.srtp_ffi.cast("uintptr_t", broken._srtp[0]))
        out = RtpOut(v6only, socket.AF_INET, b"\x7f\0\0\1", 9, 0,
                     native_glue.SRTP_PROTECT_ADDRESS, context, 0x90, 111, TAIL)
        out.guard(link.dtls, CONNECTED, link.nominated, link.pair, link.transport, broken)
        link.downlink.native = out
        delivered, late, pending, failed = send([link.downlink, other.downlink])
    finally:
        v6only.close()
    assert (delivered, late, pending) == (1, 0, None)
    assert failed is not None and len(failed) == 1
    downlink, error = failed[0]
    assert downlink is link.downlink and isinstance(error, OSError)
    assert other.heard()
    assert out.sent == 0


def test_bad_packet_numbers_are_a_usage_error_and_nothing_is_sent(link: Link) -> None:
    from ptt.errors import UsageError

    for sequence in (-1, 65536):
        with pytest.raises(UsageError):
            fan_out([link.downlink], "a", sequence, 0, False, 960, 0.0, OPUS, 0, None)
    with pytest.raises(UsageError):
        fan_out([link.downlink], "a", 1, 0, False, 960, float("nan"), OPUS, 0, None)
    with pytest.raises(TypeError):
        fan_out((link.downlink,), "a", 1, 0, False, 960, 0.0, OPUS, 0, None)  # type: ignore[arg-type]
    assert (link.out.sent, link.downlink.retimer.packets) == (0, 0)


class TestGuardsAreCheckedBeforeEverySend:
    """fan_out() reads a guard's DTLS state, nominated pair and transport before each
    send: a change is seen at the next packet, without anyone reporting it."""

    @pytest.mark.parametrize("breakage", ["dtls", "pair", "closing"])
    def test_a_change_is_seen_at_the_next_packet(self, link: Link, breakage: str) -> None:
        assert send([link.downlink], 1)[:3] == (1, 0, None)
        link.heard()
        if breakage == "dtls":
            link.dtls._state = object()
        elif breakage == "pair":
            link.nominated[1] = object()
        else:
            link.transport._closing = True
        assert send([link.downlink], 2)[:3] == (0, 0, [link.downlink])

    def test_a_new_guard_is_checked_before_it_is_used(self, link: Link) -> None:
        send([link.downlink], 1)
        link.heard()
        link.out.guard(link.dtls, CONNECTED, link.nominated, object(), link.transport, link.tx)
        assert send([link.downlink], 2)[:3] == (0, 0, [link.downlink])

    async def test_a_dtls_state_change_and_a_closing_transport_are_seen(self) -> None:
        """Real objects: a pyee emitter standing for aiortc's DTLS transport, and an
        asyncio datagram transport."""
        loop = asyncio.get_running_loop()
        receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(2)
        transport, protocol = await loop.create_datagram_endpoint(
            Protocol, local_addr=("127.0.0.1", 0))
        try:
            tx, rx = sessions()
            dtls = Dtls()
            pair = object()
            nominated: dict[int, Any] = {1: pair}
            out = native_glue.native_sender(transport.get_extra_info("socket"),
                                            receiver.getsockname(), tx._srtp[0], 0x90, 111,
                                            TAIL)
            out.guard(dtls, CONNECTED, nominated, pair, transport, tx)
            downlink = SimpleNamespace(native=out, retimer=NativeRetimer())

            assert send([downlink], 1)[0] == 1 and rx.unprotect(receiver.recv(2048))
            dtls._state = DtlsState.CLOSED
            assert send([downlink], 2)[:3] == (0, 0, [downlink])
            dtls._state = CONNECTED
            assert send([downlink], 3)[0] == 1 and rx.unprotect(receiver.recv(2048))

            transport.close()  # closing at once; asyncio closes the socket soon after
            assert send([downlink], 4)[:3] == (0, 0, [downlink])
            await until(lambda: protocol.lost, "connection_lost")
            assert send([downlink], 5)[:3] == (0, 0, [downlink])
        finally:
            transport.close()
            receiver.close()


class Protocol(asyncio.DatagramProtocol):
    """A datagram protocol with an instance dict, as aioice's StunProtocol has."""

    lost = 0

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost += 1


class Dtls(EventEmitter):
    """What a guard uses of aiortc's RTCDtlsTransport: a pyee emitter with a ``_state``."""

    def __init__(self) -> None:
        super().__init__()
        self._state = CONNECTED


class TestDownlinkAttributes:
    """The C loop reads a downlink's ``native`` and ``retimer`` as Python does: slots,
    properties put in their place and subclasses' properties alike."""

    @staticmethod
    def slotted(link: Link) -> Any:
        class Downlink:
            __slots__ = ("native", "retimer")

        downlink = Downlink()
        downlink.native, downlink.retimer = link.out, link.downlink.retimer
        return downlink

    def test_the_slots_values_are_the_ones_used(self, link: Link) -> None:
        downlink = self.slotted(link)
        assert send([downlink], 1) == (1, 0, None, None)
        assert link.heard()
        downlink.native = None  # a slot written between packets is read again
        assert send([downlink], 2) == (0, 0, [downlink], None)

    def test_a_property_put_in_place_of_a_slot_is_used(self, link: Link) -> None:
        downlink = self.slotted(link)
        assert send([downlink], 1) == (1, 0, None, None)
        link.heard()
        cls = type(downlink)
        cls.native = property(lambda self: None)  # type: ignore[attr-defined]
        assert send([downlink], 2) == (0, 0, [downlink], None)
        assert link.out.sent == 1

    def test_a_subclass_property_is_used(self, link: Link) -> None:
        base = type(self.slotted(link))

        class Python(base):  # type: ignore[misc, valid-type]
            __slots__ = ()
            retimer = property(lambda self: Retimer())

        downlink = Python()
        downlink.native = link.out
        assert send([downlink], 1) == (0, 0, [downlink], None)
        assert link.out.sent == 0

    def test_an_empty_slot_is_an_attribute_error(self, link: Link) -> None:
        downlink = self.slotted(link)
        del downlink.native
        with pytest.raises(AttributeError):
            send([downlink], 1)
        assert link.out.sent == 0

    def test_the_relays_downlink_keeps_both_in_slots(self) -> None:
        from ptt.media.relay import _Downlink

        for name in ("native", "retimer"):
            assert type(vars(_Downlink)[name]).__name__ == "member_descriptor"
