"""STUN Binding requests of a connected peer (ICE consent checks), read and answered in a
few byte operations instead of through aioice's general STUN message classes.

Why: every client checks consent on its ICE pair every few seconds (RFC 7675; browsers more
often), so a relay with a hundred connected clients answers tens of Binding requests a
second. aioice parses each into a ``Message`` (every attribute unpacked, addresses through
``ipaddress``) and serializes its response three times over (once for MESSAGE-INTEGRITY,
once for FINGERPRINT, once to send); ``make bench`` showed that work among the largest
items of the relay's CPU besides the voice itself.

This module is pure (bytes in, bytes out) and deliberately narrow: :func:`parse_request`
accepts only what it can read exactly as aioice would (``aioice.stun.parse_message``), and
returns None for anything else, which then goes to aioice unchanged. Integrity is checked
over the raw bytes up to MESSAGE-INTEGRITY, as aioice does; :func:`success_response` is
byte for byte what aioice's ``Connection.request_received`` sends (the tests compare them).
Whether a request may be answered here at all (role, username, connection state) is decided
by ``ptt.media.tap``, which holds the aioice connection.
"""

from __future__ import annotations

import binascii
import hmac
import socket
import struct
from dataclasses import dataclass

from aioice.stun import ATTRIBUTES_BY_TYPE

__all__ = ["BindingRequest", "parse_request", "success_response"]

COOKIE = 0x2112A442
HEADER = struct.Struct("!HHI12s")
ATTRIBUTE = struct.Struct("!HH")
BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101
FINGERPRINT_XOR = 0x5354554E

USERNAME = 0x0006
MESSAGE_INTEGRITY = 0x0008
XOR_MAPPED_ADDRESS = 0x0020
PRIORITY = 0x0024
USE_CANDIDATE = 0x0025
FINGERPRINT = 0x8028
ICE_CONTROLLED = 0x8029
ICE_CONTROLLING = 0x802A
#: Attributes read here, with the length each must have (None: any).
_READ: dict[int, int | None] = {
    USERNAME: None, PRIORITY: 4, USE_CANDIDATE: 0, ICE_CONTROLLED: 8, ICE_CONTROLLING: 8,
    MESSAGE_INTEGRITY: 20, FINGERPRINT: 4,
}


@dataclass(frozen=True, slots=True)
class BindingRequest:
    """A Binding request as aioice would have parsed it, integrity not yet checked."""

    transaction_id: bytes
    username: str
    priority: int | None
    use_candidate: bool
    ice_controlling: int | None
    ice_controlled: int | None
    #: The raw message up to MESSAGE-INTEGRITY, and that attribute's value.
    integrity_data: bytes
    integrity: bytes

    def integrity_holds(self, key: bytes) -> bool:
        """MESSAGE-INTEGRITY checked with ``key`` (the local ICE password), as aioice does."""
        return hmac.compare_digest(self.integrity, _integrity(self.integrity_data, key))

    def role_conflict(self, controlling: bool) -> bool:
        """The sender claims the ICE role an agent that is ``controlling`` (or not) holds
        (RFC 8445 section 7.3.1.1): aioice must settle it, by tie-breaker."""
        claimed = self.ice_controlling if controlling else self.ice_controlled
        return claimed is not None

    def attributes(self) -> dict[str, object]:
        """The attributes read, named and valued as ``aioice.stun.parse_message`` gives them
        (for aioice's ``check_incoming``)."""
        attributes: dict[str, object] = {"USERNAME": self.username}
        if self.priority is not None:
            attributes["PRIORITY"] = self.priority
        if self.use_candidate:
            attributes["USE-CANDIDATE"] = None
        if self.ice_controlling is not None:
            attributes["ICE-CONTROLLING"] = self.ice_controlling
        if self.ice_controlled is not None:
            attributes["ICE-CONTROLLED"] = self.ice_controlled
        return attributes


def _with_length(data: bytes, length: int) -> bytes:
    return data[:2] + struct.pack("!H", length) + data[4:]


