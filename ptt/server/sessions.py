"""Radio sessions kept in NATS key/value, so that the next radio leader can resume them.

The leader writes each session's resumable state (:class:`SessionRecord`: session id,
user, joined talkgroups, selected talkgroup) to the cluster's ``radio_sessions`` bucket
whenever it changes, under ``u<user id>``, and deletes it when the session ends (expired
after the resume window, or replaced); the active emergencies
(:class:`EmergencyRecord`) go under ``emergencies``, the patches in force
(:class:`PatchRecord`) under ``patches``. Losing the leadership deletes nothing: those
records are what the next leader resumes.

Rules:

1. Writes leave the radio's path at once: the service hands a record over and carries on;
   one writer task puts the latest record of each user (older ones it had not written yet
   are skipped) while this node holds the lease. A write that fails is tried again with
   the next change or the next write of anyone (the record stays pending).
3. The emergencies and patches an earlier leader wrote are restored by the next one as it
   takes over (:meth:`SessionBook.emergencies`, :meth:`SessionBook.patches`), whatever
   the time.
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
from typing import Any, TypeVar

from nats.js.errors import KeyNotFoundError, NoKeysError
from nats.js.kv import KeyValue

from ptt.protocol import identity
from ptt.talkgroup import Identity, Role

log = logging.getLogger("ptt.sessions")

BUCKET = "radio_sessions"


@dataclass(frozen=True)
class SessionRecord:
    session: str
    user: int
    groups: tuple[str, ...]
    selected: str | None
    token: int = 0

    def encode(self, token: int) -> bytes:
        return json.dumps({"session": self.session, "user": self.user,
                           "groups": list(self.groups), "selected": self.selected,
                           "token": token}).encode()

    @classmethod
    def decode(cls, raw: bytes) -> SessionRecord:
        data = json.loads(raw)
        return cls(str(data["session"]), int(data["user"]),
                   tuple(str(g) for g in data["groups"]),
                   None if data["selected"] is None else str(data["selected"]),
                   int(data["token"]))


@dataclass(frozen=True)
class EmergencyRecord:
    """The active emergencies: (talkgroup, raised by, acknowledged by or None) each."""

    emergencies: tuple[tuple[str, Identity, Identity | None], ...]
    token: int = 0

    def encode(self, token: int) -> bytes:
        return json.dumps({"token": token, "emergencies": [
            {"talkgroup": tg, "raised_by": identity(raised),
             "acknowledged_by": None if ack is None else identity(ack)}
            for tg, raised, ack in self.emergencies]}).encode()

    @classmethod
    def decode(cls, raw: bytes) -> EmergencyRecord:
        data = json.loads(raw)
        return cls(tuple((str(e["talkgroup"]), _identity(e["raised_by"]),
                          None if e["acknowledged_by"] is None
                          else _identity(e["acknowledged_by"]))
                         for e in data["emergencies"]), int(data["token"]))


@dataclass(frozen=True)
class PatchRecord:
    """The patches in force: the talkgroups of each."""

    patches: tuple[tuple[str, ...], ...]
    token: int = 0

    def encode(self, token: int) -> bytes:
        return json.dumps({"token": token,
                           "patches": [list(groups) for groups in self.patches]}).encode()

    @classmethod
    def decode(cls, raw: bytes) -> PatchRecord:
        data = json.loads(raw)
        return cls(tuple(tuple(str(tg) for tg in groups) for groups in data["patches"]),
                   int(data["token"]))


def _identity(data: dict[str, Any]) -> Identity:
    return Identity(int(data["user_id"]), str(data["username"]), str(data["name"]),
                    str(data["agency"]), Role(data["role"]),
                    None if data["unit"] is None else str(data["unit"]))


Record = SessionRecord | EmergencyRecord | PatchRecord
R = TypeVar("R", SessionRecord, EmergencyRecord, PatchRecord)
EMERGENCIES = "emergencies"
PATCHES = "patches"


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
        #: key -> the record to write (None: delete), in the order of the changes.
        self._pending: dict[str, Record | None] = {}
        self._written: dict[str, Record] = {}
        self._since: int | None = None
        self._took_over_at: float | None = None
        self._wake = asyncio.Event()
        self._writer = asyncio.create_task(self._write(), name="radio-sessions")
        self._purge: asyncio.TimerHandle | None = None

    # -- the service's side (synchronous, rule 1) -----------------------------------------

    def saved(self, record: SessionRecord) -> None:
        self._put(key(record.user), record)

    def forgotten(self, user: int) -> None:
        self._put(key(user), None)

    def emergencies_changed(self, record: EmergencyRecord) -> None:
        self._put(EMERGENCIES, record)

    def patches_changed(self, record: PatchRecord) -> None:
        self._put(PATCHES, record)

    def _put(self, name: str, record: Record | None) -> None:
        if record is not None and self._written.get(name) == record \
                and name not in self._pending:
            return
        self._pending.pop(name, None)
        self._pending[name] = record
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

    async def emergencies(self) -> EmergencyRecord | None:
        """The emergencies an earlier leader had (rule 3), or None."""
        return await self._earlier(EMERGENCIES, EmergencyRecord.decode)

    async def patches(self) -> PatchRecord | None:
        """The patches an earlier leader had (rule 3), or None."""
        return await self._earlier(PATCHES, PatchRecord.decode)

    async def load(self, user: int) -> SessionRecord | None:
        """An earlier leader's record of ``user``'s session, if it may be resumed now."""
        if self._took_over_at is None or (
                asyncio.get_running_loop().time() > self._took_over_at + self.resume_window):
            return None
        record = await self._earlier(key(user), SessionRecord.decode)
        return record if record is not None and record.user == user else None

    async def _earlier(self, name: str, decode: Callable[[bytes], R]) -> R | None:
        """The record ``name`` if an earlier leader wrote it (rule 2), else None."""
        since = self._since
        if since is None:
            return None
        try:
            entry = await asyncio.wait_for(self.kv.get(name), 1.0)
            record = decode(entry.value or b"")
        except KeyNotFoundError:
            return None
        except Exception as exc:
            log.warning("record %s unreadable: %r", name, exc)
            return None
        return record if record.token < since else None

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
                name, record = next(iter(self._pending.items()))
                try:
                    if record is None:
                        with contextlib.suppress(KeyNotFoundError):
                            await self.kv.delete(name)
                        self._written.pop(name, None)
                    else:
                        await self.kv.put(name, record.encode(token))
                        self._written[name] = record
                except Exception as exc:
                    log.warning("session record not written: %r", exc)
                    break
                if self._pending.get(name, record) is record:
                    self._pending.pop(name, None)

    async def _purge_old(self, token: int) -> None:
        try:
            users = await self.kv.keys()
        except NoKeysError:
            return
        except Exception as exc:
            log.warning("session records not purged: %r", exc)
            return
        for name in users:
            if name in (EMERGENCIES, PATCHES):
                continue
            with contextlib.suppress(Exception):
                entry = await self.kv.get(name)
                if SessionRecord.decode(entry.value or b"").token < token \
                        and self._since == token:
                    await self.kv.delete(name)
