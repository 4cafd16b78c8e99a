"""Events of the PTT control plane: what the cores decided, for the adapter to send.

Rules:

1. Events are frozen dataclasses named in the past tense; each says what happened, never how
   to send it. The wire protocol maps each one to one message.
2. A `Floor` does not know who listens, so its events carry no recipients: `recipients`
   addresses them from their kind and the floor's audience (FloorTaken to everyone but the
   talker, FloorIdle to everyone, every other floor event to the one member concerned).
3. ``talkgroups`` on a floor event is the floor's scope: one talkgroup, or every talkgroup of
   a patch, sorted. ``talkgroup`` on a per-request event is the talkgroup the request was made
   on (the talker's own group when the floor spans a patch).
4. The `Radio` hands out every event, floor events included, in an `Envelope` with the user
   ids to deliver it to; only connected users are ever listed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Final, assert_never

from ptt.talkgroup import Identity, Talkgroup


class CallType(enum.StrEnum):
    """The kind of call a floor request is for; pre-emption follows `rank`."""

    NORMAL = "normal"
    IMMINENT_PERIL = "imminent_peril"
    EMERGENCY = "emergency"

    @property
    def rank(self) -> int:
        """EMERGENCY > IMMINENT_PERIL > NORMAL."""
        return _RANK[self]


_RANK: Final = {CallType.NORMAL: 0, CallType.IMMINENT_PERIL: 1, CallType.EMERGENCY: 2}


class DenyReason(enum.StrEnum):
    """Why a floor request was answered with FloorDenied."""

    BUSY = "busy"                      # held, not pre-empted, and the floor has no queue
    QUEUE_FULL = "queue_full"          # held, not pre-empted, and the queue is full
    ALREADY_HOLDER = "already_holder"  # the requester holds this floor, or another one
    ALREADY_QUEUED = "already_queued"  # the requester waits for this floor, or another one
    NO_RIGHT = "no_right"              # no TALK right, or an override without DISPATCH
    NOT_SELECTED = "not_selected"      # an officer talks on its selected talkgroup only
    NO_EMERGENCY = "no_emergency"      # an EMERGENCY call on a talkgroup not in emergency


class RevokeReason(enum.StrEnum):
    """Why the holder lost the floor without releasing it."""

    PREEMPTED = "preempted"
    MAX_TALK_TIME = "max_talk_time"
    NO_MEDIA = "no_media"
    GRANT_NOT_ACCEPTED = "grant_not_accepted"
    DISPATCHER = "dispatcher"
    LEFT = "left"
    FLOOR_CLOSED = "floor_closed"


class CancelReason(enum.StrEnum):
    """Why a queued request ended without a grant."""

    CANCELLED = "cancelled"      # the member released while queued
    SUPERSEDED = "superseded"    # the member asked again with a higher call type or priority
    QUEUE_FULL = "queue_full"    # bumped from the tail by a higher request
    LEFT = "left"                # the member left the talkgroup or disconnected
    UNPATCHED = "unpatched"      # the patch it waited in was dissolved
    FLOOR_CLOSED = "floor_closed"  # the talkgroup was removed


# -- floor events -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FloorGranted:
    """The talker may talk. ``accept_within`` is set for a queued grant: the talker must take
    it within that many seconds (accept, ask again, or just send media)."""

    talkgroups: tuple[str, ...]
    talkgroup: str
    talker: Identity
    call_type: CallType
    priority: int
    max_talk_time: float
    accept_within: float | None = None


@dataclass(frozen=True, slots=True)
class FloorTaken:
    """Someone else holds the floor: show who, and expect their audio."""

    talkgroups: tuple[str, ...]
    talkgroup: str
    talker: Identity
    call_type: CallType
    priority: int


@dataclass(frozen=True, slots=True)
class FloorDenied:
    talkgroups: tuple[str, ...]
    talkgroup: str
    user_id: int
    reason: DenyReason


@dataclass(frozen=True, slots=True)
class FloorQueued:
    """The request waits; ``position`` counts from 1."""

    talkgroups: tuple[str, ...]
    talkgroup: str
    user_id: int
    position: int


@dataclass(frozen=True, slots=True)
class FloorQueuePositionChanged:
    talkgroups: tuple[str, ...]
    talkgroup: str
    user_id: int
    position: int


@dataclass(frozen=True, slots=True)
class FloorQueueCancelled:
    """A queued request ended without a grant."""

    talkgroups: tuple[str, ...]
    talkgroup: str
    user_id: int
    reason: CancelReason


@dataclass(frozen=True, slots=True)
class FloorRevoked:
    """The holder lost the floor; its client must stop sending (the server drops it anyway)."""

    talkgroups: tuple[str, ...]
    talkgroup: str
    user_id: int
    reason: RevokeReason


@dataclass(frozen=True, slots=True)
class FloorIdle:
    """Nobody holds the floor."""

    talkgroups: tuple[str, ...]


FloorEvent = (FloorGranted | FloorTaken | FloorDenied | FloorQueued | FloorQueuePositionChanged
              | FloorQueueCancelled | FloorRevoked | FloorIdle)


def recipients(event: FloorEvent, audience: frozenset[int]) -> frozenset[int]:
    """Who must receive a floor event, given the user ids who hear the floor (rule 2).

    A per-member event goes to that member even when it is no longer in the audience (it has
    just left the talkgroup and needs to know its grant or queued request is over).
    """
    match event:
        case FloorTaken():
            return audience - {event.talker.user_id}
        case FloorIdle():
            return audience
        case FloorGranted():
            return frozenset({event.talker.user_id})
        case (FloorDenied() | FloorQueued() | FloorQueuePositionChanged() | FloorQueueCancelled()
              | FloorRevoked()):
            return frozenset({event.user_id})
        case _:  # pragma: no cover
            assert_never(event)


# -- radio events -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TalkgroupJoined:
    """Sent to the user who joined: the talkgroup as it is now (late entry included)."""

    talkgroup: str
    members: tuple[Identity, ...]
    talker: Identity | None
    patched_with: tuple[str, ...]
    emergency: bool


@dataclass(frozen=True, slots=True)
class MemberJoined:
    talkgroup: str
    member: Identity


@dataclass(frozen=True, slots=True)
class MemberLeft:
    talkgroup: str
    user_id: int


@dataclass(frozen=True, slots=True)
class TalkgroupAdded:
    """A (dynamic) talkgroup opened; sent to connected users who may listen on it."""

    talkgroup: Talkgroup


@dataclass(frozen=True, slots=True)
class TalkgroupRemoved:
    talkgroup: str


@dataclass(frozen=True, slots=True)
class TalkgroupsPatched:
    talkgroups: tuple[str, ...]
    by: Identity


@dataclass(frozen=True, slots=True)
class TalkgroupsUnpatched:
    talkgroups: tuple[str, ...]
    by: Identity


@dataclass(frozen=True, slots=True)
class EmergencyRaised:
    """Sent to everyone who hears the talkgroup, and to every connected dispatcher.

    ``reported_at`` is when the officer pressed the button, as the app reported it for an
    emergency it kept while offline (UTC); None when it was sent at once."""

    talkgroup: str
    raised_by: Identity
    reported_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class EmergencyAlerted:
    """The alarm for dispatchers; repeated (``count`` 1, 2, ...) until acknowledged."""

    talkgroup: str
    raised_by: Identity
    count: int
    reported_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class EmergencyAcknowledged:
    talkgroup: str
    by: Identity


@dataclass(frozen=True, slots=True)
class EmergencyCleared:
    talkgroup: str
    by: Identity


RadioEvent = (TalkgroupJoined | MemberJoined | MemberLeft | TalkgroupAdded | TalkgroupRemoved
              | TalkgroupsPatched | TalkgroupsUnpatched | EmergencyRaised | EmergencyAlerted
              | EmergencyAcknowledged | EmergencyCleared)

Event = FloorEvent | RadioEvent


@dataclass(frozen=True, slots=True)
class Envelope:
    """One event and the connected users to deliver it to (encode once, send to all)."""

    to: frozenset[int]
    event: Event
