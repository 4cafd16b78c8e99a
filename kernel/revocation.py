"""Revocation of live sessions: which open sockets a credentials change must close.

A token is checked when a socket opens; a socket then lives for hours. Disabling an account
or changing its password bumps the account's ``token_version`` (:mod:`kernel.identity`), and
every live session opened with an older version must end. Rules:

1. A live session is *held* with the user id and the token version it was opened with, under
   a key its adapter chooses (one per socket), and *released* when the socket ends.
2. What the database says about the held users is *observed* (user id, current version,
   disabled; an account that no longer exists is observed as missing). A held session is
   stale when its account is missing or disabled or its version differs from the current.
   Observing yields one :class:`CredentialsChanged` per account with stale sessions, once per
   (account, version, disabled): observing the same state again yields nothing.
3. :class:`CredentialsChanged` is a plain event (user id, current version, disabled). It can
   be published on the bus and carried between server nodes; :meth:`Revocations.apply` on
   each node returns the keys of the sessions it makes stale there, and forgets them.

No I/O and no clock here: the adapter (:mod:`kernel.revoker`) polls the database and closes
the sockets.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

#: The WebSocket close code of a session whose credentials were revoked (``/ws`` and
#: ``/api/dispatch/stream`` alike; docs/protocol.md, docs/dispatch.md).
CLOSE_REVOKED = 4004


@dataclass(frozen=True, slots=True)
class CredentialsChanged:
    """The account ``user_id`` now accepts only tokens of ``token_version`` (none at all when
    ``disabled``). ``token_version`` is -1 for an account that no longer exists."""

    user_id: int
    token_version: int
    disabled: bool = False

    def revokes(self, version: int) -> bool:
        return self.disabled or version != self.token_version


@dataclass(frozen=True, slots=True)
class Observed:
    """One account as the database has it now."""

    user_id: int
    token_version: int
    disabled: bool


class Revocations(Generic[K]):
    """The live sessions, each under a key ``K`` of the adapter's choosing."""

    def __init__(self) -> None:
        self._sessions: dict[K, tuple[int, int]] = {}
        self._by_user: dict[int, set[K]] = {}
        self._announced: dict[int, CredentialsChanged] = {}

    def hold(self, key: K, user_id: int, token_version: int) -> None:
        """Rule 1: a socket of ``user_id`` opened with a token of ``token_version``."""
        self.release(key)
        self._sessions[key] = (user_id, token_version)
        self._by_user.setdefault(user_id, set()).add(key)

    def release(self, key: K) -> None:
        held = self._sessions.pop(key, None)
        if held is None:
            return
        keys = self._by_user[held[0]]
        keys.discard(key)
        if not keys:
            del self._by_user[held[0]]
            self._announced.pop(held[0], None)

    def users(self) -> list[int]:
        """The accounts with live sessions, in a stable order (what to look up)."""
        return sorted(self._by_user)

    def observe(self, users: Iterable[int], found: Iterable[Observed]
                ) -> list[CredentialsChanged]:
        """Rule 2: ``found`` is what the database holds of ``users`` (those looked up)."""
        current = {row.user_id: row for row in found}
        changes = []
        for user in users:
            row = current.get(user)
            change = (CredentialsChanged(user, -1) if row is None
                      else CredentialsChanged(user, row.token_version, row.disabled))
            if self._announced.get(user) == change or not self._stale(user, change):
                continue
            self._announced[user] = change
            changes.append(change)
        return changes

    def apply(self, change: CredentialsChanged) -> list[K]:
        """Rule 3: the keys of the sessions ``change`` revokes, released."""
        stale = [key for key in self._by_user.get(change.user_id, ())
                 if change.revokes(self._sessions[key][1])]
        for key in stale:
            self.release(key)
        return stale

    def _stale(self, user: int, change: CredentialsChanged) -> bool:
        return any(change.revokes(self._sessions[key][1]) for key in self._by_user.get(user, ()))

    def __len__(self) -> int:
        return len(self._sessions)
