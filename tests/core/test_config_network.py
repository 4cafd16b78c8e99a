"""Network settings: the public addresses, the ICE port range and TURN's shared secret."""

from __future__ import annotations

import pytest

from kernel.config import ConfigError, load_settings


def test_public_addresses_and_turn_urls_are_comma_separated(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIAGA_ICE_PUBLIC_IPS", "203.0.113.10, 2001:db8::0:1,203.0.113.10")
    monkeypatch.setenv("SIAGA_TURN_SECRET", "s3cret")
    monkeypatch.setenv("SIAGA_TURN_URLS",
                       "turn:turn.example:3478?transport=udp,turns:turn.example:443")
    settings = load_settings()
    assert settings.ice_public_ips == ["203.0.113.10", "2001:db8::1"]
    assert settings.turn_urls == ["turn:turn.example:3478?transport=udp",
                                  "turns:turn.example:443"]
    assert settings.turn_credential_ttl_seconds == 12 * 3600
    assert settings.masked()["turn_secret"] == "***"


def test_a_port_range_needs_both_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIAGA_ICE_PORT_MIN", "40000")
    monkeypatch.setenv("SIAGA_ICE_PORT_MAX", "40999")
    settings = load_settings()
    assert (settings.ice_port_min, settings.ice_port_max) == (40000, 40999)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SIAGA_ICE_PUBLIC_IPS": "siaga.example"}, "not an IP address: 'siaga.example'"),
        ({"SIAGA_ICE_PUBLIC_IPS": "127.0.0.1"}, "not an address peers can reach"),
        ({"SIAGA_ICE_PORT_MIN": "40000"}, "set both ice_port_min and ice_port_max"),
        ({"SIAGA_ICE_PORT_MIN": "41000", "SIAGA_ICE_PORT_MAX": "40000"},
         "ice_port_min is above ice_port_max"),
        ({"SIAGA_ICE_PORT_MIN": "80", "SIAGA_ICE_PORT_MAX": "90"},
         "invalid setting ice_port_min (SIAGA_ICE_PORT_MIN)"),
        ({"SIAGA_TURN_SECRET": "s"}, "turn_secret needs turn_urls"),
        ({"SIAGA_TURN_URLS": "turn:t.example"}, "turn_urls need turn_secret"),
        ({"SIAGA_TURN_SECRET": "s", "SIAGA_TURN_URLS": "stun:t.example"},
         "not a TURN URL"),
    ],
)
def test_bad_network_settings_raise_one_readable_line(
        monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert expected in str(info.value)
