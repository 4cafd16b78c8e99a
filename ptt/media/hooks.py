"""The start-up checks of every private part of aiortc, aioice and pylibsrtp the media layer
relies on (``tap``, ``fast_sender``, ``native``, ``timers``, ``downlink``, ``ports``).

An upgrade of one of those libraries may move or change what those modules hook; the relay
would then lose audio silently. :func:`check_aiortc_hooks` runs before ``siaga serve``
listens (``ptt.media.preflight``), when a ``VoiceRelay`` is made, and in the tests, and
raises :class:`AiortcHookError` naming the part that changed.

Each check exercises the hook on real objects of the installed libraries, as the media
layer uses it, and watches the effect (no object is connected, and the only sockets are
the port-range check's, on the loopback interface; a few milliseconds in all); names found
in a library's source prove nothing about what it does:

* **receive tap**: a packet handed to ``RTCDtlsTransport._handle_rtp_data`` reaches the
  tapped receiver; aiortc's decoder worker ends on the exit sign ``ReceiverTap`` gives its
  queue;
* **direct RTP**: aioice's ``StunProtocol.datagram_received`` hands a datagram that is not
  STUN to ``Connection.data_received``; an SRTP packet given to the replacement reaches the
  tap, and aiortc's transport statistics count it;
* **consent answers**: a client's Binding request is answered with the same bytes, and
  handed to the same ``check_incoming``, by ``ptt.media.tap`` as by aioice;
* **fast sender**: the counters it keeps are what aiortc's RTCP loop puts in its sender
  report and its transport statistics report, read through the synced subclasses; the
  negotiated ``_codecs`` and ``_headerExtensions`` are where ``createOffer`` resets them;
  the ICE transport's aioice connection holds its nominated pairs in ``_nominated``;
* **SRTP**: a packet protected in pylibsrtp's own buffer by ``srtp_protect`` is one the
  receiving session unprotects; ``srtp_protect`` has the C type the extension calls;
* **timers**: aiortc's RTCP loops and aioice's consent loop take their waits from the
  stand-ins of ``ptt.media.timers``;
* **ICE port range**: aioice's ``gather_candidates`` calls the connection's
  ``get_component_candidates`` that ``ptt.media.ports`` shadows; the host candidate it
  gathers has a port of the range, aioice answers a STUN Binding request sent to it, and
  closing the connection frees the port.

The tests (``tests/media``) run the same checks against deliberately broken libraries, and
end to end over real peer connections.
"""

from __future__ import annotations

import asyncio
import queue
import socket
import threading
from collections.abc import Callable
from typing import Any

import aioice
import aiortc
import pylibsrtp
from aioice import stun
from aioice.ice import Connection, StunProtocol
from aiortc import RTCCertificate, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.codecs import HEADER_EXTENSIONS
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcicetransport import RTCIceGatherer, RTCIceTransport
from aiortc.rtp import RtcpSrPacket, RtpPacket
from pylibsrtp import Policy, Session
from pylibsrtp._binding import ffi as srtp_ffi
from pylibsrtp._binding import lib as srtp_lib

from ptt.errors import PttError
from ptt.media.fast_sender import (
    PER_PACKET_EXTENSIONS,
    count_sent,
    join_synced_sender,
    protect_in_place,
    srtp_parts,
)
from ptt.media.native import SRTP_PROTECT_TYPE
from ptt.media.ports import PortRange, bind_connection_ports
from ptt.media.tap import ReceiverTap, answer_binding, install_direct_rtp
from ptt.media.timers import consent_waits, rtcp_waits, run_timer_loop

__all__ = ["DECODER_EXIT_TIMEOUT", "AiortcHookError", "check_aiortc_hooks"]


class AiortcHookError(PttError):
    """aiortc, aioice or pylibsrtp changed in a way that breaks a private hook."""


def check_aiortc_hooks() -> None:
    """Fail loudly, naming the part, if a private hook no longer has its effect.

    Runs the checks on an event loop of its own (in a thread when the caller's thread runs
    one already).
    """
    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(_check_all())
        except BaseException as exc:  # handed to the caller's thread
            errors.append(exc)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        run()
    else:
        thread = threading.Thread(target=run, name="aiortc-hook-checks")
        thread.start()
        thread.join()
    if errors:
        raise errors[0]


def _versions() -> str:
    return (f"aiortc {aiortc.__version__}, aioice {aioice.__version__}, "
            f"pylibsrtp {pylibsrtp.__version__}")


