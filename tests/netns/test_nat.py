"""A server in a cloud VM behind 1:1 NAT, officers behind their carrier's NAT: the server
announces its public address (``SIAGA_ICE_PUBLIC_IPS``), binds ICE in its port range
(``SIAGA_ICE_PORT_MIN``/``MAX``), and voice flows both ways, tones checked by FFT."""

from __future__ import annotations

import re
from pathlib import Path

from tests.netns.conftest import SIAGA_PORT, Officer, http_get_in, read_rest, siaga_in
from tests.netns.network import SERVER_PRIVATE, SERVER_PUBLIC, Internet, run

PORTS = (40000, 40099)


def server_udp_ports(net: Internet, pid: int) -> list[int]:
    """The local ports of the UDP sockets process ``pid`` holds on the server's address."""
    lines = run(*net.exec("srv", "ss", "-H", "-uanp")).splitlines()
    return [int(port) for line in lines if f"pid={pid}," in line
            for port in re.findall(rf"{re.escape(SERVER_PRIVATE)}:(\d+)", line)]


async def test_voice_both_ways_through_both_nats(internet: Internet, tmp_path: Path) -> None:
    async with siaga_in(internet, tmp_path, ice_public_ips=SERVER_PUBLIC,
                        ice_port_min=str(PORTS[0]), ice_port_max=str(PORTS[1])) as server:
        # Only the public address leads to the server: voice can only use what it announces.
        private = f"http://{SERVER_PRIVATE}:{SIAGA_PORT}/healthz"
        assert await http_get_in(internet, "cli", private) is None
        satpol1 = Officer(internet, "satpol1", tmp_path)
        satpol2 = Officer(internet, "satpol2", tmp_path)
        for talker, listener, tone in ((satpol1, satpol2, 440.0), (satpol2, satpol1, 660.0)):
            listening = await listener.listen("satpolpp")
            try:
                ports = server_udp_ports(internet, server.pid)
                assert ports and all(PORTS[0] <= port <= PORTS[1] for port in ports), ports
                await talker.talk("satpolpp", tone)
                assert abs(await listener.heard(listening) - tone) < 5
            finally:
                if listening.returncode is None:
                    await read_rest(listening)
