"""The C extension that builds, protects and sends one downlink's RTP packets.

Its datagrams must be exactly what the Python path builds: same header from the same
template, protected with the same libsrtp session, so a receiver's SRTP session unprotects
them to the same bytes. Bad arguments are refused before anything is sent.
"""

from __future__ import annotations

import socket
import struct

import pytest
from pylibsrtp import Policy, Session

from ptt.media import fast_sender, hooks
from ptt.media import native as native_glue
from ptt.media.hooks import AiortcHookError, check_aiortc_hooks

pytestmark = pytest.mark.skipif(not native_glue.NATIVE_SEND,
                                reason="ptt.media._rtpout was not built (no C compiler)")

KEY = bytes(range(30))  # 16-byte master key + 14-byte salt
SSRC = 0x1234ABCD
TAIL = struct.pack("!I", SSRC) + bytes.fromhex("bede0001") + b"\x10\x37\x00\x00"  # mid "7"


def sessions() -> tuple[Session, Session]:
    tx = Session(policy=Policy(key=KEY, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
    rx = Session(policy=Policy(key=KEY, ssrc_type=Policy.SSRC_ANY_INBOUND))
    return tx, rx


@pytest.fixture
def sockets():
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(2)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(("127.0.0.1", 0))
    yield sender, receiver
    sender.close()
    receiver.close()


def native(sender: socket.socket, receiver: socket.socket, tx: Session, **overrides):
    return native_glue.native_sender(
        sender, receiver.getsockname(), tx._srtp[0], overrides.get("byte0", 0x90),
        overrides.get("payload_type", 111), overrides.get("tail", TAIL),
    )


def test_datagram_unprotects_to_the_python_paths_packet(sockets) -> None:
    sender, receiver = sockets
    tx, rx = sessions()
    out = native(sender, receiver, tx)
    payload = b"\x78" + bytes(range(80))
    for sequence, timestamp, marker in ((65535, 2**32 - 1, True), (0, 960, False)):
        length = out.send(sequence, timestamp, marker, payload)
        datagram = receiver.recv(2048)
        assert len(datagram) == length == 8 + len(TAIL) + len(payload) + 10  # SHA1-80 tag
        expected = (
            fast_sender.FIXED_HEADER.pack(0x90, (marker << 7) | 111, sequence, timestamp)
            + TAIL + payload
        )
        assert rx.unprotect(datagram) == expected


def test_libsrtps_refusal_is_an_error_and_sends_nothing(sockets) -> None:
    """libsrtp's own session state is in use: it refuses to protect the same sequence
    number twice (it would reuse the key stream), and nothing goes out."""
    sender, receiver = sockets
    tx, rx = sessions()
    out = native(sender, receiver, tx)
    out.send(7, 100, False, b"\x78\x01")
    rx.unprotect(receiver.recv(2048))
    with pytest.raises(ValueError, match="srtp_protect failed with status 9"):
        out.send(7, 100, False, b"\x78\x01")
    receiver.setblocking(False)
    with pytest.raises(BlockingIOError):
        receiver.recv(2048)


def test_out_of_range_numbers_and_long_payloads_are_refused(sockets) -> None:
    sender, receiver = sockets
    tx, _ = sessions()
    out = native(sender, receiver, tx)
    with pytest.raises(ValueError, match="16 bits"):
        out.send(65536, 0, False, b"\x78")
    with pytest.raises(ValueError, match="32 bits"):
        out.send(0, 2**32, False, b"\x78")
    with pytest.raises(OverflowError):
        out.send(-1, 0, False, b"\x78")
    with pytest.raises(ValueError, match="too long"):
        out.send(0, 0, False, bytes(2000))
    receiver.setblocking(False)
    with pytest.raises(BlockingIOError):
        receiver.recv(2048)  # nothing was sent


def test_a_closed_socket_is_an_os_error(sockets) -> None:
    sender, receiver = sockets
    tx, _ = sessions()
    out = native(sender, receiver, tx)
    sender.close()
    with pytest.raises(OSError):
        out.send(1, 1, False, b"\x78")


def test_a_connected_socket_sends_to_its_destination_and_hears_no_one_else(sockets) -> None:
    """connect_socket() connects the socket to the destination: datagrams still arrive
    there, and the kernel now drops what anyone else sends to the socket."""
    sender, receiver = sockets
    tx, rx = sessions()
    out = native(sender, receiver, tx)
    out.connect_socket()
    assert sender.getpeername() == receiver.getsockname()
    out.send(1, 960, True, b"\x78\x01")
    assert rx.unprotect(receiver.recv(2048)).endswith(b"\x78\x01")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
        stranger.sendto(b"stray", sender.getsockname())
    receiver.sendto(b"peer", sender.getsockname())
    sender.settimeout(2)
    assert sender.recv(2048) == b"peer"  # the stray datagram was dropped, not queued first


def test_a_failed_connect_is_an_os_error_that_the_relay_logs(
    sockets, caplog: pytest.LogCaptureFixture
) -> None:
    sender, receiver = sockets
    tx, _ = sessions()
    out = native(sender, receiver, tx)
    sender.close()
    with pytest.raises(OSError):
        out.connect_socket()
    native_glue.connect_socket(out, receiver.getsockname())  # the relay goes on sending
    assert "cannot connect the ICE socket" in caplog.text


def test_bad_construction_is_refused(sockets) -> None:
    sender, receiver = sockets
    tx, _ = sessions()
    context = native_glue.srtp_ffi.cast("uintptr_t", tx._srtp[0])
    args = dict(sock=sender, family=socket.AF_INET, address=b"\x7f\0\0\1", port=9,
                scope_id=0, protect=1, context=int(context), byte0=0x90, payload_type=111,
                tail=TAIL)
    RtpOut = native_glue.RtpOut
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.close()
    for change, message in (
        ({"address": b"\x7f\0\0"}, "4 bytes"),
        ({"family": socket.AF_INET6}, "16 bytes"),
        ({"port": 0}, "port"),
        ({"payload_type": 128}, "payload_type"),
        ({"tail": b"\0\0"}, "tail"),
        ({"protect": 0}, "addresses"),
        ({"sock": closed}, "open socket"),
        ({"sock": sender.fileno()}, "not a descriptor"),
    ):
        with pytest.raises(ValueError, match=message):
            RtpOut(**{**args, **change})


def test_host_names_are_left_to_the_python_path(sockets) -> None:
    sender, _ = sockets
    tx, _ = sessions()
    assert native_glue.native_sender(sender, ("host.invalid", 9), tx._srtp[0], 0x90, 111,
                                     TAIL) is None


def test_ipv6_destination(sockets) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    receiver = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sender = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        try:
            receiver.bind(("::1", 0))
        except OSError:
            pytest.skip("no ::1 here")
        receiver.settimeout(2)
        tx, rx = sessions()
        out = native_glue.native_sender(sender, receiver.getsockname(), tx._srtp[0], 0x90, 111,
                                        TAIL)
        out.send(1, 2, False, b"\x78\x02")
        assert rx.unprotect(receiver.recv(2048)).endswith(TAIL + b"\x78\x02")
    finally:
        sender.close()
        receiver.close()


def test_srtp_protect_type_change_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hooks, "SRTP_PROTECT_TYPE",
                        "int(*)(struct srtp_ctx_t_ *, uint8_t *, size_t, uint8_t *, size_t *)")
    with pytest.raises(AiortcHookError, match="srtp_protect"):
        check_aiortc_hooks()


def test_a_closed_sockets_reused_descriptor_never_gets_a_packet(sockets) -> None:
    """The sender holds the socket object: once it is closed, its old descriptor, now
    another socket's (connected elsewhere), is never written to, whether the packet is sent
    alone or by fan_out()."""
    from ptt.media._rtpout import Retimer, fan_out

    sender, receiver = sockets
    tx, _ = sessions()
    out = native(sender, receiver, tx)
    out.connect_socket()  # send(2) on the descriptor, no address: the worst case
    bystander = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    bystander.bind(("127.0.0.1", 0))
    bystander.settimeout(2)
    old = sender.fileno()
    sender.close()
    reuser = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        if reuser.fileno() != old:
            pytest.skip("the kernel gave the new socket another descriptor")
        reuser.connect(bystander.getsockname())
        with pytest.raises(OSError):
            out.send(1, 960, False, b"\x78\x01")
        dtls = type("Dtls", (), {"_state": "connected"})()
        transport = type("Transport", (), {"_closing": False})()  # as if not yet told
        pair = object()
        out.guard(dtls, "connected", {1: pair}, pair, transport, tx)
        downlink = type("Downlink", (), {"native": out, "retimer": Retimer()})()
        delivered, _, pending, _ = fan_out([downlink], "a", 2, 1920, False, 960, 0.0,
                                           b"\x78\x02", 0, None)
        assert (delivered, pending) == (0, [downlink])
        reuser.send(b"mine")  # what the bystander reads first is the reuser's own datagram
        assert bystander.recv(2048) == b"mine"
    finally:
        reuser.close()
        bystander.close()

