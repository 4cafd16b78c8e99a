"""Holding a lease on a key/value entry with a time to live: who is the radio leader.

The lease is one key of a bucket whose entries expire ``ttl`` seconds after they were last
written (NATS JetStream key/value in the adapter, ``ptt.server.leadership``). This core
decides when to claim or renew it and when this node holds it; the adapter performs the
claims and reports what the key/value store answered. Time is an argument; no I/O.

Rules:

1. Everything that changes the state goes through :data:`TRANSITIONS`; an input the table
   does not list for the current state is refused with :class:`IllegalTransition`.
2. One claim at a time: :meth:`handle_timer` emits a :class:`Claim` (drained by
   :meth:`claims`) only when none is in flight, as a follower every ``renew_every``
   seconds, as the leader ``renew_every`` seconds after the previous claim was sent. A
   claim with ``last=None`` creates the key (it must not exist); with ``last=N`` it
   rewrites it only if its latest revision is still ``N`` (renewal).
3. A claim that succeeded makes this node the leader (:class:`LeadershipGained` the first
   time) with the fencing token = the revision the store gave it. The node holds the lease
   until ``sent_at + ttl - guard``, where ``sent_at`` is when that claim was *sent*.
4. A claim refused (the key exists at another revision: someone else holds it) ends the
   leadership at once (:class:`LeadershipLost`, ``TAKEN``). A claim that failed (no
   answer, NATS unreachable) changes nothing but the schedule: the leader stays leader
   until its deadline, then loses (``EXPIRED``) if no renewal has succeeded since.
5. Refused, the follower learns who holds the key; if that is this node itself (a renewal
   whose answer was lost, a restart under the same node id) it renews the key it finds
   (``last`` = its revision) instead of waiting for it to expire.
6. :meth:`release` (a node draining) ends the leadership and emits one last claim,
   ``release=True``, asking the adapter to delete the key at the token's revision so that
   another node need not wait for it to expire. A released lease never claims again, and
   the answer to a claim still in flight changes nothing.

Why an old leader never acts after another node can have taken over (the timing argument):
the store stamps the entry when it *receives* the claim, which is after this node sent it,
so the entry cannot expire before ``sent_at + ttl`` (the store's clock, counting the same
seconds as ours), and no other node can create the key before it expires. This node stops
at ``sent_at + ttl - guard``: before, by ``guard``, the earliest moment anyone else can
become leader. The adapter checks :meth:`holds` with the clock read *when it decides*
(each command, each floor timer), not only when this core's timer fires, so an event loop
stalled past the deadline refuses to act instead of acting late; ``guard`` covers the
closing of the leader's clients and small steps of the store's wall clock. A node cut off
from NATS sees its renewals fail; it stops being leader at its deadline, at most
``ttl - guard`` after its last successful renewal was sent.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from ptt.errors import ErrorCode, IllegalTransition, UsageError


class LeaseState(enum.Enum):
    FOLLOWER = "follower"
    LEADER = "leader"
    RELEASED = "released"


class LeaseInput(enum.Enum):
    CLAIMED = "claimed"        # a claim succeeded
    REFUSED = "refused"        # a claim was refused: the key is someone else's revision
    EXPIRED = "expired"        # the deadline passed without a successful renewal
    RELEASE = "release"        # the node gives the lease up


TRANSITIONS: Final[dict[LeaseState, dict[LeaseInput, LeaseState]]] = {
    LeaseState.FOLLOWER: {
        LeaseInput.CLAIMED: LeaseState.LEADER,
        LeaseInput.REFUSED: LeaseState.FOLLOWER,
        LeaseInput.RELEASE: LeaseState.RELEASED,
    },
    LeaseState.LEADER: {
        LeaseInput.CLAIMED: LeaseState.LEADER,
        LeaseInput.REFUSED: LeaseState.FOLLOWER,
        LeaseInput.EXPIRED: LeaseState.FOLLOWER,
        LeaseInput.RELEASE: LeaseState.RELEASED,
    },
    LeaseState.RELEASED: {},
}


class LossReason(enum.Enum):
    TAKEN = "taken"          # a renewal was refused: the key is no longer ours
    EXPIRED = "expired"      # no renewal succeeded in time (cut off from the store)
    RELEASED = "released"    # given up (drain)


@dataclass(frozen=True, slots=True)
class Claim:
    """Write the lease key: create it (``last`` None) or rewrite revision ``last``; with
    ``release``, delete revision ``last`` instead. ``sent_at`` is when it was issued."""

    last: int | None
    sent_at: float
    release: bool = False


@dataclass(frozen=True, slots=True)
class LeadershipGained:
    token: int


@dataclass(frozen=True, slots=True)
class LeadershipLost:
    token: int
    reason: LossReason


LeaseEvent = LeadershipGained | LeadershipLost


class Lease:
    """The lease as one node holds it (see the module docstring for its rules)."""

    def __init__(self, node_id: str, *, ttl: float = 2.0, renew_every: float = 0.5,
                 guard: float = 0.5) -> None:
        if not 0 < renew_every < ttl - guard or guard <= 0:
            raise UsageError("a lease needs 0 < renew_every < ttl - guard and guard > 0")
        self.node_id = node_id
        self.ttl, self.renew_every, self.guard = ttl, renew_every, guard
        self.state = LeaseState.FOLLOWER
        #: The fencing token: the revision that granted or last renewed the lease.
        self.token: int | None = None
        #: Who holds the key, as last seen by a refused claim (None: unknown or nobody).
        self.holder: str | None = None
        self._deadline: float | None = None
        self._next_claim: float | None = 0.0
        self._last: int | None = None
        self._in_flight: Claim | None = None
        self._claims: list[Claim] = []
        self._events: list[LeaseEvent] = []

    # -- queries -------------------------------------------------------------------------

    def holds(self, now: float) -> bool:
        """True while this node is the leader and may act as such (rule 3)."""
        return (self.state is LeaseState.LEADER and self._deadline is not None
                and now < self._deadline)

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` must next be called, or None."""
        times = [t for t in (self._deadline,
                             None if self._in_flight else self._next_claim) if t is not None]
        return min(times, default=None)

    def claims(self) -> list[Claim]:
        """Drain the claims to perform, in order."""
        out, self._claims = self._claims, []
        return out

    def events(self) -> list[LeaseEvent]:
        """Drain the leadership changes, in order."""
        out, self._events = self._events, []
        return out

    # -- inputs --------------------------------------------------------------------------

    def handle_timer(self, now: float) -> None:
        if self._deadline is not None and now >= self._deadline:
            self._lose(LossReason.EXPIRED, LeaseInput.EXPIRED)
        if (self._in_flight is None and self._next_claim is not None
                and now >= self._next_claim):
            self._in_flight = Claim(self._last, now)
            self._claims.append(self._in_flight)

    def claimed(self, claim: Claim, revision: int, now: float) -> None:
        """``claim`` succeeded: the key is ours at ``revision`` (rule 3)."""
        if self._answered(claim):
            return
        deadline = claim.sent_at + self.ttl - self.guard
        self._last = revision
        self.holder = self.node_id
        if deadline <= now:  # answered too late to act on: renew at once
            self._next_claim = now
            return
        gained = self.state is LeaseState.FOLLOWER
        self._move(LeaseInput.CLAIMED)
        self.token, self._deadline = revision, deadline
        self._next_claim = claim.sent_at + self.renew_every
        if gained:
            self._events.append(LeadershipGained(revision))

    def refused(self, claim: Claim, holder: str | None, revision: int | None,
                now: float) -> None:
        """``claim`` was refused: ``holder`` holds the key at ``revision`` (None: it
        vanished meanwhile) (rules 4 and 5)."""
        if self._answered(claim):
            return
        if self.state is LeaseState.LEADER:
            self._lose(LossReason.TAKEN, LeaseInput.REFUSED)
        else:
            self._move(LeaseInput.REFUSED)
        self.holder = holder
        self._last = revision if holder == self.node_id else None
        self._next_claim = now if self._last is not None else now + self.renew_every

    def failed(self, claim: Claim, now: float) -> None:
        """``claim`` got no answer (rule 4): try again ``renew_every`` later."""
        if self._answered(claim):
            return
        self._next_claim = now + self.renew_every

    def release(self, now: float) -> None:
        """Give the lease up for good (rule 6)."""
        token = self.token if self.state is LeaseState.LEADER else None
        self._move(LeaseInput.RELEASE)
        self._deadline = self._next_claim = None
        if token is not None:
            self._claims.append(Claim(token, now, release=True))
            self._events.append(LeadershipLost(token, LossReason.RELEASED))

    # -- internals -----------------------------------------------------------------------

    def _answered(self, claim: Claim) -> bool:
        """Take ``claim`` off the wire; True if the lease was released meanwhile."""
        if claim is not self._in_flight:
            raise UsageError("an answer to a claim that is not in flight")
        self._in_flight = None
        return self.state is LeaseState.RELEASED

    def _lose(self, reason: LossReason, by: LeaseInput) -> None:
        assert self.token is not None
        self._move(by)
        self._events.append(LeadershipLost(self.token, reason))
        self._deadline = None
        self._next_claim = None if self._in_flight else 0.0

    def _move(self, by: LeaseInput) -> None:
        try:
            self.state = TRANSITIONS[self.state][by]
        except KeyError:
            raise IllegalTransition(ErrorCode.ILLEGAL_TRANSITION,
                                    f"{by.value} in state {self.state.value}") from None
