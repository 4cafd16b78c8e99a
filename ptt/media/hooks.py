"""DOCHOOKS
"""

from __future__ import annotations

import inspect
import re

import pylibsrtp
from aioice.ice import StunProtocol
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtp import RtpPacket
from pylibsrtp._binding import ffi as srtp_ffi
from pylibsrtp._binding import lib as srtp_lib

from ptt.errors import PttError
from ptt.media.fast_sender import PER_PACKET_EXTENSIONS, SR_FIELDS
from ptt.media.native import SRTP_PROTECT_TYPE
from ptt.media.timers import CONSENT_SLEEP, RTCP_SLEEP

__all__ = ["AiortcHookError", "check_aiortc_hooks"]


class AiortcHookError(PttError):
    """aiortc changed in a way that breaks the private receive hook."""


def check_aiortc_hooks() -> None:
    """Fail loudly, naming the attribute, if the aiortc internals used here have changed."""
    import aiortc

    handler = getattr(RTCRtpReceiver, "_handle_rtp_packet", None)
    if handler is None or not inspect.iscoroutinefunction(handler):
        raise AiortcHookError(
            f"aiortc {aiortc.__version__}: RTCRtpReceiver._handle_rtp_packet is missing or no "
            "longer a coroutine function; ptt/media/hooks.py cannot tap received RTP"
        )
    params = list(inspect.signature(handler).parameters)
    if params[:3] != ["self", "packet", "arrival_time_ms"]:
        raise AiortcHookError(
            f"aiortc {aiortc.__version__}: RTCRtpReceiver._handle_rtp_packet signature is now "
            f"{params}, expected (self, packet, arrival_time_ms)"
        )
    dispatch = getattr(RTCDtlsTransport, "_handle_rtp_data", None)
    source = inspect.getsource(dispatch) if dispatch is not None else ""
    if "._handle_rtp_packet(" not in source:
        raise AiortcHookError(
            f"aiortc {aiortc.__version__}: RTCDtlsTransport._handle_rtp_data no longer calls "
            "receiver._handle_rtp_packet(); the receive tap would never see a packet"
        )
    receive = inspect.getsource(RTCRtpReceiver.receive)
    if "self.__decoder_queue" not in receive or "self.__decoder_thread.start()" not in receive:
        raise AiortcHookError(
            f"aiortc {aiortc.__version__}: RTCRtpReceiver.receive no longer starts a decoder "
            "thread fed by self.__decoder_queue; ReceiverTap cannot end it"
        )
    sample = RtpPacket()
    for name in ("payload_type", "sequence_number", "timestamp", "marker", "payload"):
        if not hasattr(sample, name):
            raise AiortcHookError(f"aiortc {aiortc.__version__}: RtpPacket.{name} is gone")
    _check_send_hooks(aiortc.__version__)
    _check_offer_hooks(aiortc.__version__)
    _check_srtp_hooks()
    _check_receive_hooks(aiortc.__version__)
    _check_timer_hooks(aiortc.__version__)


def _check_timer_hooks(version: str) -> None:
    """What :func:`relax_rtcp` and :func:`align_consent_checks` rely on."""
    import aioice
    from aioice import ice

    consent = inspect.getsource(ice.Connection.query_consent)
    if CONSENT_SLEEP not in consent or "self.query_consent()" not in inspect.getsource(
        ice.Connection.connect
    ):
        raise AiortcHookError(
            f"aioice {aioice.__version__}: Connection.query_consent no longer waits "
            f"`{CONSENT_SLEEP}` or is no longer started by connect(); "
            "align_consent_checks cannot put the checks on the timer grid"
        )
    for cls in (RTCRtpSender, RTCRtpReceiver):
        if RTCP_SLEEP not in inspect.getsource(cls._run_rtcp):
            raise AiortcHookError(
                f"aiortc {version}: {cls.__name__}._run_rtcp no longer waits "
                f"`{RTCP_SLEEP}` between reports; relax_rtcp cannot set the interval"
            )


