"""Floor control of one talkgroup, or of one patch of talkgroups (3GPP TS 24.380, server side).

Rules:

1. One holder at a time. While a queued grant waits to be taken (GRANT_PENDING) the member it
   was offered to is the holder: its media is forwarded, it can be pre-empted, and nobody else
   is granted. Everything that changes the state goes through `TRANSITIONS`; an input the
   table does not list for the current state is refused with `IllegalTransition`.
2. Every request gets exactly one answer, at once: FloorGranted, FloorQueued or FloorDenied;
   a queued request later ends exactly once: FloorGranted or FloorQueueCancelled. A grant ends
   with FloorRevoked, or with the holder's release (then FloorIdle or FloorTaken to all).
3. Pre-emption (`preempts`): EMERGENCY > IMMINENT_PERIL > NORMAL; within a call type a
   strictly higher priority wins; a dispatcher override beats a holder whose call is neither
   EMERGENCY nor itself an override. So nothing but a higher emergency pre-empts an emergency.
   The loser gets FloorRevoked(PREEMPTED) and is not queued; the winner is granted at once.
   No "pending revoke" state: the server itself drops media from anyone but the holder
   (`media_received`), so it needs no Floor Release from the pre-empted talker first.
4. Otherwise a request on a held floor is queued by call type, then priority (higher first),
   then arrival; capacity 0 denies it (BUSY). A full queue denies it (QUEUE_FULL) unless it
   ranks above the last entry, which it then bumps (FloorQueueCancelled(QUEUE_FULL)): an
   emergency never waits behind a full queue of normal calls. Every queued member whose
   position changed is told (FloorQueuePositionChanged).
5. When the holder goes (release, revoke, timer, left), the queue head is offered the floor:
   FloorGranted(accept_within) to it, FloorTaken to the others. It takes it by `accept_grant`,
   by asking again, or just by sending media; else after ``grant_accept_window`` it is
   revoked (GRANT_NOT_ACCEPTED) and the next is offered. Empty queue: FloorIdle to everyone.
6. Timers (`get_timer`, `handle_timer`), each ending the grant with FloorRevoked: max talk
   time from the grant (from its acceptance, if queued); ``no_media_timeout`` without media
   since the grant or the last packet; the acceptance window.
7. Asking again: a holder asking with a higher call type or priority gets a new grant
   (FloorGranted, FloorTaken with the new call type, talk clock restarted): how an emergency
   raised mid-transmission takes effect; else FloorDenied(ALREADY_HOLDER). A queued member
   asking with a higher rank, or in a way that would now pre-empt, replaces its request
   (FloorQueueCancelled(SUPERSEDED), then as new); else FloorDenied(ALREADY_QUEUED). A queued
   member releasing withdraws its request.
8. The floor does not know its audience nor anyone's rights: the caller checks rights and
   addresses the events with `ptt.events.recipients`.
"""

from __future__ import annotations

import bisect
import enum
import itertools
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from ptt.errors import CommandRefused, ErrorCode, IllegalTransition, UsageError
from ptt.events import (
    CallType,
    CancelReason,
    DenyReason,
    FloorDenied,
    FloorEvent,
    FloorGranted,
    FloorIdle,
    FloorQueueCancelled,
    FloorQueued,
    FloorQueuePositionChanged,
    FloorRevoked,
    FloorTaken,
    RevokeReason,
)
from ptt.talkgroup import FloorConfig, Identity


class FloorState(enum.Enum):
    IDLE = "idle"
    TAKEN = "taken"
    GRANT_PENDING = "grant_pending"


class FloorInput(enum.Enum):
    GRANT = "grant"      # a request served at once on an idle floor
    QUEUE = "queue"      # a request queued behind the holder
    PREEMPT = "preempt"  # a request that revokes the holder and is granted in its place
    OFFER = "offer"      # the queue head is offered the floor the holder left
    ACCEPT = "accept"    # the member offered a queued grant takes it
    RELEASE = "release"  # the holder lets go
    REVOKE = "revoke"    # the holder is removed (timer, dispatcher, left, closed)


_S, _I = FloorState, FloorInput

