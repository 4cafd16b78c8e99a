"""Signed status links: the short token in ``PUBLIC_URL/t/<token>`` of every dispatch SMS.

Why: Twilio's Indonesian numbers cannot receive replies and carriers' delivery receipts are
unreliable, so every dispatch SMS carries a link the crew taps over mobile data to report
their status, without logging in. The token is the only credential the page sees.

Rules:

1. A token names one assignment *and* its unit, and carries its expiry; all three are signed.
   The page acts on that assignment (or, for SIAP after it ended, on that unit) only, and only
   until the expiry.
2. The signature is HMAC-SHA256 under a key *derived* from the server secret (the secret
   itself also signs login tokens, and a key should serve one purpose), truncated to
   :data:`MAC_BYTES` (64 bits: guessing one takes ~2^63 online attempts, and tokens live hours).
   Verification recomputes it and compares in constant time (``hmac.compare_digest``), and
   authenticates *before* it reads the payload.
3. Tokens are short so that the link fits the SMS (``sms_text.MAX_LINK`` is 60 characters):
   three unsigned LEB128 varints (assignment id, unit id, expiry in Unix minutes) and the MAC,
   base64url without padding. Realistic ids give 20-23 characters. Only the canonical encoding
   is accepted, so no two strings name the same token. A new format gets a new key label
   (:data:`KEY_LABEL`), not a version byte.
4. Verification raises only :class:`TapLinkRejected` with a :class:`TapReject` reason; expiry
   is checked last, so "expired" means authentic but old.
5. Single use per status: a status the link has already applied is refused with the time it
   was applied (:func:`reuse_refusal`); the adapter finds those times in the audit trail,
   where every change made through a link is stored under the actor ``link:<callsign>``.
6. No clock read: ``now`` (Unix seconds, or an aware ``datetime``) is always an argument.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from dispatch.domain import TERMINAL, AssignmentStatus, Label
from dispatch.lifecycle import Trigger, UnitTrigger
from dispatch.replies import TRIGGERS, ReplyCommand
from dispatch.sms_text import WIB

KEY_LABEL = b"siaga/taplink/v1"
MAC_BYTES = 8
PATH = "/t/"
MAX_ID = 2**40  # far beyond any real id; bounds the varints a token may carry
_TOKEN = re.compile(r"[A-Za-z0-9_-]{12,40}")


class TapReject(enum.Enum):
    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"


class TapLinkRejected(Exception):
    """The token is not one we issued (or no longer valid). ``reason`` says which; the page
    shows :attr:`message` (a bilingual :class:`~dispatch.domain.Label`)."""

    def __init__(self, reason: TapReject) -> None:
        super().__init__(reason.value)
        self.reason = reason

    @property
    def message(self) -> Label:
        return _MESSAGES[self.reason]


_MESSAGES = {
    TapReject.MALFORMED: Label("Tautan tidak sah", "Invalid link"),
    TapReject.BAD_SIGNATURE: Label("Tautan tidak sah", "Invalid link"),
    TapReject.EXPIRED: Label(
        "Tautan sudah kedaluwarsa: laporkan status lewat SMS atau radio",
        "This link has expired: report your status by SMS or radio"),
}


@dataclass(frozen=True, slots=True)
class TapClaims:
    """What a valid token says: the assignment, its unit, and until when (Unix seconds)."""

    assignment_id: int
    unit_id: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class TapStatus:
    """One button of the status page."""

    code: str  # the form value
    label: Label
    command: ReplyCommand


# The buttons, in lifecycle order; the codes and words are the ones of the SMS grammar.
TAP_STATUSES: tuple[TapStatus, ...] = (
    TapStatus("berangkat", Label("Berangkat", "En route"), ReplyCommand.EN_ROUTE),
    TapStatus("tiba", Label("Tiba", "On scene"), ReplyCommand.ON_SCENE),
    TapStatus("angkut", Label("Angkut", "Transporting"), ReplyCommand.TRANSPORTING),
    TapStatus("rs", Label("Di RS", "At hospital"), ReplyCommand.AT_HOSPITAL),
    TapStatus("siap", Label("Siap", "Back in service"), ReplyCommand.BACK_IN_SERVICE),
    TapStatus("batal", Label("Batal", "Decline"), ReplyCommand.DECLINE),
)
BY_CODE: dict[str, TapStatus] = {s.code: s for s in TAP_STATUSES}


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), KEY_LABEL, hashlib.sha256).digest()


def _mac(secret: str, payload: bytes) -> bytes:
    return hmac.new(_key(secret), payload, hashlib.sha256).digest()[:MAC_BYTES]


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_varints(data: bytes) -> list[int]:
    """Every varint in ``data``; overlong forms are caught by the caller's re-encoding."""
    values, value, shift = [], 0, 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        shift += 7
        if value >= MAX_ID:
            raise TapLinkRejected(TapReject.MALFORMED)
        if not byte & 0x80:
            values.append(value)
            value, shift = 0, 0
    if shift:
        raise TapLinkRejected(TapReject.MALFORMED)  # ends inside a number
    return values


