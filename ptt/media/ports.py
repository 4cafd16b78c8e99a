"""ICE's host sockets bound in a configured UDP port range, so a firewall opens one range.

aioice (0.13) binds each host candidate's socket to port 0: the kernel picks any ephemeral
port, and aiortc has no parameter for it (upstream proposals: aiortc/aioice#63, #112). A
server behind a firewall would need the whole ephemeral range open. :func:`bind_ice_ports`
shadows, on one aioice ``Connection`` (an instance attribute, nothing global), the method
``gather_candidates`` calls per component:

1. Host candidates: for each address aioice found on the interfaces, a UDP socket bound to a
   free port of the range (tried in order from a random one, wrapping round; an address
   whose range is full gets no candidate, as aioice does when a bind fails), wrapped in
   aioice's own ``StunProtocol`` and appended to ``Connection._protocols``, the sockets
   aioice checks, sends and receives on and closes with the connection.
2. Server-reflexive candidates (a STUN server in the settings) are asked for on those
   sockets with aioice's ``server_reflexive_candidate``, as aioice would.
3. TURN (which a server does not normally use) is left to aioice's own method, called
   with no host addresses: its relay socket is outbound, to the TURN server.

It relies on aioice's ``Connection.get_component_candidates(component, addresses,
timeout)`` being called through the instance, ``Connection._protocols``, aiortc's
``RTCIceTransport._connection``,
``StunProtocol(connection)`` with its ``local_candidate``, and ``Candidate``'s
constructor. ``ptt.media.hooks`` checks the effect: a connection with the hook gathers a
candidate in the range, and a STUN Binding request to that port is answered by aioice.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import socket
from dataclasses import dataclass
from typing import Any

from aioice import turn
from aioice.candidate import Candidate, candidate_foundation, candidate_priority
from aioice.ice import StunProtocol, server_reflexive_candidate

__all__ = ["PortRange", "bind_connection_ports", "bind_ice_ports"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PortRange:
    """Inclusive UDP port range for ICE host sockets."""

    low: int
    high: int

    def __post_init__(self) -> None:
        if not 1 <= self.low <= self.high <= 65535:
            raise ValueError(f"not a port range: {self.low}-{self.high}")

    def ports(self, start: int) -> list[int]:
        """Every port of the range, from ``start`` upward, wrapping round."""
        span = list(range(self.low, self.high + 1))
        index = start - self.low
        return span[index:] + span[:index]


def _bind(address: str, ports: PortRange) -> socket.socket:
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    for port in ports.ports(random.randint(ports.low, ports.high)):
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.bind((address, port))
        except OSError:
            sock.close()
            continue
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, turn.UDP_SOCKET_BUFFER_SIZE)
        return sock
    raise OSError(f"no free UDP port in {ports.low}-{ports.high} on {address}")


async def _host_protocol(connection: Any, component: int, address: str,
                         ports: PortRange) -> StunProtocol:
    loop = asyncio.get_running_loop()
    sock = _bind(address, ports)
    _, protocol = await loop.create_datagram_endpoint(lambda: StunProtocol(connection),
                                                      sock=sock)
    host, port = sock.getsockname()[:2]
    protocol.local_candidate = Candidate(
        foundation=candidate_foundation("host", "udp", host), component=component,
        transport="udp", priority=candidate_priority(component, "host"), host=host,
        port=port, type="host")
    return protocol


def bind_ice_ports(dtls: Any, ports: PortRange) -> None:
    """Gather the host candidates of a DTLS transport's ICE (aiortc's
    ``RTCIceTransport._connection``) in ``ports``, before ``setLocalDescription`` gathers."""
    bind_connection_ports(dtls.transport._connection, ports)


def bind_connection_ports(connection: Any, ports: PortRange) -> None:
    """Gather an aioice ``connection``'s host candidates in ``ports`` (rules 1-3).
    Idempotent."""
    if "get_component_candidates" in vars(connection):
        return
    aioice_gather = connection.get_component_candidates

    async def get_component_candidates(component: int, addresses: list[str],
                                       timeout: int = 5) -> list[Candidate]:
        protocols = []
        for address in addresses:
            try:
                protocols.append(await _host_protocol(connection, component, address, ports))
            except OSError as exc:
                logger.warning("ICE: no host candidate on %s: %s", address, exc)
        connection._protocols += protocols
        candidates = [protocol.local_candidate for protocol in protocols]
        stun_server = connection.stun_server
        queries = [server_reflexive_candidate(protocol, stun_server) for protocol in protocols
                   if stun_server and ipaddress.ip_address(
                       protocol.local_candidate.host).version == 4]
        if queries:
            done, pending = await asyncio.wait(
                [asyncio.ensure_future(query) for query in queries], timeout=timeout)
            for task in pending:
                task.cancel()
            candidates += [task.result()[0] for task in done if task.exception() is None]
        relayed: list[Candidate] = await aioice_gather(component=component, addresses=[],
                                                       timeout=timeout)
        return candidates + relayed

    connection.get_component_candidates = get_component_candidates