def _fail(what: str) -> AiortcHookError:
    return AiortcHookError(f"{_versions()}: {what}")


async def _check_all() -> None:
    _check_srtp_type()
    _check_srtp_in_place()
    dtls = RTCDtlsTransport(RTCIceTransport(RTCIceGatherer()),
                            [RTCCertificate.generateCertificate()])
    await _check_receive_tap(dtls)
    _check_decoder_exit(dtls)
    _check_direct_rtp(dtls)
    _check_stun_demux()
    _check_binding_answer()
    await _check_sender_counters(dtls)
    _check_send_objects(dtls)
    _check_timers(dtls)
    await _check_ice_ports()


# -- receive -------------------------------------------------------------------------------

#: Seconds aiortc's decoder worker is given to end on its exit sign (it takes microseconds).
DECODER_EXIT_TIMEOUT = 2.0
_SSRC = 0x5149A6A
_PAYLOAD = b"\xfc\x01\x02\x03"


def _packet(sequence: int = 1) -> RtpPacket:
    return RtpPacket(payload_type=111, sequence_number=sequence, timestamp=960 * sequence,
                     ssrc=_SSRC, payload=_PAYLOAD)


def _tapped(dtls: RTCDtlsTransport) -> tuple[RTCRtpReceiver, ReceiverTap, list[RtpPacket]]:
    receiver = RTCRtpReceiver("audio", dtls)
    seen: list[RtpPacket] = []
    tap = ReceiverTap(receiver, 111, seen.append)
    dtls._rtp_router.register_receiver(receiver, ssrcs=[_SSRC], payload_types=[111])
    return receiver, tap, seen


async def _check_receive_tap(dtls: RTCDtlsTransport) -> None:
    """aiortc routes a parsed packet to ``receiver._handle_rtp_packet``, which the tap
    shadows."""
    receiver, _, seen = _tapped(dtls)
    try:
        await dtls._handle_rtp_data(_packet().serialize(), arrival_time_ms=0)
    except TypeError as exc:
        raise _fail(f"RTCDtlsTransport._handle_rtp_data calls the receiver's "
                    f"_handle_rtp_packet differently ({exc}); ReceiverTap cannot tap it") from exc
    finally:
        dtls._rtp_router.unregister_receiver(receiver)
    if [p.payload for p in seen] != [_PAYLOAD]:
        raise _fail("RTCDtlsTransport._handle_rtp_data no longer hands packets to "
                    "receiver._handle_rtp_packet; the receive tap would never see a packet")


def _check_decoder_exit(dtls: RTCDtlsTransport) -> None:
    """The exit sign ``ReceiverTap`` puts on the decoder queue ends aiortc's decoder
    worker (the same function, in a thread of its own here)."""
    from aiortc import rtcrtpreceiver

    receiver = RTCRtpReceiver("audio", dtls)
    inbox = getattr(receiver, "_RTCRtpReceiver__decoder_queue", None)
    worker = getattr(rtcrtpreceiver, "decoder_worker", None)
    if not isinstance(inbox, queue.Queue) or worker is None:
        raise _fail("RTCRtpReceiver.__decoder_queue or rtcrtpreceiver.decoder_worker is gone; "
                    "ReceiverTap cannot end the decoder thread")
    inbox.put(None)
    ended: asyncio.Queue[Any] = asyncio.Queue()
    thread = threading.Thread(
        target=worker, args=(asyncio.get_running_loop(), inbox, ended, threading.Event()),
        daemon=True)
    thread.start()
    thread.join(DECODER_EXIT_TIMEOUT)
    if thread.is_alive():
        raise _fail("aiortc's decoder worker no longer ends on None; ReceiverTap would leave "
                    "one decoder thread running per peer")


