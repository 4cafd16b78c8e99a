"""Errors raised by the ptt package.

Tree::

    PttError                  root: catch this to catch everything ptt raises
    ├── CommandRefused        a client asked for something that cannot be done (unknown
    │   │                     talkgroup, no right, not the holder, ...). ``code`` says why.
    │   │                     Nothing changed: the adapter answers with an error and carries on.
    │   └── IllegalTransition the floor's transition table has no entry for (state, input)
    └── UsageError            the caller of a core broke its contract (a user not connected,
                              connected twice, a bad configuration). A bug in the adapter or
                              the composition root, never a client's fault. Also a ValueError.

"A peer sent something bad" (`CommandRefused`) is kept apart from "we did something illegal"
(`UsageError`), as h11 keeps ``RemoteProtocolError`` apart from ``LocalProtocolError``. A floor
request that is merely unlucky (busy, queue full, no right to talk) is not an error: it is
answered with a ``FloorDenied`` event, so that every request gets exactly one answer.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    """Why a command was refused; stable strings, sent on the wire as they are."""

    UNKNOWN_TALKGROUP = "unknown_talkgroup"
    TALKGROUP_EXISTS = "talkgroup_exists"
    NOT_DYNAMIC = "not_dynamic"
    NOT_JOINED = "not_joined"
    ALREADY_JOINED = "already_joined"
    NO_SELECTED_TALKGROUP = "no_selected_talkgroup"
    INVALID_SCAN = "invalid_scan"
    NO_RIGHT = "no_right"
    NOT_HOLDER = "not_holder"
    NO_PENDING_GRANT = "no_pending_grant"
    FLOOR_IDLE = "floor_idle"
    FLOOR_BUSY = "floor_busy"
    PATCH_TOO_SMALL = "patch_too_small"
    PATCHED = "patched"
    NOT_PATCHED = "not_patched"
    NO_EMERGENCY = "no_emergency"
    ALREADY_ACKNOWLEDGED = "already_acknowledged"
    INVALID_RAISED_AT = "invalid_raised_at"
    ILLEGAL_TRANSITION = "illegal_transition"


class PttError(Exception):
    """Root of every exception raised by the ptt package."""


class CommandRefused(PttError):
    """A client's command was refused; no state changed.

    ``code`` is the machine-readable reason, ``detail`` a short English explanation for logs.
    """

    def __init__(self, code: ErrorCode, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"{code}: {detail}" if detail else str(code))


class IllegalTransition(CommandRefused):
    """The floor control state machine does not accept this input in its current state."""


class UsageError(PttError, ValueError):
    """A core was driven outside its contract: a bug in the caller, not a client error."""
