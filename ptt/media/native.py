"""Glue between the fast sender and the optional C extension ``ptt.media._rtpout``.

Where the extension is installed (:data:`NATIVE_SEND`), a downlink's header, SRTP protect and
send are one C call (``RtpOut``), and the relay's whole per-listener loop is another
(:func:`native_fan_out`). It relies on these private parts:

* pylibsrtp's cffi ``lib.srtp_protect``, passed to C by address together with a session's
  context: its C type is checked first (``ptt.media.hooks``), so the extension needs no
  libsrtp headers and uses the keys aiortc's DTLS transport negotiated;
* aioice ``Connection._nominated`` and ``CandidatePair.protocol``: a C sender is guarded
  (``RtpOut.guard``) by the DTLS transport being connected (its ``_state``) and the same
  pair being nominated, checked before each send;
* asyncio's datagram transport ``_closing`` (what ``is_closing()`` returns), read by C
  before it sends on the pair's socket (``ptt.media.preflight`` watches asyncio set it).

The C sender holds the pair's socket object, not its descriptor, and reads its
``fileno()`` before every send: once asyncio has closed the socket (``fileno()`` is -1),
nothing is sent, even if the kernel has given the descriptor to another socket. That check
and the send are one step only while the GIL is held, so the extension declares that it
needs the GIL and refuses to load on a free-threaded Python running without it (the
packets are then built in Python).
* the pair's socket, connected to the peer once the pair is nominated
  (:func:`connect_socket`), so that the kernel keeps the route.
"""

from __future__ import annotations

import logging
import socket as socket_module
from typing import Any

from pylibsrtp._binding import ffi as srtp_ffi
from pylibsrtp._binding import lib as srtp_lib

__all__ = ["NATIVE_SEND", "NativeRetimer", "native_fan_out"]

logger = logging.getLogger(__name__)

SRTP_PROTECT_TYPE = "srtp_err_status_t(*)(struct srtp_ctx_t_ *, void *, int *)"
#: Its address, handed to the C extension.
SRTP_PROTECT_ADDRESS = int(srtp_ffi.cast("uintptr_t",
                                          srtp_ffi.addressof(srtp_lib, "srtp_protect")))

try:  # the optional C extension (setup.py); without it the packets are built in Python
    from ptt.media._rtpout import Retimer as NativeRetimer
    from ptt.media._rtpout import RtpOut as RtpOut
    from ptt.media._rtpout import fan_out as native_fan_out
except ImportError:  # pragma: no cover - depends on the install having had a C compiler
    RtpOut = NativeRetimer = native_fan_out = None  # type: ignore[assignment,misc]

#: True when the C extension that builds, protects and sends a downlink's packets is installed.
NATIVE_SEND = RtpOut is not None
#: The longest payload the extension's buffer takes with any header (longer: built in Python).
NATIVE_MAX_PAYLOAD = 1500



def native_sender(
    sock: socket_module.socket, addr: tuple[Any, ...], context: Any, byte0: int,
    payload_type: int, tail: bytes,
) -> Any:
    """The C extension's sender for one downlink on ``sock`` to ``addr``, or None where it
    cannot be used (not installed, a host name instead of an address, another family)."""
    if RtpOut is None:
        return None
    host, port = addr[0], addr[1]
    family = sock.family
    scope_id = 0
    if family == socket_module.AF_INET6 and "%" in host:
        host, _, zone = host.partition("%")
        scope_id = int(zone) if zone.isdigit() else socket_module.if_nametoindex(zone)
    if len(addr) >= 4:
        scope_id = addr[3]
    try:
        packed = socket_module.inet_pton(family, host)
    except (OSError, ValueError):
        return None
    return RtpOut(sock, int(family), packed, port, scope_id, SRTP_PROTECT_ADDRESS,
                   int(srtp_ffi.cast("uintptr_t", context)), byte0, payload_type, tail)


def connect_socket(native: Any, remote: tuple[Any, ...]) -> None:
    """Connect the pair's socket to the peer it now talks to, so that the C sender sends with
    send(2): the kernel keeps the route it found at connect time instead of looking it up
    (and allocating it) for every datagram, about 0.6 µs of the ~6 µs a datagram costs.

    The ICE pair is nominated, so nothing else should arrive on this socket: a connected
    socket also has the kernel drop datagrams from any other address. Where connect fails,
    sendto(2) with the address stays in use (nothing is lost but the saving).
    """
    try:
        native.connect_socket()
    except OSError as exc:
        logger.warning("cannot connect the ICE socket to %s (%r): sending with sendto",
                       remote, exc)