def _check_direct_rtp(dtls: RTCDtlsTransport) -> None:
    """An SRTP packet given to the connection's replaced ``data_received`` reaches the tap
    and counts in aiortc's transport statistics."""
    key = bytes(range(30))
    tx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
    dtls._rx_srtp = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND))
    receiver, tap, seen = _tapped(dtls)
    connection = dtls.transport._connection
    handshake = b"\x16\xfe\xfd" + bytes(10)  # DTLS: aiortc's, through aioice's queue
    try:
        install_direct_rtp(dtls)
        connection.data_received(tx.protect(_packet(2).serialize()), 1)
        connection.data_received(handshake, 1)
        queued = connection._queue.get_nowait()
    except (TypeError, AttributeError, asyncio.QueueEmpty) as exc:
        raise _fail(f"aioice Connection.data_received(data, component) no longer queues what "
                    f"the direct receive path passes on ({exc!r})") from exc
    finally:
        dtls._rtp_router.unregister_receiver(receiver)
        dtls._rx_srtp = None  # type: ignore[assignment]
    if queued != (handshake, 1):
        raise _fail("aioice Connection.data_received no longer queues (data, component) for "
                    "aiortc; the direct receive path cannot pass DTLS on")
    if tap.direct != 1 or [p.payload for p in seen] != [_PAYLOAD]:
        raise _fail("an SRTP packet given to the direct receive path did not reach the tap; "
                    "RTCDtlsTransport's _rx_srtp, _rtp_header_extensions_map or _rtp_router "
                    "changed")
    stats = next(iter(dtls._get_stats().values()))
    if getattr(stats, "packetsReceived", None) != 1:
        raise _fail("RTCDtlsTransport's statistics no longer count __rx_packets, which the "
                    "direct receive path updates")


class _Sent:
    """A datagram transport that keeps what is sent."""

    def __init__(self) -> None:
        self.datagrams: list[tuple[bytes, Any]] = []

    def sendto(self, data: bytes, addr: Any) -> None:
        self.datagrams.append((data, addr))


def _protocol(connection: Any) -> Any:
    protocol = StunProtocol(connection)
    protocol.transport = _Sent()  # type: ignore[assignment]
    protocol.local_candidate = type("Candidate", (), {"component": 1})()
    return protocol


def _check_stun_demux() -> None:
    """aioice hands a datagram that is not STUN to the connection's ``data_received``,
    where the direct path and the media-first shortcut put RTP."""
    handed: list[tuple[bytes, int]] = []
    receiver = type("Receiver", (), {"data_received": lambda _, d, c: handed.append((d, c))})()
    try:
        StunProtocol.datagram_received(_protocol(receiver), b"\x80" + bytes(11),
                                       ("192.0.2.1", 9))
    except Exception as exc:
        raise _fail(f"aioice StunProtocol.datagram_received fails on media ({exc!r})") from exc
    if handed != [(b"\x80" + bytes(11), 1)]:
        raise _fail("aioice StunProtocol.datagram_received no longer hands media to "
                    "receiver.data_received(data, component); the direct receive path "
                    "cannot take its place")


def _check_binding_answer() -> None:
    """A client's consent check is answered with aioice's bytes and handed to the same
    ``check_incoming``, by ``ptt.media.tap`` as by aioice's ``request_received``."""
    addr = ("192.0.2.1", 50000)
    connection = Connection(ice_controlling=False)
    connection.remote_username = "client"
    connection._early_checks_done = True
    incoming: list[Any] = []
    connection.check_incoming = lambda message, addr, protocol: incoming.append(  # type: ignore[method-assign]
        (message.transaction_id, message.attributes.get("USERNAME"), addr))
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    request.attributes["USERNAME"] = f"{connection.local_username}:client"
    request.attributes["PRIORITY"] = 1853817087
    request.attributes["ICE-CONTROLLING"] = 1
    request.add_message_integrity(connection.local_password.encode("utf8"))
    request.add_fingerprint()
    data = bytes(request)
    theirs, ours = _protocol(connection), _protocol(connection)
    try:
        connection.request_received(stun.parse_message(data), addr, theirs)
        answered = answer_binding(connection, ours, data, addr)
    except Exception as exc:
        raise _fail(f"aioice's Connection.request_received or StunProtocol.send_stun failed "
                    f"on a consent check ({exc!r}); consent checks cannot be answered for "
                    "it") from exc
    if not answered or not theirs.transport.datagrams or incoming[:1] != incoming[1:]:
        raise _fail("aioice's Connection.request_received no longer answers a consent check "
                    "and hands it to check_incoming as ptt.media.tap does; consent checks "
                    "cannot be answered for it")
    if theirs.transport.datagrams != ours.transport.datagrams:
        raise _fail("aioice now answers a consent check with other bytes than "
                    "ptt.media.binding; consent checks cannot be answered for it")


# -- send ----------------------------------------------------------------------------------