TRANSITIONS: Final[Mapping[FloorState, Mapping[FloorInput, FloorState]]] = MappingProxyType({
    _S.IDLE: {_I.GRANT: _S.TAKEN, _I.OFFER: _S.GRANT_PENDING},
    _S.TAKEN: {_I.QUEUE: _S.TAKEN, _I.PREEMPT: _S.TAKEN,
               _I.RELEASE: _S.IDLE, _I.REVOKE: _S.IDLE},
    _S.GRANT_PENDING: {_I.QUEUE: _S.GRANT_PENDING, _I.PREEMPT: _S.TAKEN, _I.ACCEPT: _S.TAKEN,
                       _I.RELEASE: _S.IDLE, _I.REVOKE: _S.IDLE},
})

# The client-visible inputs get a precise code when refused; the others can only be refused
# if this module has a bug.
_REFUSAL: Final = {_I.RELEASE: ErrorCode.NOT_HOLDER, _I.ACCEPT: ErrorCode.NO_PENDING_GRANT,
                   _I.REVOKE: ErrorCode.FLOOR_IDLE}


def next_state(state: FloorState, event: FloorInput) -> FloorState:
    """The state after ``event``; IllegalTransition if the table has no entry for the pair."""
    try:
        return TRANSITIONS[state][event]
    except KeyError:
        code = _REFUSAL.get(event, ErrorCode.ILLEGAL_TRANSITION)
        raise IllegalTransition(code, f"cannot {event.name} when {state.name}") from None


@dataclass(frozen=True, slots=True)
class FloorRequest:
    """A floor request as the floor keeps it: the holder's grant or a queued entry."""

    member: Identity
    talkgroup: str
    call_type: CallType
    priority: int
    override: bool
    arrived_at: float
    seq: int

    @property
    def user_id(self) -> int:
        return self.member.user_id

    @property
    def queue_key(self) -> tuple[int, int, int]:
        """Sort key of the queue: call type, then priority (higher first), then arrival."""
        return (-self.call_type.rank, -self.priority, self.seq)


def outranks(a: FloorRequest, b: FloorRequest) -> bool:
    """``a`` has a higher call type, or the same call type and a strictly higher priority."""
    return (a.call_type.rank, a.priority) > (b.call_type.rank, b.priority)


def preempts(request: FloorRequest, holder: FloorRequest) -> bool:
    """Whether ``request`` takes the floor from ``holder`` (rule 3)."""
    if request.override and not holder.override and holder.call_type is not CallType.EMERGENCY:
        return True
    return outranks(request, holder)


@dataclass(frozen=True, slots=True)
class FloorStatus:
    """A read-only snapshot of a floor."""

    state: FloorState
    talkgroups: tuple[str, ...]
    holder: FloorRequest | None
    queue: tuple[FloorRequest, ...]


