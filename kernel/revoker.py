"""The adapter of :mod:`kernel.revocation`: watches the accounts of live sockets, closes
the sockets whose credentials were revoked.

Accounts are changed by ``siaga user disable`` / ``siaga user passwd``, another process
writing the same database, so the server cannot be told in-process: it looks. Every
:data:`POLL_INTERVAL` seconds one query reads the ``token_version`` and ``disabled`` of the
accounts that have live sockets (none: no query), so a revocation closes them within a
second. What changes is published on the bus as :class:`CredentialsChanged`; the bus handler
(:meth:`Revoker.handle`) closes the sockets, which is where an event carried from another
node would arrive too.

The radio and the dispatch stream each hold their sockets here with a close callback; the
callback must not block (it schedules the close).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kernel.identity import User
from kernel.revocation import CredentialsChanged, Observed, Revocations

log = logging.getLogger("siaga.revocation")

POLL_INTERVAL = 0.25
#: Accounts looked up per query (bound parameters stay well under every backend's limit).
CHUNK = 500


class Revoker:
    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 interval: float = POLL_INTERVAL) -> None:
        self._db = sessions
        self._interval = interval
        self._core: Revocations[int] = Revocations()
        self._closers: dict[int, Callable[[], None]] = {}
        self._keys = itertools.count()
        self._task: asyncio.Task[None] | None = None
        self._publish: Callable[[CredentialsChanged], None] = self.apply

    def hold(self, user_id: int, token_version: int,
             close: Callable[[], None]) -> Callable[[], None]:
        """A live socket of ``user_id`` opened with ``token_version``; ``close()`` ends it
        when revoked. Returns the function to call when the socket ends."""
        key = next(self._keys)
        self._core.hold(key, user_id, token_version)
        self._closers[key] = close

        def release() -> None:
            self._core.release(key)
            self._closers.pop(key, None)

        return release

    def apply(self, change: CredentialsChanged) -> None:
        for key in self._core.apply(change):
            close = self._closers.pop(key)
            log.info("session revoked", extra={"user_id": change.user_id})
            try:
                close()
            except Exception:
                log.exception("closing a revoked session failed")

    async def handle(self, change: CredentialsChanged) -> None:
        """The bus handler of :class:`CredentialsChanged`."""
        self.apply(change)

    async def poll(self) -> None:
        """One look at the accounts of live sockets; publishes what changed."""
        users = self._core.users()
        found: list[Observed] = []
        for start in range(0, len(users), CHUNK):
            chunk = users[start:start + CHUNK]
            async with self._db() as session:
                rows = await session.execute(
                    select(User.id, User.token_version, User.disabled)
                    .where(User.id.in_(chunk)))
            found.extend(Observed(row.id, row.token_version, row.disabled) for row in rows)
        for change in self._core.observe(users, found):
            self._publish(change)

    def start(self, publish: Callable[[object], None] | None = None) -> None:
        """Poll until :meth:`close`; changes go to ``publish`` (the bus), else straight to
        :meth:`apply`."""
        if publish is not None:
            self._publish = publish
        self._task = asyncio.create_task(self._run(), name="revoker")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.poll()
            except Exception:
                log.exception("looking up revoked accounts failed")

    def __len__(self) -> int:
        return len(self._core)
