"""TURN credentials as coturn's use-auth-secret checks them (pure: time is an argument)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from ptt.turn import TurnCredentials, turn_password

URLS = ("turn:turn.example:3478?transport=udp", "turns:turn.example:443?transport=tcp")


def test_the_password_is_base64_of_hmac_sha1_of_the_username() -> None:
    expected = base64.b64encode(hmac.new(b"north", b"1700000000:7", hashlib.sha1).digest())
    assert turn_password("north", "1700000000:7") == expected.decode()
    assert turn_password("north", "1700000000:7") != turn_password("north", "1700000000:8")


def test_each_user_gets_a_credential_expiring_ttl_seconds_from_now() -> None:
    turn = TurnCredentials("north", URLS, ttl=600)
    server = turn.ice_server(7, now=1_700_000_000.9)
    assert server == {"urls": list(URLS), "username": "1700000600:7",
                      "credential": turn_password("north", "1700000600:7")}
    assert turn.ice_server(8, now=1_700_000_000)["credential"] != server["credential"]
    assert turn.ice_server(7, now=1_700_000_100)["username"] == "1700000700:7"


@pytest.mark.parametrize(("secret", "urls", "ttl", "message"), [
    ("", URLS, 60, "secret is empty"),
    ("s", (), 60, "no TURN URLs"),
    ("s", URLS, 0, "must be positive"),
])
def test_unusable_settings_are_refused(secret: str, urls: tuple[str, ...], ttl: int,
                                       message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TurnCredentials(secret, urls, ttl)
