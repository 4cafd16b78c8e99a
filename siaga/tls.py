"""TLS for ``siaga serve --tls``: phones need HTTPS for the microphone, geolocation, the
service worker and the wake lock on anything but ``localhost``.

Either the operator gives a certificate and key (``--cert/--key``: a real certificate, or
one from the organisation's CA), or a self-signed certificate is made on first run under
``data_dir/tls/`` and reused after (its fingerprint is printed so that a phone user can
check it). The self-signed certificate:

- names every address the server is reached at (``localhost``, loopback, the host name, the
  host's addresses, the configured host and ``public_url`` host); when a name is missing
  later (the LAN address changed) a new one is made and said so;
- is its own CA (``basicConstraints CA:TRUE``) so that Android and iOS can install it as a
  trusted certificate, and lasts 825 days (the longest iOS accepts for a server cert).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

VALID_DAYS = 825


class TlsError(Exception):
    """The certificate or key cannot be used; the message is one line for the operator."""


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    fingerprint: str  # SHA-256, colon-separated hex (what browsers show)
    created: bool  # made now (self-signed)
    self_signed: bool


def interface_addresses() -> set[str]:
    """The machine's own IPv4/IPv6 addresses, read from the kernel (Linux), not from DNS.

    Link-local IPv6 addresses are left out: a certificate cannot name their zone.
    """
    found: set[str] = set()
    try:
        import fcntl
        import struct

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            for _, name in socket.if_nameindex():
                try:
                    raw = fcntl.ioctl(probe.fileno(), 0x8915,  # SIOCGIFADDR
                                      struct.pack("256s", name.encode()[:15]))
                except OSError:
                    continue  # no IPv4 address on this interface
                found.add(socket.inet_ntoa(raw[20:24]))
    except (ImportError, OSError):
        pass
    try:
        with open("/proc/net/if_inet6") as table:
            for line in table:
                hexaddr = line.split()[0]
                address = ipaddress.IPv6Address(bytes.fromhex(hexaddr))
                if not address.is_link_local:
                    found.add(str(address))
    except (OSError, ValueError):
        pass
    return found


def local_names(host: str, public_url: str) -> list[str]:
    """Names and addresses this server is likely reached at (no network traffic)."""
    names = {"localhost", "127.0.0.1", "::1"} | interface_addresses()
    hostname = socket.gethostname()
    if hostname:
        names.add(hostname)
    for candidate in (host, urlsplit(public_url).hostname or ""):
        if candidate and candidate not in ("0.0.0.0", "::"):
            names.add(candidate)
    return sorted(names)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def fingerprint(cert_pem: bytes) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    cert = x509.load_pem_x509_certificate(cert_pem)
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def _names_in(cert_pem: bytes) -> set[str]:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(cert_pem)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {str(n) for n in san.get_values_for_type(x509.DNSName)} | {
        str(n) for n in san.get_values_for_type(x509.IPAddress)}


def make_self_signed(names: list[str], now: dt.datetime | None = None) -> tuple[bytes, bytes]:
    """A self-signed certificate (EC P-256) for ``names``: (cert PEM, key PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = now or dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Siaga"),
        x509.NameAttribute(NameOID.COMMON_NAME, f"Siaga {names[0] if names else 'server'}"),
    ])
    alt: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address(n)) if _is_ip(n) else x509.DNSName(n)
        for n in names]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=False,
            content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def ensure_self_signed(data_dir: Path, names: list[str]) -> TlsFiles:
    """The self-signed certificate under ``data_dir/tls``, made when missing or when it
    does not name every one of ``names``."""
    folder = data_dir / "tls"
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    if cert_path.is_file() and key_path.is_file():
        pem = cert_path.read_bytes()
        try:
            covers = set(names) <= _names_in(pem)
        except ValueError:
            covers = False
        if covers:
            return TlsFiles(cert_path, key_path, fingerprint(pem), False, True)
    folder.mkdir(parents=True, exist_ok=True)
    cert_pem, key_pem = make_self_signed(names)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_pem)
    cert_path.write_bytes(cert_pem)
    return TlsFiles(cert_path, key_path, fingerprint(cert_pem), True, True)


def given(cert: Path, key: Path) -> TlsFiles:
    """Check an operator's certificate and key before the server starts."""
    for what, path in (("certificate", cert), ("key", key)):
        if not path.is_file():
            raise TlsError(f"TLS {what} not found: {path}")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise TlsError(f"cannot use {cert} with {key}: {exc}") from None
    try:
        fp = fingerprint(cert.read_bytes())
    except ValueError as exc:
        raise TlsError(f"{cert} is not a PEM certificate: {exc}") from None
    return TlsFiles(cert, key, fp, False, False)
