"""Fixtures for the network tests: the namespaces of ``tests.netns.network``, the real
``siaga serve`` inside them, coturn, and ``siaga-radio`` officers behind the carrier NAT.

These tests need root, ``ip`` (iproute2), ``nft`` (nftables) and, for TURN, ``turnserver``
(coturn); ``scripts/system-deps.sh --browser`` installs the packages. Where something is
missing they skip with the reason, except where ``SIAGA_REQUIRE_NATIVE=1`` (CI): there
they fail, so that CI never passes without having run them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.clients.helpers import decode_file, tone_of
from tests.netns.network import SERVER_PUBLIC, Internet, in_netns
from tests.polling import until
from tests.processes import base_env, run

REQUIRED = os.environ.get("SIAGA_REQUIRE_NATIVE") == "1"
BIN = Path(sys.executable).parent
SIAGA_PORT = 8080
SERVER_URL = f"http://{SERVER_PUBLIC}:{SIAGA_PORT}"


def unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"SIAGA_REQUIRE_NATIVE=1 but the network tests cannot run: {reason}")
    pytest.skip(reason)


def need(*commands: str) -> None:
    if os.geteuid() != 0:
        unavailable("network namespaces need root")
    missing = [c for c in commands if shutil.which(c) is None]
    if missing:
        unavailable(f"missing {', '.join(missing)} (scripts/system-deps.sh --browser "
                    "installs iproute2, nftables and coturn)")


@pytest.fixture
def internet() -> Iterator[Internet]:
    need("ip", "nft")
    net = Internet(f"sg{os.getpid()}")
    try:
        try:
            net.build()
        except RuntimeError as exc:
            unavailable(f"cannot build network namespaces here: {exc}")
        yield net
    finally:
        net.close()


async def http_get_in(net: Internet, role: str, url: str) -> int | None:
    """GET ``url`` from inside the namespace of ``role``; the status, None if unreachable."""
    def get() -> int | None:
        try:
            return httpx.get(url, timeout=2).status_code
        except httpx.TransportError:
            return None
    return await asyncio.to_thread(in_netns, net.ns(role), get)


@contextlib.asynccontextmanager
async def siaga_in(net: Internet, tmp_path: Path, **settings: str
                   ) -> AsyncIterator[asyncio.subprocess.Process]:
    """``siaga serve`` in the server's namespace, on 0.0.0.0:8080, with the demo data."""
    env = base_env(database_url=f"sqlite+aiosqlite:///{tmp_path}/siaga.db",
                   data_dir=str(tmp_path / "var"), secret_key="netns-" + "k" * 40,
                   host="0.0.0.0", port=str(SIAGA_PORT), public_url=SERVER_URL,
                   record_transmissions="false", **settings)
    await run(env, "db", "upgrade")
    await run(env, "demo", "load")
    log = open(tmp_path / "siaga.log", "wb")  # noqa: SIM115
    proc = await asyncio.create_subprocess_exec(
        *net.exec("srv", str(BIN / "siaga"), "serve", "--no-migrate"), env=env,
        stdout=log, stderr=log)
    log.close()
    try:
        async def up() -> bool:
            assert proc.returncode is None, f"siaga serve exited: {proc.returncode}"
            return await http_get_in(net, "cli", f"{SERVER_URL}/healthz") == 200
        await until(up, "siaga serve to answer through the NAT", timeout=60)
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