def _seconds(now: float | datetime) -> float:
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        return now.timestamp()
    return float(now)


def issue(secret: str, *, assignment_id: int, unit_id: int, expires_at: float | datetime
          ) -> str:
    """A token for this assignment and unit, valid until ``expires_at`` (rounded up to the
    minute)."""
    if not (0 < assignment_id < MAX_ID and 0 < unit_id < MAX_ID):
        raise ValueError("ids must be positive")
    minute = math.ceil(_seconds(expires_at) / 60)
    payload = _varint(assignment_id) + _varint(unit_id) + _varint(minute)
    raw = payload + _mac(secret, payload)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def verify(secret: str, token: str, now: float | datetime) -> TapClaims:
    """The claims of ``token`` or :class:`TapLinkRejected` (rules 2-4)."""
    if not _TOKEN.fullmatch(token):
        raise TapLinkRejected(TapReject.MALFORMED)
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        raise TapLinkRejected(TapReject.MALFORMED) from None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != token:
        raise TapLinkRejected(TapReject.MALFORMED)  # stray bits: not the canonical form
    payload, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
    if len(payload) < 3 or not hmac.compare_digest(_mac(secret, payload), mac):
        raise TapLinkRejected(TapReject.BAD_SIGNATURE)
    values = _read_varints(payload)
    if len(values) != 3 or _varint(values[0]) + _varint(values[1]) + _varint(values[2]) != payload:
        raise TapLinkRejected(TapReject.MALFORMED)
    assignment_id, unit_id, minute = values
    if _seconds(now) >= minute * 60:
        raise TapLinkRejected(TapReject.EXPIRED)
    return TapClaims(assignment_id, unit_id, minute * 60)


def link(public_url: str, token: str) -> str:
    """The URL printed in the SMS."""
    return public_url.rstrip("/") + PATH + token


def action(status: TapStatus, assignment: AssignmentStatus) -> Trigger | UnitTrigger:
    """What a tap does. SIAP after the assignment ended (a crew that declined and is free
    again) puts the unit back in service, as "5 SIAP" by SMS does; everything else acts on
    the assignment, whose lifecycle refuses what does not fit (a closed assignment, a step
    backwards) with its own reason."""
    if status.command is ReplyCommand.BACK_IN_SERVICE and assignment in TERMINAL:
        return UnitTrigger.RETURN_TO_SERVICE
    return trigger_of(status)


def trigger_of(status: TapStatus) -> Trigger:
    """The lifecycle trigger a button stands for (as its SMS reply code does)."""
    return TRIGGERS[status.command]


def reuse_refusal(status: TapStatus, used: Mapping[Trigger, datetime]) -> Label | None:
    """Why this tap is refused as a second use of the same status (rule 5), or None.

    ``used`` maps the triggers this link has applied to when (aware datetimes).
    """
    at = used.get(trigger_of(status))
    if at is None:
        return None
    wib = at.astimezone(WIB)
    return Label(f"Status {status.label.id} sudah dikirim lewat tautan ini pukul "
                 f"{wib:%H:%M} WIB",
                 f"{status.label.en} was already sent with this link at {wib:%H:%M} WIB")