def _check_offer_hooks(version: str) -> None:
    """What :func:`create_renegotiation_offer` relies on."""
    from aiortc import RTCRtpTransceiver

    init = inspect.getsource(RTCRtpTransceiver.__init__)
    offer = inspect.getsource(RTCPeerConnection.createOffer)
    for name in ("_codecs", "_headerExtensions"):
        if f"self.{name}" not in init or f"transceiver.{name} =" not in offer:
            raise AiortcHookError(
                f"aiortc {version}: RTCRtpTransceiver.{name} is no longer what createOffer "
                "resets; create_renegotiation_offer cannot keep the negotiated numbering"
            )




def _check_send_hooks(version: str) -> None:
    """The internals :class:`FastRtpSender` relies on (see the module docstring)."""

    def fail(what: str) -> AiortcHookError:
        return AiortcHookError(f"aiortc {version}: {what}; FastRtpSender cannot bypass the sender")

    send = getattr(RTCRtpSender, "send", None)
    if send is None or list(inspect.signature(send).parameters)[:2] != ["self", "parameters"]:
        raise fail("RTCRtpSender.send(self, parameters) changed")
    if ".sender.send(" not in inspect.getsource(RTCPeerConnection):
        raise fail("RTCPeerConnection no longer starts senders with sender.send(parameters)")
    send_rtp = getattr(RTCDtlsTransport, "_send_rtp", None)
    source = inspect.getsource(send_rtp) if send_rtp is not None else ""
    if "self._tx_srtp.protect(" not in source or "self.transport._send(" not in source:
        raise fail("RTCDtlsTransport._send_rtp no longer protects with _tx_srtp and sends")
    init = inspect.getsource(RTCDtlsTransport.__init__)
    for name in ("self._tx_srtp", "self._state", "self._transport", "self.__tx_bytes",
                 "self.__tx_packets"):
        if name not in init:
            raise fail(f"RTCDtlsTransport.__init__ no longer sets {name}")
    if not hasattr(DtlsState, "CONNECTED"):
        raise fail("rtcdtlstransport.State.CONNECTED is gone")
    rtcp = inspect.getsource(RTCRtpSender._run_rtcp)
    sender_init = inspect.getsource(RTCRtpSender.__init__)
    for name in SR_FIELDS:
        if f"self.__{name}" not in rtcp or f"self.__{name} = 0" not in sender_init:
            raise fail(f"RTCRtpSender's sender reports no longer use self.__{name}")
    from asyncio.selector_events import _SelectorTransport  # type: ignore[attr-defined]

    if inspect.getsource(_SelectorTransport.is_closing).split()[-2:] != ["return",
                                                                        "self._closing"]:
        raise fail("asyncio's transport.is_closing() no longer returns self._closing, which "
                   "ptt/media/_rtpout.c reads")
    from aiortc.codecs import HEADER_EXTENSIONS
    from aiortc.rtcicetransport import RTCIceTransport

    if "self._connection" not in inspect.getsource(RTCIceTransport):
        raise fail("RTCIceTransport._connection (the aioice Connection) is gone")
    per_packet = {e.uri for e in HEADER_EXTENSIONS.get("audio", [])} & PER_PACKET_EXTENSIONS
    if per_packet:
        raise fail(f"audio now offers per-packet header extensions {sorted(per_packet)}")
    from aioice.ice import CandidatePair, Connection

    if "self._nominated" not in inspect.getsource(Connection.__init__):
        raise fail("aioice Connection._nominated (the selected pairs) is gone")
    # watch_guard: every change to what a C guard reads must be seen.
    if len(re.findall(r"self\._nominated\s*(?::|=(?!=))", inspect.getsource(Connection))) != 1:
        raise fail("aioice Connection now replaces _nominated after __init__; the C guards "
                   "would not see its changes")
    if (len(re.findall(r"self\._state\s*=(?!=)", inspect.getsource(RTCDtlsTransport))) != 2
            or 'self.emit("statechange")' not in inspect.getsource(RTCDtlsTransport._set_state)):
        raise fail("RTCDtlsTransport's state now changes outside _set_state (which emits "
                   "statechange); the C guards would not see it")
    lost = inspect.getsource(_SelectorTransport._call_connection_lost)
    if not 0 <= lost.find("self._protocol.connection_lost(") < lost.find("self._sock.close()"):
        raise fail("asyncio no longer calls connection_lost before closing a transport's "
                   "socket; the C guards could send on a reused descriptor")
    for name in ("protocol", "remote_addr"):
        if name not in inspect.getsource(CandidatePair):
            raise fail(f"aioice CandidatePair.{name} is gone")
    if "self.transport.sendto(" not in inspect.getsource(StunProtocol.send_data):
        raise fail("aioice StunProtocol.send_data no longer calls transport.sendto")