class Officer:
    """``siaga-radio`` run by one officer in the client namespace, behind the carrier NAT."""

    def __init__(self, net: Internet, username: str, tmp_path: Path,
                 env: dict[str, str] | None = None, transport: str = "webrtc") -> None:
        self.net, self.username, self.transport = net, username, transport
        self.out = tmp_path / username
        self.env = {**os.environ, **(env or {})}

    def command(self, *args: str) -> list[str]:
        return self.net.exec("cli", str(BIN / "siaga-radio"), "--server", SERVER_URL,
                             "--user", self.username, "--password", "demo",
                             "--transport", self.transport, *args)

    async def start(self, *args: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *self.command(*args), env=self.env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)

    async def listen(self, talkgroup: str) -> asyncio.subprocess.Process:
        """Listening (joined, WebRTC up) to one transmission, saved under ``self.out``."""
        proc = await self.start("listen", "--talkgroup", talkgroup, "--out", str(self.out),
                                "--count", "1", "--seconds", "60")
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
        except BaseException:
            await read_rest(proc)
            raise
        assert line.startswith(b"listening to"), line + await read_rest(proc)
        return proc

    async def heard(self, listening: asyncio.subprocess.Process) -> float:
        """The tone of the transmission ``listening`` (from :meth:`listen`) saved, by FFT."""
        out, err = await asyncio.wait_for(listening.communicate(), 60)
        assert listening.returncode == 0, (out + err).decode()
        recordings = sorted(self.out.glob("*.opus"))
        assert recordings, f"{self.username} saved nothing: {out.decode()}"
        return tone_of(decode_file(recordings[-1]))

    async def talk(self, talkgroup: str, tone: float, seconds: float = 3.0) -> str:
        proc = await self.start("talk", "--talkgroup", talkgroup, "--tone", str(tone),
                                "--seconds", str(seconds))
        try:
            out, err = await asyncio.wait_for(proc.communicate(), 60)
        finally:
            if proc.returncode is None:  # no process outlives the namespaces
                proc.kill()
                await proc.wait()
        assert proc.returncode == 0, (out + err).decode()
        return out.decode()


async def read_rest(proc: asyncio.subprocess.Process) -> bytes:
    """End ``proc`` (if it still runs) and return what it wrote."""
    if proc.returncode is None:
        proc.terminate()
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
    return out + err


TURN_SECRET = "netns-coturn-shared-secret"
TURN_REALM = "siaga.test"


def self_signed(tmp_path: Path, address: str) -> tuple[Path, Path]:
    """A certificate for ``address`` (an IP SAN, as a TURN URL names it) and its key."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, address)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(address))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "turn-cert.pem", tmp_path / "turn-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def coturn_config(tmp_path: Path, address: str, cert: Path, key: Path) -> str:
    """The configuration docs/deploy.md gives, on the test's addresses and files: it relays
    to the Siaga server's public address only."""
    return "\n".join([
        f"listening-ip={address}", f"relay-ip={address}",
        "listening-port=3478", "tls-listening-port=443", "min-port=49152", "max-port=65535",
        "use-auth-secret", f"static-auth-secret={TURN_SECRET}", f"realm={TURN_REALM}",
        f"cert={cert}", f"pkey={key}", "fingerprint", "no-cli", "no-multicast-peers",
        "denied-peer-ip=0.0.0.0-255.255.255.255", f"allowed-peer-ip={SERVER_PUBLIC}",
        f"userdb={tmp_path / 'turndb'}", f"pidfile={tmp_path / 'turnserver.pid'}",
        "log-file=stdout", "simple-log", "verbose", "",
    ])


@contextlib.asynccontextmanager
async def coturn_in(net: Internet, tmp_path: Path) -> AsyncIterator[Path]:
    """coturn in the TURN namespace; yields its log and, for TLS, its certificate is
    ``tmp_path / "turn-cert.pem"``."""
    from tests.netns.network import TURN

    need("turnserver")
    cert, key = self_signed(tmp_path, TURN)
    config = tmp_path / "turnserver.conf"
    config.write_text(coturn_config(tmp_path, TURN, cert, key))
    log_path = tmp_path / "turnserver.log"
    log = open(log_path, "wb")  # noqa: SIM115
    proc = await asyncio.create_subprocess_exec(
        *net.exec("turn", "turnserver", "-c", str(config)), stdout=log, stderr=log)
    log.close()

    def accepting() -> bool:
        import socket
        try:
            socket.create_connection((TURN, 443), timeout=1).close()
            return True
        except OSError:
            return False
    try:
        async def up() -> bool:
            assert proc.returncode is None, log_path.read_text()
            return await asyncio.to_thread(in_netns, net.ns("cli"), accepting)
        await until(up, "coturn to listen", timeout=30)
        yield log_path
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()