async def _check_sender_counters(dtls: RTCDtlsTransport) -> None:
    """What the fast sender counts is what aiortc's RTCP loop reports, read through the
    synced subclass (whose sync folds in what C sent)."""
    sender = RTCRtpSender("audio", dtls)
    count_sent(sender, dtls, ntp=0x1234_5678_9ABC_DEF0, timestamp=48000, octets=90, size=131)
    synced = []
    join_synced_sender(sender, dtls, lambda: synced.append(True))
    sent: list[Any] = []

    async def send_rtcp(packets: list[Any]) -> None:
        sent.extend(packets)

    sender._send_rtcp = send_rtcp  # type: ignore[method-assign]
    run_timer_loop(RTCRtpSender._run_rtcp, sender, rounds=1)
    reports = [p for p in sent if isinstance(p, RtcpSrPacket)]
    info = reports[0].sender_info if reports else None
    if info is None or (info.ntp_timestamp, info.rtp_timestamp, info.packet_count,
                        info.octet_count) != (0x1234_5678_9ABC_DEF0, 48000, 1, 90):
        raise _fail("RTCRtpSender's sender reports no longer carry __ntp_timestamp, "
                    "__rtp_timestamp, __packet_count and __octet_count; FastRtpSender's "
                    "receivers would get wrong sender reports")
    if not synced:
        raise _fail("RTCRtpSender's RTCP loop no longer reads its counters as attributes; "
                    "what the C fan-out sends would not reach the sender reports")
    stats = next(iter(dtls._get_stats().values()))
    if (getattr(stats, "packetsSent", None), getattr(stats, "bytesSent", None)) != (1, 131):
        raise _fail("RTCDtlsTransport's statistics no longer report __tx_packets and "
                    "__tx_bytes, which the fast sender keeps")


def _check_send_objects(dtls: RTCDtlsTransport) -> None:
    connection = getattr(dtls.transport, "_connection", None)
    if not isinstance(connection, Connection) or not isinstance(
            getattr(connection, "_nominated", None), dict):
        raise _fail("RTCIceTransport._connection (aioice's Connection) or its _nominated "
                    "pairs are gone; FastRtpSender cannot find the ICE pair")
    if not hasattr(DtlsState, "CONNECTED"):
        raise _fail("rtcdtlstransport.State.CONNECTED is gone")
    transceiver = RTCRtpTransceiver("audio", RTCRtpReceiver("audio", dtls),
                                    RTCRtpSender("audio", dtls))
    if not (isinstance(getattr(transceiver, "_codecs", None), list)
            and isinstance(getattr(transceiver, "_headerExtensions", None), list)):
        raise _fail("RTCRtpTransceiver._codecs or _headerExtensions is gone; "
                    "create_renegotiation_offer cannot keep the negotiated numbering")
    per_packet = {e.uri for e in HEADER_EXTENSIONS.get("audio", [])} & PER_PACKET_EXTENSIONS
    if per_packet:
        raise _fail(f"audio now offers per-packet header extensions {sorted(per_packet)}; "
                    "FastRtpSender cannot send them")


def _check_srtp_in_place() -> None:
    """A packet protected in pylibsrtp's own buffer, as the fast sender does, unprotects."""
    packet = _packet(3).serialize()
    key = bytes(range(30))
    tx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
    rx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND))
    try:
        context, cdata, buffer = srtp_parts(tx)
        plain = rx.unprotect(protect_in_place(context, cdata, buffer, srtp_ffi.new("int *"),
                                              packet))
    except (AttributeError, TypeError, pylibsrtp.Error) as exc:
        raise _fail(f"pylibsrtp's Session no longer protects in its own buffer ({exc!r}); "
                    "FastRtpSender cannot protect in place") from exc
    if plain != packet:
        raise _fail("a packet protected in pylibsrtp's buffer does not unprotect to itself")


def _check_srtp_type() -> None:
    """The C extension calls srtp_protect through its address: it must be libsrtp 2's."""
    found = srtp_ffi.typeof(srtp_ffi.addressof(srtp_lib, "srtp_protect")).cname
    if found != SRTP_PROTECT_TYPE or srtp_ffi.sizeof("srtp_err_status_t") != 4:
        raise _fail(f"srtp_protect is now `{found}`, expected `{SRTP_PROTECT_TYPE}` returning "
                    "a 4-byte status; ptt/media/_rtpout.c cannot call it")


# -- timers --------------------------------------------------------------------------------


