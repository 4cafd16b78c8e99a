"""The WebSocket origin rule, case by case (the live check is tests/security/test_origin.py)."""

from __future__ import annotations

import pytest

from kernel.origin import origin_allowed

PUBLIC = "https://siaga.example.go.id"


@pytest.mark.parametrize(("origin", "host", "secure", "allowed"), [
    (None, "evil.example", False, True),                       # a native client
    ("https://siaga.example.go.id", "10.0.0.5:8080", False, True),  # behind a proxy
    ("https://SIAGA.example.go.id:443", None, True, True),     # default port, any case
    ("http://127.0.0.1:8080", "127.0.0.1:8080", False, True),  # make run
    ("http://localhost:8080", "localhost:8080", False, True),
    ("https://localhost:8443", "localhost:8443", True, True),
    ("http://[::1]:8080", "[::1]:8080", False, True),
    ("http://localhost:8080", "localhost:8080", True, False),  # wss from an http page
    ("https://evil.example", "127.0.0.1:8080", False, False),
    ("http://127.0.0.1:9999", "127.0.0.1:8080", False, False),
    ("null", "127.0.0.1:8080", False, False),
    ("file://", "127.0.0.1:8080", False, False),
    ("ftp://127.0.0.1:8080", "127.0.0.1:8080", False, False),
    ("http://127.0.0.1:99999", "127.0.0.1:99999", False, False),  # no such port
    ("http://127.0.0.1:8080", None, False, False),
    ("http://127.0.0.1:8080", "", False, False),
])
def test_origin_rule(origin: str | None, host: str | None, secure: bool,
                     allowed: bool) -> None:
    assert origin_allowed(origin, host=host, secure=secure, public_url=PUBLIC) is allowed
