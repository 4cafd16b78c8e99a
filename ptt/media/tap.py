"""The receive side: each uplink's RTP goes from aioice's socket callback to a tap.

aiortc has no public API to receive *encoded* media. Its stock path is a jitter buffer (a
constant 80 ms for audio, and a burst's last 4 frames stuck until the next packet), a decoder
thread per receiver and an unbounded queue. A relay that forwards Opus without re-encoding
wants none of that, so this module relies on these private parts:

* aiortc ``RTCRtpReceiver._handle_rtp_packet(packet, arrival_time_ms)``, shadowed by an
  instance attribute (:class:`ReceiverTap`): the receiver's packets reach the tap instead
  of the jitter buffer. Packets whose payload type is not the negotiated Opus one are
  counted and dropped. Lost for this stream: receiver-report statistics.
* aiortc ``RTCRtpReceiver.__decoder_queue``: the decoder thread aiortc starts anyway is
  given its exit sign at once instead of idling, one per peer.
* aiortc ``RTCDtlsTransport._rx_srtp``, ``_rtp_header_extensions_map``, ``_rtp_router`` and
  its ``__rx_bytes``/``__rx_packets`` counters, and aioice ``Connection.data_received``
  (:func:`install_direct_rtp`): RTP is unprotected, parsed and routed synchronously as the
  datagram arrives, without aioice's queue and aiortc's transport task (several hundred
  microseconds per packet at 50 packets a second per talker).
* aioice ``Connection._protocols`` and ``StunProtocol.datagram_received``
  (:func:`datagram_shortcuts`): RTP and RTCP are recognised by their first byte (RFC 7983)
  instead of a failed STUN parse, and a client's ICE consent check is answered with the
  bytes aioice would send (``ptt.media.binding``), reading aioice's ``_closing``,
  ``_early_checks_done``, ``_valid_username``, ``local_password`` and calling its
  ``check_incoming``, as its ``request_received`` does.

``ptt.media.hooks`` exercises each of these against the installed libraries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pylibsrtp
from aioice import stun
from aiortc import RTCRtpReceiver, clock
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtp import RtpPacket, is_rtcp

from ptt.media.binding import parse_request as parse_binding_request
from ptt.media.binding import success_response as binding_success

__all__ = [
    "ReceiverTap", "answer_binding", "datagram_shortcuts", "install_direct_rtp",
    "opus_payload_types",
]

logger = logging.getLogger(__name__)

PacketCallback = Callable[[RtpPacket], None]

def opus_payload_types(sdp_text: str) -> dict[str, int]:
    """Map each audio m-line's mid to its Opus payload type, from an SDP (offer or answer).

    aiortc offers Opus as 96, browsers usually 111: the tap must use what was negotiated.
    Raises ``ValueError`` if the SDP does not parse.
    """
    from aiortc import sdp

    description = sdp.SessionDescription.parse(sdp_text)
    result: dict[str, int] = {}
    for media in description.media:
        if media.kind != "audio" or media.rtp.muxId is None:
            continue
        for codec in media.rtp.codecs:
            if codec.mimeType.lower() == "audio/opus" and codec.payloadType is not None:
                result[media.rtp.muxId] = codec.payloadType
                break
    return result


class ReceiverTap:
    """Delivers a receiver's RTP packets of one payload type to ``on_packet``, synchronously.

    ``on_packet`` runs inside aiortc's datagram handling: it must be quick and must not raise
    (an exception would reach aiortc's transport loop; it is logged and swallowed here).
    """

    def __init__(
        self, receiver: RTCRtpReceiver, payload_type: int, on_packet: PacketCallback, *,
        direct: bool = True, shortcuts: bool = True,
    ) -> None:
        self.receiver = receiver
        self.payload_type = payload_type
        self.on_packet = on_packet
        #: Packets handed to ``on_packet``.
        self.received = 0
        #: Packets dropped because their payload type was not the negotiated Opus one.
        self.dropped_payload_type = 0
        # The hook: an instance attribute shadows RTCRtpReceiver._handle_rtp_packet.
        receiver._handle_rtp_packet = self._handle_rtp_packet  # type: ignore[method-assign]
        receiver._siaga_tap = self  # type: ignore[attr-defined]  # for the direct path
        #: Of ``received``, those that came the direct way (:func:`install_direct_rtp`).
        self.direct = 0
        original_receive = receiver.receive

        async def receive(parameters: Any) -> None:
            await original_receive(parameters)
            # Nothing will reach the decoder thread aiortc has just started: end it now
            # (its exit sign, as aiortc's own stop gives it) instead of keeping one idle
            # thread per peer. aiortc's stop later finds it ended.
            receiver._RTCRtpReceiver__decoder_queue.put(None)  # type: ignore[attr-defined]
            # aiortc starts a receiver once DTLS is up (the relay installs it earlier).
            if direct:
                install_direct_rtp(receiver.transport, shortcuts=shortcuts)

        receiver.receive = receive  # type: ignore[method-assign]

    async def _handle_rtp_packet(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        self.deliver(packet)

    def deliver(self, packet: RtpPacket) -> None:
        """One packet for this receiver (called synchronously by the direct path)."""
        if packet.payload_type != self.payload_type or not packet.payload:
            self.dropped_payload_type += 1
            return
        self.received += 1
        try:
            self.on_packet(packet)
        except Exception:  # never let a bug here kill aiortc's receive loop
            logger.exception("RTP tap callback failed")


def install_direct_rtp(dtls: RTCDtlsTransport, *, shortcuts: bool = True) -> None:
    """Hand this transport's SRTP packets to their taps without aiortc's queue and task.

    :class:`ReceiverTap` installs it when aiortc starts the receiver; the relay installs it
    as soon as it has a peer's transport, so that the port is guarded from empty datagrams
    (below) during ICE and DTLS too. Idempotent.

    aioice queues every datagram that is not STUN (``Connection.data_received``) for
    aiortc's DTLS transport task, which unprotects, parses and routes it: at 50 packets per
    second per talker that queue, task switch and coroutine chain cost several hundred
    microseconds per packet. The replacement (an instance attribute of the aioice
    connection) does the same for RTP synchronously, as the datagram arrives: counts it,
    unprotects it with the transport's receive session, parses it with the negotiated
    extensions, routes it with aiortc's router, and hands it to the receiver's tap (a
    receiver without a tap gets it through its own handler, as a task). DTLS and RTCP
    datagrams, and everything before the keys exist, still take aiortc's path.

    It also takes :func:`datagram_shortcuts` on the connection's sockets, those gathered
    since the last call included (unless ``shortcuts`` is False: benchmarks only).

    An empty datagram is dropped here: aiortc's transport task would fail on it and close
    the peer's DTLS transport, so anyone who can reach the port could hang up a call with
    one empty UDP packet.
    """
    connection = dtls.transport._connection
    if shortcuts:
        datagram_shortcuts(connection)
    if "data_received" in vars(connection):
        return  # BUNDLE: one transport, one connection for all the peer's receivers
    queued = connection.data_received
    transport: Any = dtls

    def data_received(data: bytes, component: int) -> None:
        if not data:
            return
        first = data[0]
        srtp = transport._rx_srtp
        if not (127 < first < 192) or srtp is None or is_rtcp(data):
            queued(data, component)
            return
        transport._RTCDtlsTransport__rx_bytes += len(data)
        transport._RTCDtlsTransport__rx_packets += 1
        try:
            packet = RtpPacket.parse(srtp.unprotect(data), transport._rtp_header_extensions_map)
        except (pylibsrtp.Error, ValueError):
            return  # as aiortc: a packet that does not decrypt or parse is dropped
        receiver = transport._rtp_router.route_rtp(packet)
        if receiver is None:
            return
        tap = vars(receiver).get("_siaga_tap")
        if tap is not None:
            tap.direct += 1
            tap.deliver(packet)
        else:
            asyncio.ensure_future(
                receiver._handle_rtp_packet(packet, arrival_time_ms=clock.current_ms()))

    connection.data_received = data_received  # type: ignore[method-assign]


def datagram_shortcuts(connection: Any) -> None:
    """Two shortcuts through aioice's ``StunProtocol.datagram_received``, on every socket the
    connection has so far (ICE gathers when the local description is set; this runs again
    then). Idempotent.

    * **Media first** (RFC 7983): aioice parses every datagram as a STUN message and takes
      the ``ValueError`` as the sign of media: for each voice packet a header unpacked and an
      exception raised and caught. RFC 7983 demultiplexes by the first byte instead: 128-191
      is RTP or RTCP, never STUN (whose first two bits are zero). Those datagrams go straight
      to ``connection.data_received``, where aioice would have sent them after the failed
      parse.
    * **Consent checks** (:func:`answer_binding`): a Binding request that
      ``ptt.media.binding`` reads exactly as aioice would, from a client whose checks aioice
      would answer and then take no further action on, is answered here, with the bytes
      aioice would have sent, followed by aioice's own ``check_incoming``.

    Every other datagram (other STUN, DTLS, anything else) goes through aioice's handler.
    """
    for protocol in connection._protocols:
        if "datagram_received" in vars(protocol):
            continue
        stun_first = protocol.datagram_received
        component = protocol.local_candidate.component

        def datagram_received(data: bytes, addr: tuple[Any, ...], *,
                              _stun_first: Callable[..., None] = stun_first,
                              _component: int = component, _protocol: Any = protocol) -> None:
            if data and 127 < data[0] < 192:
                connection.data_received(data, _component)
            elif not (data[:2] == b"\x00\x01"
                      and answer_binding(connection, _protocol, data, addr)):
                _stun_first(data, addr)

        protocol.datagram_received = datagram_received


def answer_binding(connection: Any, protocol: Any, data: bytes, addr: tuple[Any, ...]) -> bool:
    """Answer the Binding request in ``data`` as aioice's ``request_received`` would, when
    that takes no more than the success response and ``check_incoming``; False (nothing
    done) for anything else: closing, early checks pending, IPv6, not read by
    ``ptt.media.binding``, a role conflict, a wrong username or integrity (aioice answers
    those with its errors)."""
    host, port = addr[0], addr[1]
    if connection._closing or not connection._early_checks_done or ":" in host:
        return False
    request = parse_binding_request(data)
    if request is None or request.role_conflict(connection.ice_controlling):
        return False
    if not connection._valid_username(request.username):
        return False
    key = connection.local_password.encode("utf8")
    if not request.integrity_holds(key):
        return False
    protocol.transport.sendto(binding_success(request.transaction_id, (host, port), key),
                              (host, port))
    connection._siaga_bindings_answered = getattr(connection, "_siaga_bindings_answered", 0) + 1
    message = stun.Message(message_method=stun.Method.BINDING,
                           message_class=stun.Class.REQUEST,
                           transaction_id=request.transaction_id,
                           attributes=request.attributes())
    connection.check_incoming(message, (host, port), protocol)
    return True

