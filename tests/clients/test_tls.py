"""HTTPS for phones: ``siaga serve --tls`` with a self-signed certificate made on first run
(fingerprint printed), or the operator's own; the radio client trusts it with ``--cafile``."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import ssl
import sys
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from siaga_radio import RadioClient

from siaga.tls import TlsError, ensure_self_signed, given, interface_addresses, local_names
from tests.conftest import loopback_socket, port_of
from tests.polling import until


def test_first_run_makes_a_certificate_and_later_runs_reuse_it(tmp_path: Path) -> None:
    names = local_names("0.0.0.0", "https://radio.example:8443")
    assert {"localhost", "127.0.0.1", "radio.example"} <= set(names)
    assert "0.0.0.0" not in names
    # The machine's own addresses, read from the kernel (phones reach it by its LAN address).
    own = interface_addresses()
    if sys.platform == "linux":
        assert "127.0.0.1" in own
    assert own <= set(names)
    first = ensure_self_signed(tmp_path, names)
    assert first.created and first.self_signed
    assert oct(first.key.stat().st_mode & 0o777) == "0o600"
    again = ensure_self_signed(tmp_path, names)
    assert not again.created and again.fingerprint == first.fingerprint

    cert = x509.load_pem_x509_certificate(first.cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "radio.example" in san.get_values_for_type(x509.DNSName)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days <= 826
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", first.fingerprint)


def test_a_new_address_makes_a_new_certificate(tmp_path: Path) -> None:
    first = ensure_self_signed(tmp_path, ["localhost", "192.0.2.10"])
    moved = ensure_self_signed(tmp_path, ["localhost", "192.0.2.11"])
    assert moved.created and moved.fingerprint != first.fingerprint


def test_the_operators_files_are_checked_before_serving(tmp_path: Path) -> None:
    made = ensure_self_signed(tmp_path / "a", ["localhost"])
    other = ensure_self_signed(tmp_path / "b", ["localhost"])
    assert given(made.cert, made.key).fingerprint == made.fingerprint
    with pytest.raises(TlsError, match="not found"):
        given(tmp_path / "missing.pem", made.key)
    with pytest.raises(TlsError, match="cannot use"):
        given(made.cert, other.key)  # a key that does not belong to the certificate


async def test_siaga_serve_tls_serves_https_and_wss(tmp_path: Path) -> None:
    sock = loopback_socket()  # bound here, served by the child: no other process can take it
    port = port_of(sock)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIAGA_")}
    env.update(SIAGA_PORT=str(port), SIAGA_DATA_DIR=str(tmp_path / "var"),
               SIAGA_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'siaga.db'}",
               SIAGA_LOG_LEVEL="WARNING")
    siaga = str(Path(sys.executable).parent / "siaga")
    load = await asyncio.create_subprocess_exec(siaga, "db", "upgrade", env=env,
                                                stdout=asyncio.subprocess.DEVNULL)
    assert await load.wait() == 0
    load = await asyncio.create_subprocess_exec(siaga, "demo", "load", env=env,
                                                stdout=asyncio.subprocess.DEVNULL)
    assert await load.wait() == 0
    proc = await asyncio.create_subprocess_exec(
        siaga, "serve", "--tls", "--no-migrate", "--fd", str(sock.fileno()), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        pass_fds=(sock.fileno(),))
    try:
        assert proc.stdout is not None
        banner = ""
        # Generous: on a loaded 2-core machine the server takes a while to start.
        while "officers' app" not in banner:
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert line, "siaga serve ended: " + banner
            banner += line.decode()
        assert f"https://127.0.0.1:{port}/app" in banner
        match = re.search(r"SHA-256 fingerprint ([0-9A-F:]+)", banner)
        cert = tmp_path / "var" / "tls" / "cert.pem"
        assert match and "(created now)" in banner and cert.is_file()

        ctx = ssl.create_default_context(cafile=str(cert))
        url = f"https://127.0.0.1:{port}"
        async with httpx.AsyncClient(verify=ctx) as http:
            async def app_page() -> httpx.Response | None:
                try:
                    return await http.get(f"{url}/app/")
                except httpx.ConnectError:  # not listening yet
                    return None

            response = await until(app_page, "the server to accept connections", timeout=30)
            assert response.status_code == 200 and "manifest.webmanifest" in response.text
            # The fingerprint printed is the certificate served.
            der = ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate(("127.0.0.1", port)))
            assert hashlib.sha256(der).digest().hex(":").upper() == match.group(1)

        async with RadioClient(url, "satpol1", "demo", transport="websocket",
                               verify=str(cert)) as radio:
            assert radio.ws_url.startswith("wss://")
            assert radio.user["username"] == "satpol1"
        with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
            await RadioClient(url, "satpol1", "demo").login()
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)
        sock.close()
