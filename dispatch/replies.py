"""Crew SMS replies: the grammar, and which assignment a reply is about.

Grammar (case-insensitive; spaces, punctuation and a leading ``#`` tolerated)::

    reply    = command [incident] [note]
    command  = "1" | "BERANGKAT" | "OTW"        en route
             | "2" | "TIBA"                     on scene
             | "3" | "ANGKUT"                   transporting
             | "4" | "RS"                       at hospital
             | "5" | "SIAP"                     back in service
             | "OK" | "TERIMA"                  acknowledged (received, not moving yet)
             | "BATAL"                          cannot take it
             | "STOP" | "HELP" | "BANTUAN"
    incident = ["PSC" sep] [yyyymmdd sep] ["#"] 1*4digit      e.g. PSC-20261128-0007, 0007, 7

Examples: ``1``, `` berangkat ``, ``5 SIAP``, ``2 PSC-20261128-0007``, ``tiba 0007``,
``Tiba. Pasien sadar``.

Rules:

1. Parsing never raises: :func:`parse_reply` returns a :class:`Reply` or a
   :class:`~dispatch.errors.BadReply`; the webhook answers a bad one with :data:`HELP_TEXT`.
2. A number right after the command is an incident number, never part of the note (the
   dispatch SMS tells crews to quote it that way); text after it is kept as a note.
3. :func:`resolve_reply` decides what a reply acts on. With an incident number it must match one
   of the unit's active assignments, so a late SMS about an old call never moves the current
   one. Without a number it needs exactly one active assignment. "5 SIAP" with none puts the
   unit back in service (after a decline or time out of service), if the lifecycle lets the
   crew (:func:`dispatch.lifecycle.apply_unit`: not over a dispatcher's decision).
4. A reply about a job the dispatch room ended (cancelled, the unit stood down or withdrawn,
   ``ended``) is answered with what happened, by whom and when, never "no active job": with
   a number, when it names such a job; without one, when the unit has no active job left and
   the reply is not "5 SIAP" (the latest ended job is named).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from dispatch.domain import Assignment, CancelReason, Label
from dispatch.errors import BadReply
from dispatch.lifecycle import Trigger, UnitTrigger
from dispatch.sms_text import WIB

MAX_NOTE = 160

HELP_TEXT = (
    "PSC 119: balas 1 BERANGKAT, 2 TIBA, 3 ANGKUT, 4 RS, 5 SIAP, atau BATAL bila tdk bisa. "
    "Bila ada >1 tugas, tambah no kejadian, mis: 2 0007"
)


class ReplyCommand(enum.Enum):
    ACKNOWLEDGE = "acknowledge"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    TRANSPORTING = "transporting"
    AT_HOSPITAL = "at_hospital"
    BACK_IN_SERVICE = "back_in_service"
    DECLINE = "decline"
    STOP = "stop"
    HELP = "help"


_C = ReplyCommand
KEYWORDS: dict[str, ReplyCommand] = {
    "1": _C.EN_ROUTE, "BERANGKAT": _C.EN_ROUTE, "OTW": _C.EN_ROUTE,
    "2": _C.ON_SCENE, "TIBA": _C.ON_SCENE,
    "3": _C.TRANSPORTING, "ANGKUT": _C.TRANSPORTING,
    "4": _C.AT_HOSPITAL, "RS": _C.AT_HOSPITAL,
    "5": _C.BACK_IN_SERVICE, "SIAP": _C.BACK_IN_SERVICE,
    "OK": _C.ACKNOWLEDGE, "TERIMA": _C.ACKNOWLEDGE,
    "BATAL": _C.DECLINE,
    "STOP": _C.STOP, "HELP": _C.HELP, "BANTUAN": _C.HELP,
}
TRIGGERS: dict[ReplyCommand, Trigger] = {
    _C.ACKNOWLEDGE: Trigger.ACKNOWLEDGE, _C.EN_ROUTE: Trigger.DEPART, _C.ON_SCENE: Trigger.ARRIVE,
    _C.TRANSPORTING: Trigger.TRANSPORT, _C.AT_HOSPITAL: Trigger.REACH_HOSPITAL,
    _C.BACK_IN_SERVICE: Trigger.CLEAR, _C.DECLINE: Trigger.DECLINE,
}
del _C

_SEP = r"[\s.,:;!/-]"
_REF = (
    rf"(?:PSC{_SEP}*)?(?:(?P<day>[0-9]{{8}}){_SEP}+)?"
    rf"\#?(?P<seq>[0-9]{{1,4}})(?![0-9A-Z]|[-/.][0-9])"  # not the start of a longer number
)
_REPLY = re.compile(
    rf"\s*[#*]?(?P<cmd>[0-9](?![0-9])|[A-Z]+){_SEP}*(?:{_REF})?{_SEP}*(?P<note>.*?)\s*",
    re.IGNORECASE | re.ASCII | re.DOTALL,
)
_NUMBER = re.compile(rf"\s*{_REF}\s*", re.IGNORECASE | re.ASCII)
_LOOKS_LIKE_REF = re.compile(r"(?:PSC|#|[0-9])", re.IGNORECASE | re.ASCII)


@dataclass(frozen=True, slots=True)
class IncidentRef:
    """An incident number as a crew quoted it: the sequence, and the day if they gave it."""

    sequence: int
    day: date | None = None

    def matches(self, number: str) -> bool:
        """Whether this reference names ``number`` (``PSC-YYYYMMDD-NNNN``)."""
        other = parse_incident_ref(number)
        if other is None or other.sequence != self.sequence:
            return False
        return self.day is None or self.day == other.day


@dataclass(frozen=True, slots=True)
class Reply:
    command: ReplyCommand
    incident: IncidentRef | None = None
    note: str = ""
    raw: str = ""


@dataclass(frozen=True, slots=True)
class EndedJob:
    """A job of the unit that the dispatch room ended (rule 4)."""

    number: str
    reason: CancelReason
    by: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ApplyToAssignment:
    assignment: Assignment
    trigger: Trigger


@dataclass(frozen=True, slots=True)
class ApplyToUnit:
    trigger: UnitTrigger


@dataclass(frozen=True, slots=True)
class SendHelp:
    """Answer with :data:`HELP_TEXT`."""


@dataclass(frozen=True, slots=True)
class OptOut:
    """The sender asked for no more SMS: record it and tell the dispatcher."""


Resolution = ApplyToAssignment | ApplyToUnit | SendHelp | OptOut


def parse_reply(text: str) -> Reply | BadReply:
    """Read one crew SMS (rule 1)."""
    words = text.split()  # any Unicode space, newline or tab is one separator
    if not words:
        return BadReply("empty_reply", Label("Pesan kosong", "Empty message"), raw=text)
    said = KEYWORDS.get(words[0].upper())
    if said is not None and len(words) > 1 and KEYWORDS.get(words[1].upper()) is said:
        del words[1]  # "5 SIAP 0007": the code and its word, as the dispatch SMS lists them
    match = _REPLY.fullmatch(" ".join(words))
    if match is None:
        return _unknown(text, words[0])
    command = KEYWORDS.get(match["cmd"].upper())
    if command is None:
        return _unknown(text, match["cmd"])
    note = match["note"]
    if match["seq"] is None:
        if _LOOKS_LIKE_REF.match(note):
            return _bad_ref(text)
        return Reply(command, None, note[:MAX_NOTE], text)
    ref = _ref(match["day"], match["seq"])
    if ref is None:
        return _bad_ref(text)
    return Reply(command, ref, note[:MAX_NOTE], text)


def parse_incident_ref(text: str) -> IncidentRef | None:
    """An incident number on its own (``PSC-20261128-0007``, ``0007``...), or ``None``."""
    match = _NUMBER.fullmatch(text)
    return _ref(match["day"], match["seq"]) if match else None


def resolve_reply(
    reply: Reply, active: Sequence[Assignment], numbers: Mapping[int, str],
    ended: Sequence[EndedJob] = (),
) -> Resolution | BadReply:
    """What ``reply`` acts on (rules 3 and 4).

    ``active`` are the sender's unit's active assignments; ``numbers`` maps their incident ids
    to incident numbers; ``ended`` are the unit's recent jobs ended by the dispatch room,
    newest last.
    """
    if reply.command is ReplyCommand.HELP:
        return SendHelp()
    if reply.command is ReplyCommand.STOP:
        return OptOut()
    trigger = TRIGGERS[reply.command]
    ref = reply.incident
    if ref is not None:
        chosen = [a for a in active if ref.matches(numbers.get(a.incident_id, ""))]
        if not chosen:
            named = [job for job in ended if ref.matches(job.number)]
            if named:
                return _ended(named[-1], reply.raw)
            return BadReply(
                "unknown_incident",
                Label(f"Tidak ada tugas aktif no {ref.sequence:04d}",
                      f"No active assignment numbered {ref.sequence:04d}"),
                raw=reply.raw,
            )
    else:
        chosen = list(active)
        if not chosen:
            if reply.command is ReplyCommand.BACK_IN_SERVICE:
                return ApplyToUnit(UnitTrigger.RETURN_TO_SERVICE)
            if ended:
                return _ended(ended[-1], reply.raw)
            return BadReply("no_active_assignment",
                            Label("Tidak ada tugas aktif", "No active assignment"), raw=reply.raw)
    if len(chosen) > 1:
        return BadReply(
            "ambiguous_reply",
            Label("Ada lebih dari satu tugas: tambahkan no kejadian",
                  "More than one assignment: add the incident number"),
            raw=reply.raw,
        )
    return ApplyToAssignment(chosen[0], trigger)


_ENDED = {
    CancelReason.DISPATCHER: ("dibatalkan", "cancelled"),
    CancelReason.DECLINED: ("ditolak kru", "declined by the crew"),
    CancelReason.OUT_OF_SERVICE: ("dihentikan, unit dinonaktifkan",
                                  "stopped, the unit was taken out of service"),
}


def _ended(job: EndedJob, raw: str) -> BadReply:
    how_id, how_en = _ENDED[job.reason]
    at = job.at.astimezone(WIB)
    return BadReply(
        "assignment_cancelled",
        Label(f"Tugas {job.number} sudah {how_id} oleh {job.by} pukul {at:%H:%M} WIB. "
              "Hentikan tugas ini",
              f"Job {job.number} was {how_en} by {job.by} at {at:%H:%M} WIB. "
              "Stop this job"),
        raw=raw,
    )


def _ref(day: str | None, seq: str) -> IncidentRef | None:
    sequence = int(seq)
    if sequence == 0:
        return None
    if day is None:
        return IncidentRef(sequence)
    try:
        return IncidentRef(sequence, date(int(day[:4]), int(day[4:6]), int(day[6:])))
    except ValueError:
        return None


def _unknown(text: str, word: str) -> BadReply:
    return BadReply(
        "unknown_command",
        Label(f"Perintah tidak dikenal: {word[:20]}", f"Unknown command: {word[:20]}"),
        raw=text,
    )


def _bad_ref(text: str) -> BadReply:
    return BadReply(
        "bad_incident_number",
        Label("No kejadian tidak terbaca, contoh: 2 0007",
              "Unreadable incident number, e.g. 2 0007"),
        raw=text,
    )
