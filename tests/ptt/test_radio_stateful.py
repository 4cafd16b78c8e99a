"""Invariants of the control plane under any sequence of commands and time steps.

Each client keeps its own view of the floor, built only from the events it receives, the way
a real radio would. After every step the views must agree with the server, and:

- never two holders of one talkgroup or across a patch; a user engaged on one floor at most;
- the holder is a member of the talkgroup it asked on and has the right to talk there;
- every queue is ordered by call type, then priority, then arrival;
- every floor request is answered exactly once, at once; every queued request ends exactly
  once (a client is never told "queued" twice, nor loses its place silently);
- a refused command changes nothing and says nothing;
- timers always release: no grant outlives max talk time + acceptance window, talking
  continuously does not keep the floor, and after a long quiet spell nothing is held.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from helpers import Bench, person
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from ptt.control import RadioConfig
from ptt.errors import CommandRefused
from ptt.events import (
    CallType,
    FloorDenied,
    FloorGranted,
    FloorIdle,
    FloorQueueCancelled,
    FloorQueued,
    FloorQueuePositionChanged,
    FloorRevoked,
    FloorTaken,
)
from ptt.floor import FloorState
from ptt.talkgroup import DISHUB, PSC119, SATPOL_PP, Identity, Right, Role, Talkgroup

CONFIG = RadioConfig(alert_interval=5.0, no_media_timeout=6.0, grant_accept_window=2.0)
TALKGROUPS = [
    Talkgroup("satpol", "Satpol PP", frozenset({SATPOL_PP}), max_talk_time=10, queue_capacity=2),
    Talkgroup("dishub", "Dishub", frozenset({DISHUB}), max_talk_time=15, queue_capacity=1),
    Talkgroup("gabungan", "Gabungan", frozenset({SATPOL_PP, DISHUB}), max_talk_time=20,
              queue_capacity=3),
    Talkgroup("medis", "PSC 119", frozenset({PSC119}), frozenset({SATPOL_PP}), max_talk_time=10,
              queue_capacity=0),
]
LONGEST_TALK = 20.0
NAMES = [n.id for n in TALKGROUPS] + ["insiden"]

USERS = [
    person(Role.OFFICER, SATPOL_PP, "Ani"), person(Role.OFFICER, SATPOL_PP, "Budi"),
    person(Role.OFFICER, DISHUB, "Dedi"), person(Role.OFFICER, DISHUB, "Eko"),
    person(Role.HOSPITAL, PSC119, "Rumah Sakit"), person(Role.DISPATCHER, PSC119, "Dina"),
    person(Role.SUPERVISOR, PSC119, "Sari"),
]
ADMIN = person(Role.ADMIN, "diskominfo", "Admin")   # dispatches, hears nothing

users = st.sampled_from(USERS)
dispatch = st.sampled_from([USERS[5], USERS[6], ADMIN, USERS[0]])   # an officer is refused
groups = st.sampled_from(NAMES)
picks = st.integers(0, 3)   # one of the user's joined talkgroups, or its selected one (3)
call_types = st.one_of(st.just(CallType.NORMAL), st.sampled_from(CallType))
priorities = st.integers(-1, 4)
steps = st.sampled_from([0.0, 0.5, 1.0, 1.9, 2.0, 3.0, 5.0, 6.0, 10.0])

ANSWERS = (FloorGranted, FloorQueued, FloorDenied)


@dataclass
class View:
    """What one client believes, from the events it got."""

    holding: str | None = None   # the talkgroup it asked on, while it holds the floor
    queued: str | None = None    # the talkgroup it asked on, while it waits
    since: float = 0.0           # when it was last granted


class RadioMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.bench = Bench(TALKGROUPS, CONFIG)
        self.radio = self.bench.radio
        self.views: dict[int, View] = {}
        self.seen = 0   # how much of the bench's log the views have read

    # -- the clients' side ---------------------------------------------------------------

    def read(self) -> list[tuple[int, Any]]:
        """Apply the new deliveries to the views; return them as (user, event)."""
        new = self.bench.log[self.seen:]
        self.seen = len(self.bench.log)
        delivered = []
        for when, envelope in new:
            for user in envelope.to:
                delivered.append((user, envelope.event))
                self.apply(self.views[user], user, envelope.event, when)
        return delivered

    @staticmethod
    def apply(view: View, user: int, event: Any, when: float) -> None:
        match event:
            case FloorGranted():
                assert event.talker.user_id == user
                assert view.queued is None or event.accept_within is not None
                view.holding, view.queued, view.since = event.talkgroup, None, when
            case FloorQueued():
                assert view.queued is None and view.holding is None, "queued twice"
                view.queued = event.talkgroup
            case FloorQueuePositionChanged():
                assert view.queued == event.talkgroup
            case FloorQueueCancelled():
                assert view.queued == event.talkgroup, "a request ended twice"
                view.queued = None
            case FloorRevoked():
                assert view.holding == event.talkgroup, "revoked without a grant"
                view.holding = None
            case FloorTaken():
                assert event.talker.user_id != user
                if view.holding in event.talkgroups:
                    view.holding = None
            case FloorIdle():
                if view.holding in event.talkgroups:
                    view.holding = None

    def attempt(self, command: str, *args: Any, **kwargs: Any) -> list[tuple[int, Any]] | None:
        """Run a command; a refusal must change nothing and say nothing."""
        before, logged = self.snapshot(), len(self.bench.log)
        try:
            self.bench.do(command, *args, **kwargs)
        except CommandRefused:
            assert self.snapshot() == before and len(self.bench.log) == logged
            return None
        return self.read()

    def snapshot(self) -> tuple[Any, ...]:
        roster = self.radio.roster
        return (
            tuple(roster.talkgroups),
            tuple((tg, self.radio.floor_status(tg), self.radio.emergency(tg))
                  for tg in roster.talkgroups),
            tuple((u.user_id, roster.groups(u.user_id), roster.selected(u.user_id))
                  for u in roster.presence()),
        )

    def online(self, who: Identity) -> bool:
        return self.radio.roster.is_connected(who.user_id)

    # -- rules ---------------------------------------------------------------------------

    @initialize(selected=st.lists(st.integers(0, 3), min_size=len(USERS), max_size=len(USERS)))
    def everyone_on_air(self, selected: list[int]) -> None:
        """Everyone connects and hears every talkgroup it may; each selects one."""
        self.connect(ADMIN)
        for who, pick in zip(USERS, selected, strict=True):
            self.connect(who)
            allowed = [tg.id for tg in TALKGROUPS if Right.LISTEN in tg.rights_of(who)]
            if allowed:
                self.attempt("set_scan", who.user_id, allowed, allowed[pick % len(allowed)])

    @rule(who=users)
    def connect(self, who: Identity) -> None:
        if not self.online(who):
            self.views[who.user_id] = View()
            self.bench.do("connect", who)
            self.read()

    @rule(who=users)
    def disconnect(self, who: Identity) -> None:
        if self.online(who):
            self.bench.do("disconnect", who.user_id)
            self.read()
            self.views[who.user_id] = View()   # it hears nothing any more

    @rule(who=users, tg=groups)
    def join(self, who: Identity, tg: str) -> None:
        if self.online(who):
            self.attempt("join", who.user_id, tg)

    @rule(who=users, pick=picks)
    def leave(self, who: Identity, pick: int) -> None:
        if self.online(who):
            self.attempt("leave", who.user_id, self.pick(who, pick) or "satpol")

    @rule(who=users, scan=st.lists(groups, max_size=3), pick=st.integers(0, 3))
    def set_scan(self, who: Identity, scan: list[str], pick: int) -> None:
        if self.online(who):
            selected = scan[pick] if pick < len(scan) else None
            self.attempt("set_scan", who.user_id, scan, selected)

    def pick(self, who: Identity, pick: int) -> str | None:
        joined = self.radio.roster.groups(who.user_id)
        return joined[pick] if pick < len(joined) and pick < 3 else None

    @rule(who=users, pick=picks, call_type=call_types, priority=priorities,
          override=st.booleans())
    def request(self, who: Identity, pick: int, call_type: CallType, priority: int,
                override: bool) -> None:
        if self.online(who):
            self.check_answered(who, self.attempt(
                "request_floor", who.user_id, self.pick(who, pick), call_type, priority,
                override=override))

    @rule(who=users, priority=priorities)
    def press(self, who: Identity, priority: int) -> None:
        """The common case: push to talk on the selected talkgroup."""
        self.request(who, 3, CallType.NORMAL, priority, False)

    @rule(who=users, priority=priorities)
    def press_again(self, who: Identity, priority: int) -> None:
        self.press(who, priority)

    @rule(who=users, pick=picks)
    def raise_emergency(self, who: Identity, pick: int) -> None:
        if self.online(who):
            self.check_answered(who, self.attempt("raise_emergency", who.user_id,
                                                  self.pick(who, pick)))

    def check_answered(self, who: Identity, delivered: list[tuple[int, Any]] | None) -> None:
        if delivered is not None:
            answers = [e for u, e in delivered if u == who.user_id and isinstance(e, ANSWERS)]
            assert len(answers) == 1, answers

    @rule(who=users, command=st.sampled_from(["release_floor", "accept_grant"]))
    def floor_command(self, who: Identity, command: str) -> None:
        if self.online(who):
            self.attempt(command, who.user_id)

    @rule(who=users)
    def media(self, who: Identity) -> None:
        forwarded = self.radio.media_received(who.user_id, self.bench.now)
        self.bench.pump()
        self.read()
        assert (forwarded is not None) == (who.user_id in self.views
                                           and self.views[who.user_id].holding is not None)

    @rule(who=dispatch, tg=groups)
    def revoke(self, who: Identity, tg: str) -> None:
        if self.online(who):
            self.attempt("revoke_floor", who.user_id, tg)

    @rule(who=dispatch, tgs=st.lists(groups, min_size=1, max_size=3))
    def patch(self, who: Identity, tgs: list[str]) -> None:
        if self.online(who):
            self.attempt("patch", who.user_id, tgs)

    def busy(self) -> list[str]:
        return [tg for tg in self.radio.roster.talkgroups
                if self.radio.floor_status(tg).state is not FloorState.IDLE]

    @rule(who=dispatch, extra=groups)
    def patch_busy_groups(self, who: Identity, extra: str) -> None:
        """Patching while talkers are on is where patches go wrong: try it often."""
        if self.online(who):
            self.attempt("patch", who.user_id, [*self.busy(), extra])

    @rule(who=dispatch, which=st.integers(0, 3))
    def unpatch_a_busy_patch(self, who: Identity, which: int) -> None:
        busy = [tg for tg in self.busy() if len(self.radio.floor_status(tg).talkgroups) > 1]
        if busy and self.online(who):
            self.attempt("unpatch", who.user_id, busy[which % len(busy)])

    @rule(who=dispatch, tg=groups)
    def unpatch(self, who: Identity, tg: str) -> None:
        if self.online(who):
            self.attempt("unpatch", who.user_id, tg)

    @rule(who=dispatch, tg=groups, clear=st.booleans())
    def settle_emergency(self, who: Identity, tg: str, clear: bool) -> None:
        if self.online(who):
            self.attempt("clear_emergency" if clear else "acknowledge_emergency",
                         who.user_id, tg)

    @rule(invited=st.sets(st.sampled_from([u.user_id for u in USERS])))
    def open_incident(self, invited: set[int]) -> None:
        self.attempt("add_talkgroup", Talkgroup("insiden", "Insiden", dynamic=True,
                                                members=frozenset(invited)))

    @rule()
    def close_incident(self) -> None:
        self.attempt("remove_talkgroup", "insiden")

    @rule(seconds=steps)
    def wait(self, seconds: float) -> None:
        self.bench.step(seconds)
        self.read()
        due = self.radio.get_timer()
        assert due is None or due > self.bench.now

    @rule(who=users)
    def keep_talking(self, who: Identity) -> None:
        """Talking without pause does not keep the floor past the max talk time."""
        view = self.views.get(who.user_id)
        if view is None or view.holding is None or not self.online(who):
            return
        for _ in range(int(LONGEST_TALK + CONFIG.grant_accept_window) + 1):
            self.radio.media_received(who.user_id, self.bench.now)
            self.bench.step(1.0)
            self.read()
        assert view.holding is None

    @precondition(lambda self: self.radio.roster.presence())
    @rule()
    def long_quiet(self) -> None:
        """After a long spell with no command, nothing is held and nobody waits."""
        self.bench.step(LONGEST_TALK + CONFIG.grant_accept_window * 4 + 1)
        self.read()
        for tg in self.radio.roster.talkgroups:
            assert self.radio.floor_status(tg).state is FloorState.IDLE
        assert all(v.holding is None and v.queued is None for v in self.views.values())

    # -- invariants ----------------------------------------------------------------------

    def floors(self) -> list[Any]:
        unique: dict[tuple[str, ...], Any] = {}
        for tg in self.radio.roster.talkgroups:
            status = self.radio.floor_status(tg)
            assert tg in status.talkgroups
            assert unique.setdefault(status.talkgroups, status) == status, "patch split"
            for other in status.talkgroups:
                assert self.radio.floor_status(other).talkgroups == status.talkgroups
        return list(unique.values())

    @invariant()
    def views_agree_with_the_server(self) -> None:
        holding: dict[int, str] = {}
        queued: dict[int, str] = {}
        for status in self.floors():
            if status.holder is not None:
                assert status.holder.user_id not in holding, "one user, two floors"
                holding[status.holder.user_id] = status.holder.talkgroup
            for request in status.queue:
                assert request.user_id not in holding and request.user_id not in queued
                queued[request.user_id] = request.talkgroup
            believers = [u for u, v in self.views.items()
                         if self.online_id(u) and v.holding in status.talkgroups]
            assert len(believers) <= 1, "two holders across one floor"
        for user, view in self.views.items():
            if self.online_id(user):
                assert view.holding == holding.get(user)
                assert view.queued == queued.get(user)

    def online_id(self, user: int) -> bool:
        return self.radio.roster.is_connected(user)

    @invariant()
    def holders_may_talk_where_they_asked(self) -> None:
        roster = self.radio.roster
        for status in self.floors():
            if status.holder is not None:
                user, tg = status.holder.user_id, status.holder.talkgroup
                assert tg in status.talkgroups and tg in roster.groups(user)
                assert Right.TALK in roster.rights(user, tg)

    @invariant()
    def queues_are_ordered(self) -> None:
        for status in self.floors():
            queue = list(status.queue)
            assert queue == sorted(queue, key=lambda r: r.queue_key)
            assert (status.state is FloorState.IDLE) == (status.holder is None)
            assert status.holder is not None or not queue
            keys = [(r.call_type.rank, r.priority, r.arrived_at) for r in queue]
            for (t1, p1, a1), (t2, p2, a2) in zip(keys, keys[1:], strict=False):
                assert (t1, p1) > (t2, p2) or a1 <= a2

    @invariant()
    def no_grant_outlives_its_timers(self) -> None:
        for view in self.views.values():
            if view.holding is not None:
                assert self.bench.now - view.since <= LONGEST_TALK + CONFIG.grant_accept_window


RadioMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40,
                                          deadline=None)
TestRadio = RadioMachine.TestCase