class Floor:
    """The floor of one talkgroup or patch. Drive it with commands, drain `events`.

    Members are known by user id; only `request` takes the full identity (every listener is
    shown the talker). ``sequence`` numbers requests in arrival order (shared by all floors).
    """

    def __init__(self, talkgroups: Sequence[str], config: FloorConfig | None = None, *,
                 sequence: Iterator[int] | None = None) -> None:
        if not talkgroups:
            raise UsageError("a floor serves at least one talkgroup")
        self.talkgroups: tuple[str, ...] = tuple(talkgroups)
        self.config = config if config is not None else FloorConfig()
        self._seq = sequence if sequence is not None else itertools.count()
        self._state = FloorState.IDLE
        self._holder: FloorRequest | None = None
        self._granted_at = 0.0   # start of the grant (of its acceptance, for a queued one)
        self._last_media = 0.0
        self._queue: list[FloorRequest] = []
        self._told: dict[int, int] = {}   # the queue position each queued member last heard
        self._events: list[FloorEvent] = []

    @property
    def state(self) -> FloorState:
        return self._state

    @property
    def holder(self) -> FloorRequest | None:
        """The holder's grant (or the queued grant on offer), if any."""
        return self._holder

    def status(self) -> FloorStatus:
        return FloorStatus(self._state, self.talkgroups, self._holder, tuple(self._queue))

    def engaged(self, user_id: int) -> FloorRequest | None:
        """The member's grant or queued request on this floor, if any."""
        if self._holder is not None and self._holder.user_id == user_id:
            return self._holder
        return self._queued(user_id)

    def events(self) -> list[FloorEvent]:
        """Drain the events produced since the last call, in order."""
        events, self._events = self._events, []
        return events

    # -- commands ----------------------------------------------------------------------

    def request(self, member: Identity, call_type: CallType, priority: int, now: float, *,
                override: bool = False, talkgroup: str | None = None) -> None:
        """A member asks for the floor on ``talkgroup`` (default: the floor's first); answered
        at once (rule 2). ``override``: a dispatcher override, the caller checked the right."""
        origin = self.talkgroups[0] if talkgroup is None else talkgroup
        if origin not in self.talkgroups:
            raise UsageError(f"talkgroup {origin} is not served by this floor")
        req = FloorRequest(member, origin, call_type, priority, override, now, next(self._seq))
        holder = self._holder
        if holder is not None and holder.user_id == req.user_id:
            self._repeat_by_holder(req, holder, now)
            return
        queued = self._queued(req.user_id)
        if queued is not None:
            assert holder is not None  # nobody waits for an idle floor
            if not (outranks(req, queued) or preempts(req, holder)):
                self._events.append(self._denied(req, DenyReason.ALREADY_QUEUED))
                return
            self._drop([queued], CancelReason.SUPERSEDED)
        if holder is None:
            self._state = next_state(self._state, FloorInput.GRANT)
            self._grant(req, now, accept_within=None)
        elif preempts(req, holder):
            self._state = next_state(self._state, FloorInput.PREEMPT)
            self._events.append(self._revoked(holder, RevokeReason.PREEMPTED))
            self._grant(req, now, accept_within=None)
        else:
            self._enqueue(req)

    def accept_grant(self, user_id: int, now: float) -> None:
        """The member offered a queued grant takes it (NO_PENDING_GRANT otherwise)."""
        self._holder_check(FloorInput.ACCEPT, user_id, ErrorCode.NO_PENDING_GRANT)
        self._accept(now)

    def release(self, user_id: int, now: float) -> None:
        """The holder lets go, or a queued member withdraws (NOT_HOLDER otherwise)."""
        queued = self._queued(user_id)
        if queued is not None:
            self._drop([queued], CancelReason.CANCELLED)
            return
        self._holder_check(FloorInput.RELEASE, user_id, ErrorCode.NOT_HOLDER)
        self._remove_holder(FloorInput.RELEASE, None, now)

    def revoke(self, reason: RevokeReason, now: float) -> None:
        """Take the floor from its holder (FLOOR_IDLE if nobody holds it)."""
        self._remove_holder(FloorInput.REVOKE, reason, now)

    def media_received(self, user_id: int, now: float) -> bool:
        """A media packet from ``user_id``: True if it holds the floor and the packet must be
        forwarded, False if it must be dropped. Media from a queued grantee accepts it."""
        holder = self._holder
        if holder is None or holder.user_id != user_id:
            return False
        if self._state is FloorState.GRANT_PENDING:
            self._accept(now)
        self._last_media = now
        return True

    def member_left(self, user_id: int, now: float) -> None:
        """The member left (talkgroup or server): its grant or queued request ends (LEFT)."""
        queued = self._queued(user_id)
        if queued is not None:
            self._drop([queued], CancelReason.LEFT)
        elif self._holder is not None and self._holder.user_id == user_id:
            self._remove_holder(FloorInput.REVOKE, RevokeReason.LEFT, now)

    def cancel_queued(self, talkgroups: Collection[str], reason: CancelReason) -> None:
        """End the queued requests made on any of ``talkgroups`` (unpatch, removal)."""
        self._drop([r for r in self._queue if r.talkgroup in talkgroups], reason)

    def retarget(self, talkgroups: Sequence[str], config: FloorConfig) -> None:
        """Serve other talkgroups (patch, unpatch); the grant, queue and timers are kept and
        the new config applies at once. Every engaged member's talkgroup must stay served."""
        kept = tuple(talkgroups)
        engaged = ([self._holder] if self._holder else []) + self._queue
        if not kept or any(r.talkgroup not in kept for r in engaged):
            raise UsageError("retarget would orphan a grant or a queued request")
        self.talkgroups = kept
        self.config = config

    def get_timer(self) -> float | None:
        """When `handle_timer` must next be called, or None."""
        if self._state is FloorState.IDLE:
            return None
        if self._state is FloorState.GRANT_PENDING:
            return self._granted_at + self.config.grant_accept_window
        return min(self._granted_at + self.config.max_talk_time,
                   self._last_media + self.config.no_media_timeout)

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at ``now`` (calling it early or twice is harmless)."""
        while (deadline := self.get_timer()) is not None and deadline <= now:
            if self._state is FloorState.GRANT_PENDING:
                reason = RevokeReason.GRANT_NOT_ACCEPTED
            elif deadline == self._granted_at + self.config.max_talk_time:
                reason = RevokeReason.MAX_TALK_TIME
            else:
                reason = RevokeReason.NO_MEDIA
            self._remove_holder(FloorInput.REVOKE, reason, now)

    # -- internals ---------------------------------------------------------------------

    def _repeat_by_holder(self, req: FloorRequest, holder: FloorRequest, now: float) -> None:
        pending = self._state is FloorState.GRANT_PENDING
        upgrade = outranks(req, holder)
        if not (pending or upgrade):
            self._events.append(self._denied(req, DenyReason.ALREADY_HOLDER))
            return
        if pending:
            self._accept(now)
        if upgrade:
            self._holder = req
            self._granted_at = now
            self._events.append(self._granted(req, None))
            self._events.append(self._taken(req))
        else:
            self._events.append(self._granted(holder, None))

    def _enqueue(self, req: FloorRequest) -> None:
        capacity = self.config.queue_capacity
        if capacity == 0:
            self._events.append(self._denied(req, DenyReason.BUSY))
            return
        if len(self._queue) >= capacity:
            last = self._queue[-1]
            if req.queue_key > last.queue_key:
                self._events.append(self._denied(req, DenyReason.QUEUE_FULL))
                return
            self._drop([last], CancelReason.QUEUE_FULL)
        self._state = next_state(self._state, FloorInput.QUEUE)
        index = bisect.bisect(self._queue, req.queue_key, key=lambda r: r.queue_key)
        self._queue.insert(index, req)
        self._told[req.user_id] = index + 1
        self._events.append(FloorQueued(self.talkgroups, req.talkgroup, req.user_id, index + 1))
        self._tell_positions()

    def _grant(self, req: FloorRequest, now: float, accept_within: float | None) -> None:
        self._holder = req
        self._granted_at = self._last_media = now
        self._events.append(self._granted(req, accept_within))
        self._events.append(self._taken(req))

    def _accept(self, now: float) -> None:
        self._state = next_state(self._state, FloorInput.ACCEPT)
        self._granted_at = self._last_media = now

    def _remove_holder(self, event: FloorInput, reason: RevokeReason | None,
                       now: float) -> None:
        state = next_state(self._state, event)
        holder = self._holder
        assert holder is not None  # every state that accepts RELEASE/REVOKE has a holder
        if reason is not None:
            self._events.append(self._revoked(holder, reason))
        self._state, self._holder = state, None
        if not self._queue:
            self._events.append(FloorIdle(self.talkgroups))
            return
        self._state = next_state(self._state, FloorInput.OFFER)
        head = self._queue.pop(0)
        del self._told[head.user_id]
        self._grant(head, now, accept_within=self.config.grant_accept_window)
        self._tell_positions()

    def _holder_check(self, event: FloorInput, user_id: int, code: ErrorCode) -> None:
        next_state(self._state, event)  # refuses what the state does not allow
        assert self._holder is not None
        if self._holder.user_id != user_id:
            raise CommandRefused(code, f"user {user_id} does not hold the floor")

    def _queued(self, user_id: int) -> FloorRequest | None:
        return next((r for r in self._queue if r.user_id == user_id), None)

    def _drop(self, requests: Sequence[FloorRequest], reason: CancelReason) -> None:
        for req in requests:
            self._queue.remove(req)
            del self._told[req.user_id]
            self._events.append(FloorQueueCancelled(self.talkgroups, req.talkgroup, req.user_id,
                                                    reason))
        self._tell_positions()

    def _tell_positions(self) -> None:
        for position, req in enumerate(self._queue, start=1):
            if self._told[req.user_id] != position:
                self._told[req.user_id] = position
                self._events.append(FloorQueuePositionChanged(self.talkgroups, req.talkgroup,
                                                     req.user_id, position))

    def _granted(self, req: FloorRequest, accept_within: float | None) -> FloorGranted:
        return FloorGranted(self.talkgroups, req.talkgroup, req.member, req.call_type,
                            req.priority, self.config.max_talk_time, accept_within)

    def _taken(self, req: FloorRequest) -> FloorTaken:
        return FloorTaken(self.talkgroups, req.talkgroup, req.member, req.call_type,
                          req.priority)

    def _denied(self, req: FloorRequest, reason: DenyReason) -> FloorDenied:
        return FloorDenied(self.talkgroups, req.talkgroup, req.user_id, reason)

    def _revoked(self, req: FloorRequest, reason: RevokeReason) -> FloorRevoked:
        return FloorRevoked(self.talkgroups, req.talkgroup, req.user_id, reason)
