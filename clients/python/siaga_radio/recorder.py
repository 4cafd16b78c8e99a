"""Saving what a listener hears: one Ogg Opus file per transmission and talkgroup.

Rules:

1. A transmission of a talkgroup begins with its first packet (its talker is the one
   ``floor_taken`` or ``joined.talker`` named) and ends ``grace`` seconds after both the
   ``floor_idle`` and the last packet, at once when another talker takes the floor, when a
   WebSocket frame starts a new stream id, or after ``silence`` seconds without audio.
   Audio travels apart from signaling over WebRTC, so the grace lets the last packets in,
   and a transmission whose first packets came before any ``floor_taken`` takes the talker
   that message then names.
2. Packets are written as received (no re-encoding). A gap in the sequence numbers (lost
   packets, up to ``max_fill``) is filled with one-byte concealment packets, 20 ms each, so
   a recording lasts as long as the talk; duplicates and late packets are dropped.
3. Files are written under ``<name>.part`` and renamed when complete.

Time comes from ``clock``, the event loop's by default, and then each transmission's end is
a ``loop.call_at``. Given another clock (tests step one by hand), no loop timer is armed:
:meth:`TransmissionRecorder.get_timer` says when the next transmission ends and
:meth:`TransmissionRecorder.handle_timer` ends those whose time has come.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from siaga_radio.ogg import PLC_PACKET, OggOpusFile


@dataclass
class Recording:
    path: Path
    talkgroup: str
    talker: str | None
    started_at: datetime
    packets: int
    lost: int
    duration: float


class _Open:
    def __init__(self, file: OggOpusFile, talkgroup: str, talker: dict[str, Any] | None,
                 stream: int | None) -> None:
        self.file = file
        self.talkgroup = talkgroup
        self.talker = talker
        self.stream = stream
        self.started_at = datetime.now(UTC)
        self.last_seq: int | None = None
        self.lost = 0
        self.idle = False
        self.ends_at = math.inf
        self.timer: asyncio.TimerHandle | None = None


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:40] or "_"


class TransmissionRecorder:
    def __init__(self, out_dir: str | Path, *, talkgroups: set[str] | None = None,
                 grace: float = 0.5, silence: float = 2.0, max_fill: int = 50,
                 standalone_ogg: bool = False,
                 on_saved: Callable[[Recording], None] | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.talkgroups = talkgroups
        self.grace = grace
        self.silence = silence
        self.max_fill = max_fill
        self.standalone_ogg = standalone_ogg
        self.on_saved = on_saved
        self._clock = clock
        self.saved: list[Recording] = []
        self.changed = asyncio.Event()
        self._open: dict[str, _Open] = {}
        self._talker: dict[str, dict[str, Any] | None] = {}

    def attach(self, client: Any) -> None:
        client.on_message.append(self.on_message)
        client.on_audio.append(self.on_audio)

    def on_message(self, msg: dict[str, Any]) -> None:
        match msg.get("type"):
            case "floor_taken":
                for tg in msg["talkgroups"]:
                    self._talker[tg] = msg["talker"]
                    cur = self._open.get(tg)
                    if cur is not None and cur.talker is None:
                        cur.talker = msg["talker"]  # its first packets beat the message
                    elif cur is not None and (cur.talker or {}).get("user_id") != \
                            msg["talker"].get("user_id"):
                        self._finish(tg)
            case "joined":
                self._talker[msg["talkgroup"]] = msg.get("talker")
            case "floor_idle":
                for tg in msg["talkgroups"]:
                    self._talker[tg] = None
                    cur = self._open.get(tg)
                    if cur is not None:
                        cur.idle = True
                        self._arm(cur, self.grace)

    def on_audio(self, talkgroup: str, packet: bytes, sequence: int, stream: int | None) -> None:
        if self.talkgroups is not None and talkgroup not in self.talkgroups:
            return
        cur = self._open.get(talkgroup)
        if cur is not None and stream is not None and cur.stream != stream:
            self._finish(talkgroup)
            cur = None
        if cur is None:
            cur = self._start(talkgroup, stream)
        modulus = 1 << (16 if stream is None else 32)
        if cur.last_seq is not None:
            step = (sequence - cur.last_seq) % modulus
            if step == 0 or step > modulus // 2:
                return  # a duplicate or a late packet
            missing = step - 1
            if 0 < missing <= self.max_fill:
                for _ in range(missing):
                    cur.file.write(PLC_PACKET)
                cur.lost += missing
        cur.last_seq = sequence
        cur.file.write(packet)
        self._arm(cur, self.grace if cur.idle else self.silence)

    def _start(self, talkgroup: str, stream: int | None) -> _Open:
        talker = self._talker.get(talkgroup)
        now = datetime.now(UTC)
        stamp = now.strftime("%Y%m%dT%H%M%S.") + f"{now.microsecond // 1000:03d}Z"
        who = talker.get("username", "unknown") if talker else "unknown"
        path = self.out_dir / f"{stamp}-{_safe(talkgroup)}-{_safe(who)}.opus"
        comments = {"TALKGROUP": talkgroup, "DATE": now.isoformat()}
        if talker:
            comments["TALKER"] = who
        cur = _Open(OggOpusFile(path, comments, standalone=self.standalone_ogg), talkgroup,
                    talker, stream)
        self._open[talkgroup] = cur
        return cur

    def _arm(self, cur: _Open, delay: float) -> None:
        if cur.timer is not None:
            cur.timer.cancel()
            cur.timer = None
        if self._clock is not None:
            cur.ends_at = self._clock() + delay
            return
        loop = asyncio.get_running_loop()
        cur.ends_at = loop.time() + delay
        cur.timer = loop.call_at(cur.ends_at, self._finish, cur.talkgroup)

    def get_timer(self) -> float | None:
        """When the next open transmission ends (``clock`` time); None if none is open."""
        return min((cur.ends_at for cur in self._open.values()), default=None)

    def handle_timer(self) -> list[Recording]:
        """End the transmissions whose time has come (with a clock of one's own)."""
        now = self._clock() if self._clock is not None else asyncio.get_running_loop().time()
        due = [tg for tg, cur in self._open.items() if cur.ends_at <= now]
        return [rec for tg in due if (rec := self._finish(tg)) is not None]

    def _finish(self, talkgroup: str) -> Recording | None:
        cur = self._open.pop(talkgroup, None)
        if cur is None:
            return None
        if cur.timer is not None:
            cur.timer.cancel()
        duration = cur.file.duration
        path = cur.file.close()
        rec = Recording(path, talkgroup, (cur.talker or {}).get("username"), cur.started_at,
                        cur.file.packets, cur.lost, duration)
        self.saved.append(rec)
        self.changed.set()
        if self.on_saved is not None:
            self.on_saved(rec)
        return rec

    def close(self) -> list[Recording]:
        """Finish every open transmission (end of a listen)."""
        for tg in list(self._open):
            self._finish(tg)
        return self.saved

    async def wait_saved(self, count: int, timeout: float) -> list[Recording]:
        async def until() -> None:
            while len(self.saved) < count:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(until(), timeout)
        return self.saved