def _check_timers(dtls: RTCDtlsTransport) -> None:
    """aiortc's RTCP loops and aioice's consent loop wait as long as the stand-ins of
    ``ptt.media.timers`` say (0.5-1.5 and 0.8-1.2 times their interval)."""
    from aioice.ice import CONSENT_INTERVAL

    sender, receiver = RTCRtpSender("audio", dtls), RTCRtpReceiver("audio", dtls)
    checks: list[tuple[str, str, Callable[[], list[float]], float, float]] = [
        ("RTCRtpSender._run_rtcp", "relax_rtcp", lambda: rtcp_waits(sender, 5.0), 2.5, 7.5),
        ("RTCRtpReceiver._run_rtcp", "relax_rtcp", lambda: rtcp_waits(receiver, 5.0), 2.5,
         7.5),
        ("aioice Connection.query_consent", "align_consent_checks", consent_waits,
         CONSENT_INTERVAL * 0.8, CONSENT_INTERVAL * 1.2),
    ]
    for name, user, run, low, high in checks:
        try:
            waits = run()
        except Exception as exc:
            raise _fail(f"{name} no longer runs with the stand-ins of ptt.media.timers "
                        f"({exc!r}); {user} cannot set its waits") from exc
        if not waits or not all(low - 1e-9 <= wait <= high + 1e-9 for wait in waits):
            raise _fail(f"{name} no longer takes its waits from its module's random and "
                        f"asyncio.sleep (waits {waits[:3]}, expected {low}-{high} s); {user} "
                        "cannot set its waits")



# -- ICE port range ------------------------------------------------------------------------

#: Seconds the port-range check waits for aioice's answer on the loopback interface.
PORT_CHECK_TIMEOUT = 2.0


def _free_range(width: int = 32) -> PortRange:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        low = min(probe.getsockname()[1], 65535 - width)
    return PortRange(low, low + width)


async def _check_ice_ports() -> None:
    """A connection with ``bind_ice_ports`` gathers through it, binds in the range, answers
    a Binding request there, and frees the port when it closes."""
    ports = _free_range()
    connection = Connection(ice_controlling=False, use_ipv4=False, use_ipv6=False)
    bind_connection_ports(connection, ports)
    shadow = connection.get_component_candidates
    called: list[int] = []

    async def record(component: int, addresses: list[str], timeout: int = 5) -> list[Any]:
        called.append(component)
        return await shadow(component=component, addresses=addresses, timeout=timeout)

    connection.get_component_candidates = record  # type: ignore[method-assign]
    try:
        await connection.gather_candidates()
        if called != [1]:
            raise _fail("aioice's Connection.gather_candidates no longer calls the instance's "
                        "get_component_candidates; ptt.media.ports cannot bind ICE in the "
                        "configured port range")
        try:
            candidates = await record(1, ["127.0.0.1"])
        except TypeError as exc:
            raise _fail(f"aioice's StunProtocol or Candidate changed ({exc!r}); "
                        "ptt.media.ports cannot make host candidates") from exc
        port = candidates[0].port if candidates else 0
        if not ports.low <= port <= ports.high:
            raise _fail(f"ptt.media.ports gathered {candidates!r}, not a host candidate in "
                        f"{ports.low}-{ports.high}")
        if not await _answered(connection, port):
            raise _fail("aioice did not answer a Binding request on the socket "
                        "ptt.media.ports added to Connection._protocols")
    finally:
        await connection.close()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
        try:
            again.bind(("127.0.0.1", port))
        except OSError as exc:
            raise _fail("closing aioice's Connection no longer closes the sockets in its "
                        "_protocols; ptt.media.ports would leak one per peer") from exc


async def _answered(connection: Connection, port: int) -> bool:
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    request.attributes["USERNAME"] = f"{connection.local_username}:check"
    request.attributes["ICE-CONTROLLING"] = 1
    request.add_message_integrity(connection.local_password.encode("utf8"))
    request.add_fingerprint()
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[bytes] = loop.create_future()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            if not answer.done():
                answer.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(
        Client, local_addr=("127.0.0.1", 0), remote_addr=("127.0.0.1", port))
    try:
        transport.sendto(bytes(request))
        data = await asyncio.wait_for(answer, PORT_CHECK_TIMEOUT)
    except TimeoutError:
        return False
    finally:
        transport.close()
    response = stun.parse_message(data)
    return (response.transaction_id == request.transaction_id
            and response.message_class == stun.Class.RESPONSE)
