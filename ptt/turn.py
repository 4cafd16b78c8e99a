"""Short-lived TURN credentials, minted per client, as coturn's ``use-auth-secret`` checks them.

A TURN server that relays for anyone with a static password relays for whoever reads that
password off one phone. coturn's shared-secret mode ("TURN REST API",
draft-uberti-behave-turn-rest) needs no password store and no call from Siaga to coturn:

1. The username is ``<expiry>:<user id>``: the UNIX time after which coturn refuses it,
   then who it was given to (coturn logs it with every allocation).
2. The password is ``base64(HMAC-SHA1(secret, username))``, which coturn recomputes from its
   own copy of the secret (``static-auth-secret``). Nobody can make a password for another
   username or a later expiry without the secret.
3. Each ``welcome`` carries a fresh credential for that user, valid ``ttl`` seconds from
   ``now``; a client that reconnects gets a new one. coturn checks the expiry on every
   authenticated request, refreshes of a running allocation included, so ``ttl`` bounds
   how long a call can last on one credential (a client past it reconnects, as after any
   network change).

Pure: ``now`` is an argument.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

__all__ = ["TurnCredentials", "turn_password"]


def turn_password(secret: str, username: str) -> str:
    """The password coturn expects for ``username`` under ``secret`` (rule 2)."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True, slots=True)
class TurnCredentials:
    """Mints the TURN entry of a client's ``ice_servers`` (rules 1-3)."""

    secret: str
    urls: tuple[str, ...]
    ttl: int

    def __post_init__(self) -> None:
        if not self.secret:
            raise ValueError("the TURN secret is empty")
        if not self.urls:
            raise ValueError("no TURN URLs")
        if self.ttl <= 0:
            raise ValueError(f"TURN credential lifetime must be positive, not {self.ttl}")

    def username(self, user_id: int, now: float) -> str:
        return f"{int(now) + self.ttl}:{user_id}"

    def ice_server(self, user_id: int, now: float) -> dict[str, Any]:
        """``{"urls", "username", "credential"}`` for ``user_id``, valid from ``now``."""
        username = self.username(user_id, now)
        return {"urls": list(self.urls), "username": username,
                "credential": turn_password(self.secret, username)}