def _integrity(data: bytes, key: bytes) -> bytes:
    """HMAC-SHA1 over ``data`` with its header's length as if MESSAGE-INTEGRITY followed."""
    return hmac.digest(key, _with_length(data, len(data) - HEADER.size + 24), "sha1")


def _fingerprint(data: bytes) -> int:
    return binascii.crc32(_with_length(data, len(data) - HEADER.size + 8)) ^ FINGERPRINT_XOR


def parse_request(data: bytes) -> BindingRequest | None:
    """The Binding request in ``data``, or None when aioice should read it instead.

    None for anything that is not exactly: a Binding request whose attributes are
    USERNAME, PRIORITY, USE-CANDIDATE, ICE-CONTROLLING, ICE-CONTROLLED (each at most once,
    with their proper lengths) and attributes aioice does not know (which it skips too),
    then MESSAGE-INTEGRITY, then optionally a FINGERPRINT that matches. None also for
    anything malformed: aioice then answers or drops it, as it always did.
    """
    if len(data) < HEADER.size:
        return None
    # The magic cookie is not checked: aioice does not check it either.
    message_type, length, _cookie, transaction_id = HEADER.unpack_from(data)
    if message_type != BINDING_REQUEST or len(data) != HEADER.size + length:
        return None
    values: dict[int, bytes] = {}
    integrity_at = -1
    pos = HEADER.size
    end = len(data)
    while pos < end:
        if end - pos < ATTRIBUTE.size:
            return None
        kind, size = ATTRIBUTE.unpack_from(data, pos)
        start = pos + ATTRIBUTE.size
        if start + size > end:
            return None
        if kind in _READ:
            expected = _READ[kind]
            if kind in values or (expected is not None and size != expected):
                return None
            if integrity_at >= 0 and kind != FINGERPRINT:
                return None  # aioice ignores it; leave such a message to aioice
            if kind == MESSAGE_INTEGRITY:
                integrity_at = pos
            elif kind == FINGERPRINT:
                if integrity_at < 0 or start + size != end:
                    return None
                if struct.unpack_from("!I", data, start)[0] != _fingerprint(data[:pos]):
                    return None
            values[kind] = data[start:start + size]
        elif kind in ATTRIBUTES_BY_TYPE or integrity_at >= 0:
            return None  # an attribute aioice would unpack, or one after the integrity
        pos = start + size + (-size % 4)
    if pos != end or integrity_at < 0 or USERNAME not in values:
        return None
    try:
        username = values[USERNAME].decode("utf8")
    except UnicodeDecodeError:
        return None

    def number(kind: int, fmt: str) -> int | None:
        value = values.get(kind)
        return None if value is None else int(struct.unpack(fmt, value)[0])

    return BindingRequest(
        transaction_id=transaction_id,
        username=username,
        priority=number(PRIORITY, "!I"),
        use_candidate=USE_CANDIDATE in values,
        ice_controlling=number(ICE_CONTROLLING, "!Q"),
        ice_controlled=number(ICE_CONTROLLED, "!Q"),
        integrity_data=data[:integrity_at],
        integrity=values[MESSAGE_INTEGRITY],
    )


def success_response(transaction_id: bytes, address: tuple[str, int], key: bytes) -> bytes:
    """The Binding success response aioice sends: XOR-MAPPED-ADDRESS (IPv4 ``address``),
    MESSAGE-INTEGRITY with ``key``, FINGERPRINT."""
    host, port = address
    ip = int.from_bytes(socket.inet_aton(host), "big") ^ COOKIE
    mapped = struct.pack("!HHBBHI", XOR_MAPPED_ADDRESS, 8, 0, 1, port ^ (COOKIE >> 16), ip)
    integrity = _integrity(HEADER.pack(BINDING_SUCCESS, len(mapped), COOKIE, transaction_id)
                           + mapped, key)
    body = mapped + struct.pack("!HH", MESSAGE_INTEGRITY, 20) + integrity
    head = HEADER.pack(BINDING_SUCCESS, len(body) + 8, COOKIE, transaction_id)
    return head + body + struct.pack("!HHI", FINGERPRINT, 4, _fingerprint(head + body))
