"""Records every transmission as a standard Ogg Opus file, off the event loop.

Rules:

1. One file per transmission (burst: a floor grant until it ends), at
   ``<root>/YYYY/MM/DD/<transmission id>.opus`` (UTC date of its start), made by
   :class:`ptt.oggopus.OggOpusWriter` from the talker's Opus packets exactly as received:
   nothing is decoded or re-encoded.
2. The event loop only enqueues. ``burst_started``, ``packet``, ``burst_ended`` and
   ``transmission_stored`` put small commands on a queue that one writer thread drains (Ogg
   pages, CRCs and file I/O all happen there). When more than ``queue_limit`` packets wait,
   a packet is dropped and counted (its recording gets a gap; the relay never waits);
   control commands are never dropped.
3. A page is written and flushed to the OS as soon as the writer emits it (every 0.5 s of
   audio), so even a crash of the server leaves a decodable file missing at most that much;
   the end of a burst (release, revoke, talker gone) writes the end-of-stream page.
4. Gaps in the talker's timestamps (lost packets, DTX) from 20 ms up to ``MAX_GAP`` are filled
   with PLC packets (a decoder conceals them), so the file lasts as long as the talk did.
5. The file is named after the transmission's row id, which the store assigns a few
   milliseconds after the burst starts (``SqlRadioStore.on_transmission_started`` calls
   ``transmission_stored``): pages wait in memory until then. If the row could not be stored
   the recording is discarded (nothing could ever list it).
6. A disk error (directory, open, write) fails that one recording: logged at ERROR, counted in
   ``metrics.disk_errors``, its partial file removed, and ``alarm`` set for the console until a
   later recording completes. Audio forwarding is never affected.
7. A burst that ends without a packet (a grant never used) leaves no file: whatever was
   written is removed and nothing is reported (``metrics.empty``); the store forgets its row.
8. A completed recording is reported to the store (``transmission_recorded``): path relative
   to the root, size in bytes, playable duration in ms.
9. Purging (:func:`purge_expired`, daily and on demand) applies :mod:`ptt.retention`: it
   deletes each expired file, then the rows whose files are gone, in one transaction. A file
   that cannot be deleted keeps its row (tried again next time); a row whose file is already
   missing is deleted. Empty day/month/year directories are removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ptt.oggopus import PLC_PACKET, OggOpusError, OggOpusWriter
from ptt.retention import DEFAULT_DAYS, Recorded, RetentionPolicy
from ptt.server.service import Burst
from ptt.store.models import TalkgroupRow, TransmissionRow

log = logging.getLogger("ptt.recorder")

#: Longest gap in a talker's timeline filled with concealment (longer: a clock jump, ignored).
MAX_GAP = 10 * 48000
_PLC_SAMPLES = 960
_TS_MOD = 1 << 32


class RecordingStore(Protocol):
    def transmission_recorded(self, row_id: int, path: str, size: int,
                              duration_ms: int) -> None: ...


@dataclass(slots=True)
class RecorderMetrics:
    started: int = 0
    completed: int = 0
    failed: int = 0
    discarded: int = 0
    packets: int = 0
    bytes_written: int = 0
    disk_errors: int = 0
    dropped_queue_full: int = 0
    empty: int = 0


@dataclass(eq=False)
class _Recording:
    """One transmission's recording. Loop-side fields first; the rest belong to the thread."""

    burst: object
    talker: int
    talkgroup: str
    started_at: datetime
    ended_on_loop: bool = False
    named_on_loop: bool = False
    # Thread side.
    writer: OggOpusWriter | None = None
    pending: bytearray = field(default_factory=bytearray)
    file: BinaryIO | None = None
    path: Path | None = None
    relative: str = ""
    row_id: int | None = None
    size: int = 0
    next_ts: int | None = None
    packets: int = 0
    ended: bool = False
    failed: bool = False


_START, _PACKET, _NAME, _END, _DISCARD = range(5)


