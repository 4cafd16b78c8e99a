"""The console stream across nodes: what one node's stream message looks like on the wire,
and whether another node delivers it.

Rules:

1. Every stream message a node produces crosses as one envelope, JSON:
   ``{"origin": <node id>, "boot": <id of this run of the node>, "seq": <n>, "message":
   {...}}``. ``seq`` counts from 1 in each run (``boot``) of the origin.
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

    def encode(self, text: str | None = None) -> bytes:
        """The envelope as JSON; ``text`` is ``message`` already encoded (not done twice)."""
        body = text if text is not None else json.dumps(
            self.message, separators=(",", ":"), ensure_ascii=False)
        head = json.dumps({"origin": self.origin, "boot": self.boot, "seq": self.seq},
                          separators=(",", ":"))
        return (head[:-1] + ',"message":' + body + "}").encode()

    @classmethod
    def decode(cls, raw: bytes) -> Envelope | None:
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            return None
        if not isinstance(data, dict):
            return None
        origin, boot, seq, message = (data.get(k) for k in ("origin", "boot", "seq", "message"))
        if not (isinstance(origin, str) and isinstance(boot, str) and isinstance(message, dict)
                and isinstance(seq, int) and not isinstance(seq, bool) and seq > 0):
            return None
        return cls(origin, boot, seq, message)


class Sequencer:
    """One node's side of rule 1 (numbering what it sends) and rules 2-5 (judging what it
    receives)."""

    def __init__(self, node_id: str, boot: str) -> None:
        self.node_id = node_id
        self.boot = boot
        self._sent = 0
        self._seen: dict[str, tuple[str, int]] = {}  # origin -> (boot, last seq)

    def envelope(self, message: dict[str, Any]) -> Envelope:
        self._sent += 1
        return Envelope(self.node_id, self.boot, self._sent, message)

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
