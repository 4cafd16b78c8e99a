"""Invariants of one floor under any sequence of requests, releases, media and time steps.

Five members share the floor; each keeps its own view (holding, queued position) built only
from the events addressed to it. After every step:

- at most one member believes it holds the floor, and the views agree with the floor;
- every queued member knows its exact position; the queue is ordered by call type, then
  priority, then arrival;
- a request is answered exactly once, at once; a queued request ends exactly once;
- a request that queued did not out-rank the holder; one that took a busy floor did;
- refused commands change nothing; no grant outlives max talk time + acceptance window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from helpers import officer
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ptt.errors import CommandRefused
from ptt.events import (
    CallType,
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
    recipients,
)
from ptt.floor import Floor, FloorRequest, FloorState
from ptt.talkgroup import FloorConfig, Identity

CONFIG = FloorConfig(max_talk_time=10.0, no_media_timeout=4.0, grant_accept_window=2.0,
                     queue_capacity=3)
MEMBERS = [officer(name) for name in ("Ani", "Budi", "Citra", "Dedi", "Eko")]
AUDIENCE = frozenset(m.user_id for m in MEMBERS)

members = st.sampled_from(MEMBERS)
call_types = st.one_of(st.just(CallType.NORMAL), st.sampled_from(CallType))


@dataclass
class View:
    holding: bool = False
    position: int | None = None
    since: float = 0.0


def should_preempt(call_type: CallType, priority: int, override: bool,
                   holder: FloorRequest) -> bool:
    """The pre-emption rule as the requirements state it, written apart from the floor's."""
    rank = [CallType.NORMAL, CallType.IMMINENT_PERIL, CallType.EMERGENCY]
    mine, theirs = rank.index(call_type), rank.index(holder.call_type)
    if holder.call_type is CallType.EMERGENCY:   # only a higher emergency, never an override
        return call_type is CallType.EMERGENCY and priority > holder.priority
    if override and not holder.override:         # a dispatcher over a normal/imminent talker
        return True
    return mine > theirs or (mine == theirs and priority > holder.priority)


class FloorMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.floor = Floor(["satpol"], CONFIG)
        self.now = 0.0
        self.views = {m.user_id: View() for m in MEMBERS}

    def deliver(self) -> list[tuple[int, FloorEvent]]:
        delivered = []
        for event in self.floor.events():
            for user in recipients(event, AUDIENCE):
                delivered.append((user, event))
                self.apply(self.views[user], user, event)
        return delivered

    def apply(self, view: View, user: int, event: FloorEvent) -> None:
        match event:
            case FloorGranted():
                view.holding, view.position, view.since = True, None, self.now
            case FloorQueued():
                assert view.position is None and not view.holding, "queued twice"
                view.position = event.position
            case FloorQueuePositionChanged():
                assert view.position is not None and view.position != event.position
                view.position = event.position
            case FloorQueueCancelled():
                assert view.position is not None, "a queued request ended twice"
                view.position = None
            case FloorRevoked():
                assert view.holding, "revoked without a grant"
                view.holding = False
            case FloorTaken() | FloorIdle():
                view.holding = False
            case FloorDenied():
                pass

    def command(self, call: Any, *args: Any, **kwargs: Any) -> list[tuple[int, FloorEvent]] | None:
        before = self.floor.status()
        try:
            call(*args, **kwargs)
        except CommandRefused:
            assert self.floor.status() == before and self.floor.events() == []
            return None
        return self.deliver()

    # -- rules ---------------------------------------------------------------------------

    @rule(who=members, call_type=call_types, priority=st.integers(0, 3),
          override=st.booleans())
    def request(self, who: Identity, call_type: CallType, priority: int,
                override: bool) -> None:
        holder = self.floor.holder
        delivered = self.command(self.floor.request, who, call_type, priority, self.now,
                                 override=override)
        assert delivered is not None
        answers = [e for u, e in delivered if u == who.user_id
                   and isinstance(e, FloorGranted | FloorQueued | FloorDenied)]
        assert len(answers) == 1, answers
        if holder is not None and holder.user_id != who.user_id:
            took = isinstance(answers[0], FloorGranted)
            assert took == should_preempt(call_type, priority, override, holder)
            assert any(isinstance(e, FloorRevoked) and e.reason is RevokeReason.PREEMPTED
                       for _, e in delivered) == took

    @rule(who=members)
    def release(self, who: Identity) -> None:
        self.command(self.floor.release, who.user_id, self.now)

    @rule(who=members)
    def accept(self, who: Identity) -> None:
        self.command(self.floor.accept_grant, who.user_id, self.now)

    @rule(who=members)
    def media(self, who: Identity) -> None:
        forwarded = self.floor.media_received(who.user_id, self.now)
        assert forwarded == self.views[who.user_id].holding
        assert self.floor.events() == []
        if forwarded:   # media takes a grant on offer
            assert self.floor.state is FloorState.TAKEN

    @rule(who=members)
    def leave(self, who: Identity) -> None:
        self.command(self.floor.member_left, who.user_id, self.now)
        view = self.views[who.user_id]
        assert not view.holding and view.position is None

    @rule(reason=st.sampled_from(RevokeReason))
    def revoke(self, reason: RevokeReason) -> None:
        self.command(self.floor.revoke, reason, self.now)

    @rule(seconds=st.sampled_from([0.5, 1.0, 1.9, 2.0, 3.0, 4.0, 10.0]))
    def wait(self, seconds: float) -> None:
        until = self.now + seconds
        while (due := self.floor.get_timer()) is not None and due <= until:
            self.now = due
            self.floor.handle_timer(due)
            self.deliver()
        self.now = until

    # -- invariants ----------------------------------------------------------------------

    @invariant()
    def views_agree_with_the_floor(self) -> None:
        status = self.floor.status()
        holders = [u for u, v in self.views.items() if v.holding]
        assert len(holders) <= 1
        assert holders == ([] if status.holder is None else [status.holder.user_id])
        positions = {r.user_id: i for i, r in enumerate(status.queue, start=1)}
        assert {u: v.position for u, v in self.views.items() if v.position} == positions
        assert (status.state is FloorState.IDLE) == (status.holder is None)
        assert status.holder is not None or not status.queue

    @invariant()
    def queue_is_ordered(self) -> None:
        queue = self.floor.status().queue
        for a, b in zip(queue, queue[1:], strict=False):
            assert ((a.call_type.rank, a.priority) > (b.call_type.rank, b.priority)
                    or ((a.call_type, a.priority) == (b.call_type, b.priority)
                        and a.arrived_at <= b.arrived_at and a.seq < b.seq))
        assert len(queue) <= CONFIG.queue_capacity

    @invariant()
    def no_grant_outlives_its_timers(self) -> None:
        for view in self.views.values():
            if view.holding:
                assert self.now - view.since <= CONFIG.max_talk_time + CONFIG.grant_accept_window
        due = self.floor.get_timer()
        assert due is None or due > self.now   # nothing due is left unfired


FloorMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=50,
                                          deadline=None)
TestFloor = FloorMachine.TestCase
