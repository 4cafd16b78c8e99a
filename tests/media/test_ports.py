"""The ICE port range: the relay's sockets are bound in it, and the hook check names what
breaks if aioice changes under ``ptt.media.ports``."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

import pytest
from aioice.ice import Connection

from ptt.media.hooks import AiortcHookError, check_aiortc_hooks
from ptt.media.ports import PortRange, bind_connection_ports
from ptt.media.relay import VoiceRelay

from .officers import Officer


def free_range(width: int = 64) -> PortRange:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("0.0.0.0", 0))
        low = min(probe.getsockname()[1], 65535 - width)
    return PortRange(low, low + width)


def test_a_range_lists_every_port_once_from_where_it_starts() -> None:
    assert PortRange(5000, 5003).ports(5002) == [5002, 5003, 5000, 5001]
    with pytest.raises(ValueError, match="not a port range"):
        PortRange(5001, 5000)


async def test_the_relay_binds_ice_in_the_range_and_announces_the_public_address() -> None:
    ports = free_range()
    relay = VoiceRelay(ice_ports=ports, public_ips=["203.0.113.9"])
    officer = Officer("satpol1", 440.0)
    try:
        await officer.connect(relay)  # connected: the sockets in the range carry ICE
        pc = relay.peer_connection("satpol1")
        (transport,) = {t.receiver.transport.transport for t in pc.getTransceivers()}
        local = transport.iceGatherer.getLocalCandidates()
        assert local and all(ports.low <= c.port <= ports.high for c in local)
        pair = transport._connection._nominated[1]
        assert ports.low <= pair.local_candidate.port <= ports.high
        remote = officer.pc.getTransceivers()[0].receiver.transport.transport
        announced = {(c.ip, c.port, c.type) for c in remote.getRemoteCandidates()}
        assert {("203.0.113.9", c.port, "srflx") for c in local if ":" not in c.ip} <= announced
        offer = await relay.set_downlinks("satpol1", [1])  # a re-offer announces it too
        assert offer is not None and " 203.0.113.9 " in offer
    finally:
        await officer.close()
        await relay.close()


async def test_a_full_range_gives_no_host_candidate() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        connection = Connection(ice_controlling=False)
        bind_connection_ports(connection, PortRange(port, port))
        bind_connection_ports(connection, PortRange(port, port))  # idempotent
        try:
            assert await connection.get_component_candidates(1, ["127.0.0.1"]) == []
        finally:
            await connection.close()


def test_gathering_that_bypasses_the_connection_method_is_named(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def gather_candidates(self: Any) -> None:
        self._local_candidates_end = True

    monkeypatch.setattr(Connection, "gather_candidates", gather_candidates)
    with pytest.raises(AiortcHookError, match="get_component_candidates"):
        check_aiortc_hooks()


def test_a_close_that_leaves_sockets_open_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    kept: list[socket.socket] = []
    aioice_close = Connection.close

    async def close(self: Any) -> None:
        for protocol in self._protocols:  # as if aioice kept its sockets open now
            sock = protocol.transport.get_extra_info("socket")
            kept.append(socket.socket(fileno=os.dup(sock.fileno())))
        await aioice_close(self)

    monkeypatch.setattr(Connection, "close", close)
    try:
        with pytest.raises(AiortcHookError, match="leak"):
            check_aiortc_hooks()
    finally:
        for sock in kept:
            sock.close()


def test_a_socket_aioice_does_not_answer_on_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Connection, "request_received", lambda *args: None)
    monkeypatch.setattr("ptt.media.hooks.PORT_CHECK_TIMEOUT", 0.2)
    with pytest.raises(AiortcHookError):
        check_aiortc_hooks()


async def test_server_reflexive_candidates_are_asked_for_on_the_sockets_in_the_range() -> None:
    from aioice import stun

    class StunServer(asyncio.DatagramProtocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: Any) -> None:
            request = stun.parse_message(data)
            response = stun.Message(message_method=stun.Method.BINDING,
                                    message_class=stun.Class.RESPONSE,
                                    transaction_id=request.transaction_id)
            response.attributes["XOR-MAPPED-ADDRESS"] = ("198.51.100.7", addr[1])
            self.transport.sendto(bytes(response), addr)

    loop = asyncio.get_running_loop()
    server, _ = await loop.create_datagram_endpoint(StunServer, local_addr=("127.0.0.1", 0))
    ports = free_range()
    connection = Connection(ice_controlling=False,
                            stun_server=server.get_extra_info("sockname")[:2])
    bind_connection_ports(connection, ports)
    try:
        host, srflx = await connection.get_component_candidates(1, ["127.0.0.1"])
        assert (host.type, srflx.type) == ("host", "srflx")
        assert ports.low <= host.port <= ports.high
        assert (srflx.host, srflx.port, srflx.related_port) == ("198.51.100.7", host.port,
                                                                host.port)
    finally:
        await connection.close()
        server.close()
