"""The addresses a server behind 1:1 NAT announces: its public ones, in every SDP it sends.

A cloud VM, or a server behind a firewall doing 1:1 NAT, knows only its private address;
aioice offers what the interfaces hold, which a phone on 4G cannot reach. The operator names
the public addresses (``ice_public_ips``), and every SDP the server sends (its answers and its
re-offers) also carries them:

1. For each UDP host candidate, one candidate per public address of the same family (IPv4 or
   IPv6), with the same port: 1:1 NAT forwards a public address's port to the same port of
   the private one. It is a server-reflexive candidate (``typ srflx raddr <private> rport
   <port>``), as if a STUN server had reported it, so a peer prefers the host candidate
   where both work (on the LAN).
2. Host candidates stay: dispatchers on the server's own network reach it directly.
3. Nothing else changes: no candidate of another type or transport is copied, and the
   ``c=`` line and ports of the m-lines stay (ICE does not use them).

Checks from a client to the public address arrive at the private socket, which aioice
answers; the reply leaves through the same NAT, so the client sees it come from the public
address it asked.

Pure: text in, text out.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence

__all__ = ["announce_public"]

#: RFC 8445 section 5.1.2.2: type preference of server-reflexive candidates.
SRFLX_PREFERENCE = 100
LOCAL_PREFERENCE = 65535


def _priority(component: int) -> int:
    return (SRFLX_PREFERENCE << 24) + (LOCAL_PREFERENCE << 8) + 256 - component


def _foundation(address: str) -> str:
    return hashlib.md5(f"srflx|udp|{address}".encode(), usedforsecurity=False).hexdigest()[:8]


def _public_candidates(line: str, public: Sequence[str]) -> list[str]:
    fields = line[len("a=candidate:"):].split()
    if len(fields) < 8 or fields[2].lower() != "udp" or fields[6:8] != ["typ", "host"]:
        return []
    component, host, port = fields[1], fields[4], fields[5]
    try:
        version = ipaddress.ip_address(host).version
        number = int(component)
    except ValueError:
        return []  # an mDNS name or a damaged line: nothing to map
    return [f"a=candidate:{_foundation(address)} {component} udp {_priority(number)} "
            f"{address} {port} typ srflx raddr {host} rport {port}"
            for address in public if ipaddress.ip_address(address).version == version
            and address != host]


def announce_public(sdp: str, public_ips: Sequence[str]) -> str:
    """``sdp`` with a candidate for each public address after each host candidate (rule 1)."""
    if not public_ips:
        return sdp
    newline = "\r\n" if "\r\n" in sdp else "\n"
    out: list[str] = []
    for line in sdp.split(newline):
        out.append(line)
        if line.startswith("a=candidate:"):
            out.extend(_public_candidates(line, public_ips))
    return newline.join(out)