def _check_receive_hooks(version: str) -> None:
    """What :func:`install_direct_rtp` relies on."""
    from aioice.ice import Connection

    def fail(what: str) -> AiortcHookError:
        return AiortcHookError(f"{what}; the direct RTP receive path cannot replace it")

    if list(inspect.signature(Connection.data_received).parameters) != [
        "self", "data", "component"
    ]:
        raise fail("aioice Connection.data_received(self, data, component) changed")
    datagram_received = inspect.getsource(StunProtocol.datagram_received)
    for needle in ("message = stun.parse_message(data)",
                   "self.receiver.data_received(data, self.local_candidate.component)"):
        if needle not in datagram_received:
            raise fail(f"aioice StunProtocol.datagram_received lost `{needle}`")
    recv_next = inspect.getsource(RTCDtlsTransport._recv_next)
    for needle in ("self.__rx_bytes += len(data)", "self.__rx_packets += 1",
                   "self._rx_srtp.unprotect(data)", "await self._handle_rtp_data("):
        if needle not in recv_next:
            raise fail(f"aiortc {version}: RTCDtlsTransport._recv_next lost `{needle}`")
    handle = inspect.getsource(RTCDtlsTransport._handle_rtp_data)
    for needle in ("RtpPacket.parse(data, self._rtp_header_extensions_map)",
                   "self._rtp_router.route_rtp(packet)"):
        if needle not in handle:
            raise fail(f"aiortc {version}: RTCDtlsTransport._handle_rtp_data lost `{needle}`")
    # _answer_binding: what aioice's request_received does, in this order.
    received = inspect.getsource(Connection.request_received)
    steps = ("if self._closing:", "self._valid_username(message.attributes[\"USERNAME\"])",
             "message.check_message_integrity(self.local_password.encode(\"utf8\"))",
             "if self.ice_controlling and \"ICE-CONTROLLING\" in message.attributes:",
             "elif not self.ice_controlling and \"ICE-CONTROLLED\" in message.attributes:",
             "response.attributes[\"XOR-MAPPED-ADDRESS\"] = addr",
             "response.add_message_integrity(self.local_password.encode(\"utf8\"))",
             "protocol.send_stun(response, addr)", "if not self._early_checks_done:",
             "self.check_incoming(message, addr, protocol)")
    at = 0
    for step in steps:
        at = received.find(step, at)
        if at < 0:
            raise AiortcHookError(
                f"aioice Connection.request_received no longer does `{step}` in this order; "
                "consent checks cannot be answered for it")
    if "self.transport.sendto(bytes(message), addr)" not in inspect.getsource(
            StunProtocol.send_stun):
        raise AiortcHookError("aioice StunProtocol.send_stun no longer sends bytes(message); "
                              "consent checks cannot be answered for it")



def _check_srtp_hooks() -> None:
    """The pylibsrtp internals :class:`FastRtpSender` protects with."""
    source = inspect.getsource(pylibsrtp.Session)
    for name in ('self._cdata = ffi.new("char[]", 1500)', "self._buffer = ffi.buffer(",
                 "self._srtp = ffi.gc(", "func(self._srtp[0], self._cdata, len_p)"):
        if name not in source:
            raise AiortcHookError(
                f"pylibsrtp {pylibsrtp.__version__}: Session no longer has `{name}`; "
                "FastRtpSender cannot protect in place"
            )
    # The C extension calls srtp_protect through its address: the C type must be libsrtp 2's.
    found = srtp_ffi.typeof(srtp_ffi.addressof(srtp_lib, "srtp_protect")).cname
    if found != SRTP_PROTECT_TYPE or srtp_ffi.sizeof("srtp_err_status_t") != 4:
        raise AiortcHookError(
            f"pylibsrtp {pylibsrtp.__version__}: srtp_protect is now `{found}`, expected "
            f"`{SRTP_PROTECT_TYPE}` returning a 4-byte status; ptt/media/_rtpout.c cannot "
            "call it"
        )

