"""Radio sessions kept in NATS key/value, so that the next radio leader can resume them.

The leader writes each session's resumable state (:class:`SessionRecord`: session id,
user, joined talkgroups, selected talkgroup) to the cluster's ``radio_sessions`` bucket
whenever it changes, under ``u<user id>``, and deletes it when the session ends (expired
after the resume window, or replaced). Losing the leadership deletes nothing: those
records are what the next leader resumes.

Rules:

1. Writes leave the radio's path at once: the service hands a record over and carries on;
   one writer task puts the latest record of each user (older ones it had not written yet
   are skipped) while this node holds the lease. A write that fails is tried again with
   the next change or the next write of anyone (the record stays pending).
2. Each record carries the fencing token of the leader that wrote it. A new leader resumes
   a record only if an earlier leader wrote it (its token is older than the one this node
   gained the lease with) and only within ``resume_window`` seconds of taking over: a
   client whose leader died reconnects within seconds, and a session the old leader kept
   for a dropped socket had at most that long left. Once the window has passed, the new
   leader deletes the records of earlier leaders that nobody resumed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from nats.js.errors import KeyNotFoundError, NoKeysError
from nats.js.kv import KeyValue

log = logging.getLogger("ptt.sessions")

BUCKET = "radio_sessions"


@dataclass(frozen=True)
class SessionRecord:
    session: str
    user: int
    groups: tuple[str, ...]
    selected: str | None
    token: int = 0

    def encode(self) -> bytes:
        return json.dumps({"session": self.session, "user": self.user,
                           "groups": list(self.groups), "selected": self.selected,
                           "token": self.token}).encode()

    @classmethod
    def decode(cls, raw: bytes) -> SessionRecord:
        data = json.loads(raw)
        return cls(str(data["session"]), int(data["user"]),
                   tuple(str(g) for g in data["groups"]),
                   None if data["selected"] is None else str(data["selected"]),
                   int(data["token"]))


def key(user: int) -> str:
    return f"u{user}"


class SessionBook:
    """The sessions bucket, as the radio leader uses it. ``token()`` is this node's
    fencing token while it leads (None otherwise)."""

    def __init__(self, kv: KeyValue, token: Callable[[], int | None], *,
                 resume_window: float) -> None:
        self.kv = kv
        self.token = token
        self.resume_window = resume_window
        #: user -> the record to write (None: delete), in the order of the changes.
        self._pending: dict[int, SessionRecord | None] = {}
        self._written: dict[int, SessionRecord] = {}
        self._since: int | None = None
        self._took_over_at: float | None = None
        self._wake = asyncio.Event()
        self._writer = asyncio.create_task(self._write(), name="radio-sessions")
        self._purge: asyncio.TimerHandle | None = None

    # -- the service's side (synchronous, rule 1) -----------------------------------------

    def saved(self, record: SessionRecord) -> None:
        if self._written.get(record.user) == record and record.user not in self._pending:
            return
        self._pending.pop(record.user, None)
        self._pending[record.user] = record
        self._wake.set()

    def forgotten(self, user: int) -> None:
        self._pending.pop(user, None)
        self._pending[user] = None
        self._wake.set()

    # -- leadership ----------------------------------------------------------------------

    def took_over(self, token: int) -> None:
        """This node became the leader with ``token``: accept earlier leaders' records for
        the resume window, then purge those left (rule 2)."""
        loop = asyncio.get_running_loop()
        self._since, self._took_over_at = token, loop.time()
        self._pending.clear()
        self._written.clear()
        if self._purge is not None:
            self._purge.cancel()
        self._purge = loop.call_later(self.resume_window,
                                      lambda: asyncio.create_task(self._purge_old(token)))

    def stepped_down(self) -> None:
        self._since = self._took_over_at = None
        self._pending.clear()
        if self._purge is not None:
            self._purge.cancel()
            self._purge = None

    async def load(self, user: int) -> SessionRecord | None:
        """An earlier leader's record of ``user``'s session, if it may be resumed now."""
        if self._since is None or self._took_over_at is None or (
                asyncio.get_running_loop().time() > self._took_over_at + self.resume_window):
            return None
        try:
            entry = await asyncio.wait_for(self.kv.get(key(user)), 1.0)
            record = SessionRecord.decode(entry.value or b"")
        except KeyNotFoundError:
            return None
        except Exception as exc:
            log.warning("session record unreadable: %r", exc)
            return None
        return record if record.token < self._since and record.user == user else None

    async def close(self) -> None:
        if self._purge is not None:
            self._purge.cancel()
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer

    # -- writing ---------------------------------------------------------------------------

    async def _write(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                token = self.token()
                if token is None:
                    break  # not the leader: nothing to write (rule 2)
                user, record = next(iter(self._pending.items()))
                try:
                    if record is None:
                        with contextlib.suppress(KeyNotFoundError):
                            await self.kv.delete(key(user))
                        self._written.pop(user, None)
                    else:
                        stamped = SessionRecord(record.session, user, record.groups,
                                                record.selected, token)
                        await self.kv.put(key(user), stamped.encode())
                        self._written[user] = record
                except Exception as exc:
                    log.warning("session record not written: %r", exc)
                    break
                if self._pending.get(user, record) is record:
                    self._pending.pop(user, None)

    async def _purge_old(self, token: int) -> None:
        try:
            users = await self.kv.keys()
        except NoKeysError:
            return
        except Exception as exc:
            log.warning("session records not purged: %r", exc)
            return
        for name in users:
            with contextlib.suppress(Exception):
                entry = await self.kv.get(name)
                if SessionRecord.decode(entry.value or b"").token < token \
                        and self._since == token:
                    await self.kv.delete(name)