class Recorder:
    """See the module docstring. ``store`` gets ``transmission_recorded`` on the loop."""

    def __init__(self, root: Path, store: RecordingStore, *, queue_limit: int = 5000,
                 flush_samples: int = 24000) -> None:
        self.root = root
        self.store = store
        self.queue_limit = queue_limit
        self.flush_samples = flush_samples
        self.metrics = RecorderMetrics()
        #: Why recording is failing, for the console; None when healthy.
        self.alarm: str | None = None
        self._queue: queue.Queue[tuple[object, ...] | None] = queue.Queue()
        self._by_talker: dict[int, _Recording] = {}
        self._by_burst: dict[object, _Recording] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="ptt-recorder", daemon=True)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread.start()

    async def flush(self) -> None:
        """Wait until the thread has handled everything queued so far."""
        await asyncio.to_thread(self._queue.join)
        await asyncio.sleep(0)  # let the completion callbacks run

    async def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            await asyncio.to_thread(self._thread.join)
        await asyncio.sleep(0)
        unfinished = sum(1 for r in self._by_burst.values() if not r.named_on_loop)
        if unfinished:
            log.error("recordings lost at shutdown: no transmission id",
                      extra={"count": unfinished})

    # -- event loop side (BurstObserver, store hook, packets) ---------------------------

    def burst_started(self, burst: Burst, at: datetime) -> None:
        rec = _Recording(burst, burst.talker, burst.talkgroup, at)
        self._by_talker[burst.talker] = rec
        self._by_burst[burst] = rec
        self.metrics.started += 1
        self._queue.put((_START, rec))

    def burst_ended(self, burst: Burst, reason: str, at: datetime) -> None:
        rec = self._by_burst.get(burst)
        if rec is None:
            return
        if self._by_talker.get(rec.talker) is rec:
            del self._by_talker[rec.talker]
        rec.ended_on_loop = True
        if rec.named_on_loop:
            del self._by_burst[burst]
        self._queue.put((_END, rec))

    def transmission_stored(self, key: object, row_id: int | None) -> None:
        rec = self._by_burst.get(key)
        if rec is None:
            return
        rec.named_on_loop = True
        if rec.ended_on_loop:
            del self._by_burst[key]
        self._queue.put((_DISCARD, rec) if row_id is None else (_NAME, rec, row_id))

    def packet(self, talker: int, payload: bytes, timestamp: int, samples: int) -> None:
        """A forwarded packet of ``talker`` (already checked: floor, Opus TOC)."""
        rec = self._by_talker.get(talker)
        if rec is None:
            return
        if self._queue.qsize() >= self.queue_limit:
            self.metrics.dropped_queue_full += 1
            if self.alarm is None:
                self._raise_alarm("recorder queue full: the disk is too slow; audio dropped")
            return
        self._queue.put_nowait((_PACKET, rec, payload, timestamp, samples))

    def _completed(self, rec: _Recording, duration_ms: int) -> None:
        assert rec.row_id is not None
        self.metrics.completed += 1
        self.alarm = None
        self.store.transmission_recorded(rec.row_id, rec.relative, rec.size, duration_ms)

    def _raise_alarm(self, message: str) -> None:
        self.alarm = message
        log.error("recording alarm", extra={"reason": message})

    # -- writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            cmd = self._queue.get()
            try:
                if cmd is None:
                    return
                self._apply(cmd)
            except Exception:  # a bug, not the disk: keep recording the others
                log.exception("recorder command failed")
            finally:
                self._queue.task_done()

    def _apply(self, cmd: tuple[object, ...]) -> None:
        kind, rec = cmd[0], cmd[1]
        assert isinstance(rec, _Recording)
        if kind == _PACKET:
            self._write_packet(rec, cmd[2], cmd[3], cmd[4])  # type: ignore[arg-type]
        elif kind == _START:
            rec.writer = OggOpusWriter(
                serial=random.randrange(_TS_MOD), flush_samples=self.flush_samples,
                comments=[("TALKGROUP", rec.talkgroup), ("TALKER", str(rec.talker)),
                          ("DATE", rec.started_at.isoformat())])
        elif kind == _NAME:
            self._open(rec, cmd[2])  # type: ignore[arg-type]
        elif kind == _END:
            rec.ended = True
            if rec.packets == 0 and not rec.failed:
                self._drop_empty(rec)
            if rec.writer is not None and not rec.failed:
                self._emit(rec, rec.writer.close())
            if rec.file is not None or rec.failed:
                self._finish(rec)
        elif kind == _DISCARD:
            self.metrics.discarded += 1
            rec.failed, rec.pending = True, bytearray()

    def _write_packet(self, rec: _Recording, payload: bytes, ts: int, samples: int) -> None:
        writer = rec.writer
        if writer is None or rec.failed or rec.ended:
            return
        out = bytearray()
        if rec.next_ts is not None:
            gap = (ts - rec.next_ts) % _TS_MOD
            if _PLC_SAMPLES <= gap <= MAX_GAP:
                for _ in range(gap // _PLC_SAMPLES):
                    out += writer.write(PLC_PACKET)
        try:
            out += writer.write(payload)
        except OggOpusError:
            return
        rec.next_ts = (ts + samples) % _TS_MOD
        rec.packets += 1
        self.metrics.packets += 1
        self._emit(rec, bytes(out))

    def _open(self, rec: _Recording, row_id: int) -> None:
        rec.row_id = row_id
        rec.relative = f"{rec.started_at:%Y/%m/%d}/{row_id}.opus"
        rec.path = self.root / rec.relative
        if rec.failed:
            return
        try:
            rec.path.parent.mkdir(parents=True, exist_ok=True)
            rec.file = open(rec.path, "wb")  # closed in _finish
        except OSError as exc:
            self._fail(rec, exc)
            return
        pending, rec.pending = bytes(rec.pending), bytearray()
        self._emit(rec, pending)
        if rec.ended:
            self._finish(rec)

    def _emit(self, rec: _Recording, data: bytes) -> None:
        if not data or rec.failed:
            return
        if rec.file is None:
            rec.pending += data
            return
        try:
            rec.file.write(data)
            rec.file.flush()
        except OSError as exc:
            self._fail(rec, exc)
            return
        rec.size += len(data)
        self.metrics.bytes_written += len(data)

    def _finish(self, rec: _Recording) -> None:
        if rec.file is not None:
            try:
                rec.file.close()
            except OSError as exc:
                self._fail(rec, exc)
            rec.file = None
        if rec.failed:
            return
        duration_ms = round(rec.writer.duration * 1000) if rec.writer is not None else 0
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._completed, rec, duration_ms)

    def _drop_empty(self, rec: _Recording) -> None:
        """Rule 7: no audio, no recording (the file, if opened, held only headers)."""
        self.metrics.empty += 1
        _discard(rec)

    def _fail(self, rec: _Recording, exc: OSError) -> None:
        self.metrics.failed += 1
        self.metrics.disk_errors += 1
        _discard(rec)
        message = f"cannot write recording {rec.relative or rec.talkgroup}: {exc}"
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._raise_alarm, message)
        else:
            log.error("recording alarm", extra={"reason": message})


