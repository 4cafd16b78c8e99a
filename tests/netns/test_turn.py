"""Officers whose network blocks UDP to the server reach it through coturn, with the
credentials their ``welcome`` carried (``SIAGA_TURN_SECRET``): over UDP to coturn only, over
TCP, and over TLS on 443; voice flows, its tone checked by FFT."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.netns.conftest import (
    TURN_SECRET,
    Officer,
    coturn_in,
    read_rest,
    siaga_in,
)
from tests.netns.network import SERVER_PUBLIC, TURN, Internet

ALLOCATED = re.compile(r"user <(\d+):(\d+)>: incoming packet ALLOCATE processed, success")


@pytest.mark.parametrize(("url", "udp_to_turn"), [
    (f"turn:{TURN}:3478?transport=udp", True),
    (f"turn:{TURN}:3478?transport=tcp", False),
    (f"turns:{TURN}:443?transport=tcp", False),
], ids=["udp-to-turn-only", "tcp", "tls-443"])
async def test_voice_through_coturn_when_udp_to_the_server_is_blocked(
        internet: Internet, tmp_path: Path, url: str, udp_to_turn: bool) -> None:
    internet.block_client_udp(except_to=TURN if udp_to_turn else None)
    async with coturn_in(internet, tmp_path) as turn_log, \
            siaga_in(internet, tmp_path, ice_public_ips=SERVER_PUBLIC,
                     turn_secret=TURN_SECRET, turn_urls=url):
        trust = {"SSL_CERT_FILE": str(tmp_path / "turn-cert.pem")}
        talker = Officer(internet, "satpol1", tmp_path, trust)
        listener = Officer(internet, "satpol2", tmp_path, trust)
        listening = await listener.listen("satpolpp")
        try:
            await talker.talk("satpolpp", 440.0)
            assert abs(await listener.heard(listening) - 440.0) < 5
        finally:
            if listening.returncode is None:
                await read_rest(listening)
    users = {int(user) for _, user in ALLOCATED.findall(turn_log.read_text())}
    assert len(users) == 2, turn_log.read_text()[-2000:]  # each officer its own credential
