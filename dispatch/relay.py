"""The console stream across nodes: what one node's stream message looks like on the wire,
and whether another node delivers it.

Rules:

1. Every stream message a node produces crosses as one envelope, JSON:
   ``{"origin": <node id>, "boot": <id of this run of the node>, "seq": <n>, "to": [<for
   dispatch consoles>, <hospital id or null>], "message": {...}}``. ``seq`` counts from 1 in
   each run (``boot``) of the origin; ``to`` is the message's audience (dispatch consoles,
   one hospital's screens, or both), so that each node delivers it to the same people.
2. A node never delivers its own envelopes: its consoles had the message from its own hub.
3. Per origin, envelopes are delivered in ``seq`` order. The transport keeps a publisher's
   order, so a ``seq`` at or below the last one seen (of the same run) is a repeat and is
   dropped; a ``seq`` beyond the next one means messages were lost on the way (a slow
   subscriber, a reconnection). The message is delivered and the verdict says
   :attr:`Verdict.GAP`: the node's consoles have missed something and must reload from the
   REST API, which is the source of truth (as a console that fell behind does).
4. A new ``boot`` of an origin (the node restarted) starts its count again; the first
   envelope seen of a run is never a gap (nothing of that run can have been missed that
   matters: the restarted node's consoles reloaded, the other nodes' consoles see the first
   message they can).
5. An envelope that is not such JSON is :attr:`Verdict.MALFORMED`, never an exception.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any


class Verdict(enum.Enum):
    DELIVER = "deliver"
    GAP = "gap"  # deliver, and the consoles missed something (rule 3)
    OWN = "own"
    REPEAT = "repeat"
    MALFORMED = "malformed"


@dataclass(frozen=True)
class Envelope:
    origin: str
    boot: str
    seq: int
    message: dict[str, Any]
    #: The audience: (for dispatch consoles, for this hospital's screens or None).
    to: tuple[bool, int | None] = (True, None)

    def encode(self, text: str | None = None) -> bytes:
        """The envelope as JSON; ``text`` is ``message`` already encoded (not done twice)."""
        body = text if text is not None else json.dumps(
            self.message, separators=(",", ":"), ensure_ascii=False)
        head = json.dumps({"origin": self.origin, "boot": self.boot, "seq": self.seq,
                           "to": list(self.to)}, separators=(",", ":"))
        return (head[:-1] + ',"message":' + body + "}").encode()

    @classmethod
    def decode(cls, raw: bytes) -> Envelope | None:
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            return None
        if not isinstance(data, dict):
            return None
        origin, boot, seq, message, to = (
            data.get(k) for k in ("origin", "boot", "seq", "message", "to"))
        if not (isinstance(origin, str) and isinstance(boot, str) and isinstance(message, dict)
                and _count(seq) and isinstance(to, list) and len(to) == 2
                and isinstance(to[0], bool) and (to[1] is None or _count(to[1]))):
            return None
        assert isinstance(seq, int)  # _count held
        return cls(origin, boot, seq, message, (to[0], to[1]))


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


class Sequencer:
    """One node's side of rule 1 (numbering what it sends) and rules 2-5 (judging what it
    receives)."""

    def __init__(self, node_id: str, boot: str) -> None:
        self.node_id = node_id
        self.boot = boot
        self._sent = 0
        self._seen: dict[str, tuple[str, int]] = {}  # origin -> (boot, last seq)

    def envelope(self, message: dict[str, Any],
                 to: tuple[bool, int | None] = (True, None)) -> Envelope:
        self._sent += 1
        return Envelope(self.node_id, self.boot, self._sent, message, to)

    def receive(self, raw: bytes) -> tuple[Verdict, Envelope | None]:
        envelope = Envelope.decode(raw)
        if envelope is None:
            return Verdict.MALFORMED, None
        if envelope.origin == self.node_id:
            return Verdict.OWN, envelope
        last = self._seen.get(envelope.origin)
        if last is None or last[0] != envelope.boot:
            self._seen[envelope.origin] = (envelope.boot, envelope.seq)
            return Verdict.DELIVER, envelope
        if envelope.seq <= last[1]:
            return Verdict.REPEAT, envelope
        self._seen[envelope.origin] = (envelope.boot, envelope.seq)
        return (Verdict.DELIVER if envelope.seq == last[1] + 1 else Verdict.GAP), envelope