# -- retention ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PurgeReport:
    rows: int
    files: int
    bytes: int
    errors: tuple[str, ...] = ()


def resolve(root: Path, relative: str) -> Path | None:
    """``relative`` under ``root``, or None if it would point outside it."""
    path = (root / relative).resolve()
    return path if path.is_relative_to(root.resolve()) else None


async def purge_expired(sessions: async_sessionmaker[AsyncSession], root: Path, now: datetime,
                        *, default_days: int = DEFAULT_DAYS, dry_run: bool = False
                        ) -> PurgeReport:
    """Delete the expired transmissions, files and rows together (rule 9)."""
    async with sessions() as s:
        days = {code: d for code, d in (await s.execute(
            select(TalkgroupRow.code, TalkgroupRow.retention_days)))}
        policy = RetentionPolicy(days, default_days)
        before = policy.candidates_before(now)
        if before is None:
            return PurgeReport(0, 0, 0)
        rows = (await s.execute(select(
            TransmissionRow.id, TransmissionRow.talkgroup, TransmissionRow.started_at,
            TransmissionRow.path).where(TransmissionRow.started_at < before)))
        expired = policy.expired((Recorded(*row) for row in rows), now)
    if dry_run:
        return PurgeReport(len(expired), sum(1 for e in expired if e.path), 0)
    # Stat, unlink and rmdir of every expired file in one trip off the event loop.
    gone, files, size, errors = await asyncio.to_thread(_delete_files, expired, root)
    async with sessions() as s, s.begin():
        for i in range(0, len(gone), 500):
            await s.execute(delete(TransmissionRow).where(
                TransmissionRow.id.in_(gone[i:i + 500])))
    if errors:
        log.error("purge could not delete some recordings",
                  extra={"count": len(errors), "first": errors[0]})
    log.info("recordings purged", extra={"rows": len(gone), "files": files, "bytes": size})
    return PurgeReport(len(gone), files, size, tuple(errors))


def _delete_files(expired: list[Recorded], root: Path
                  ) -> tuple[list[int], int, int, list[str]]:
    """Delete the files of ``expired``: the ids whose file is gone, files deleted, bytes
    freed, and the files that could not be deleted (their rows stay)."""
    gone: list[int] = []
    files, size, errors = 0, 0, []
    for item in expired:
        path = resolve(root, item.path) if item.path else None
        if path is not None:
            try:
                size += path.stat().st_size
                path.unlink()
                files += 1
                _prune_dirs(path.parent, root)
            except FileNotFoundError:
                pass
            except OSError as exc:
                errors.append(f"{item.path}: {exc}")
                continue
        gone.append(item.id)
    return gone, files, size, errors


def _prune_dirs(directory: Path, root: Path) -> None:
    """Remove empty directories from ``directory`` up to (not including) ``root``."""
    root = root.resolve()
    while directory.resolve() != root and directory.resolve().is_relative_to(root):
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent


def _discard(rec: _Recording) -> None:
    """Give up on ``rec``: nothing more is written, and its file (if any) is removed."""
    rec.failed, rec.pending = True, bytearray()
    if rec.file is not None:
        with contextlib.suppress(OSError):
            rec.file.close()
        rec.file = None
    if rec.path is not None:
        with contextlib.suppress(OSError):
            rec.path.unlink(missing_ok=True)
