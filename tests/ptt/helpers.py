"""A socket-free bench for the PTT control plane: one Radio, clients as recorded inboxes.

Time is stepped by hand: `Bench.step` fires every timer that falls due on the way, in order,
exactly as the adapter's single ``loop.call_at`` would.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, TypeVar

from ptt.control import Radio, RadioConfig
from ptt.events import (
    CallType,
    CancelReason,
    DenyReason,
    Envelope,
    Event,
    FloorDenied,
    FloorGranted,
    FloorIdle,
    FloorQueueCancelled,
    FloorQueued,
    FloorQueuePositionChanged,
    FloorRevoked,
    FloorTaken,
    RevokeReason,
)
from ptt.talkgroup import DISHUB, PSC119, SATPOL_PP, Identity, Role, Talkgroup

E = TypeVar("E")

# Satpol PP's own officers may claim imminent peril on their group (rule 3 of ptt.talkgroup).
SATPOL = Talkgroup("satpol", "Satpol PP", agencies=frozenset({SATPOL_PP}),
                   peril_agencies=frozenset({SATPOL_PP}))
DISHUB_TG = Talkgroup("dishub", "Dishub", agencies=frozenset({DISHUB}))
GABUNGAN = Talkgroup("gabungan", "Gabungan", agencies=frozenset({SATPOL_PP, DISHUB}))
MEDIS = Talkgroup("medis", "PSC 119", agencies=frozenset({PSC119}),
                  listen_only=frozenset({SATPOL_PP}))
TALKGROUPS = (SATPOL, DISHUB_TG, GABUNGAN, MEDIS)

_next_id = iter(range(1, 1_000_000))


def person(role: Role, agency: str, name: str, unit: str | None = None) -> Identity:
    uid = next(_next_id)
    return Identity(uid, name.lower(), name, agency, role, unit)


def officer(name: str, agency: str = SATPOL_PP) -> Identity:
    return person(Role.OFFICER, agency, name, unit=f"{agency}-{name}")


def dispatcher(name: str = "Dina", role: Role = Role.DISPATCHER) -> Identity:
    return person(role, PSC119, name)


class Bench:
    """One server core and the inboxes of its clients."""

    def __init__(self, talkgroups: Iterable[Talkgroup] = TALKGROUPS,
                 config: RadioConfig | None = None) -> None:
        self.radio = Radio(talkgroups, config)
        self.now = 0.0
        self.inbox: dict[int, list[Event]] = defaultdict(list)
        self.log: list[tuple[float, Envelope]] = []   # everything delivered, with its time

    # -- driving -------------------------------------------------------------------------

    def do(self, command: str, *args: Any, **kwargs: Any) -> Any:
        """Call a Radio command at the current time and deliver what it produced."""
        result = getattr(self.radio, command)(*args, self.now, **kwargs)
        self.pump()
        return result

    def pump(self) -> None:
        for envelope in self.radio.events():
            assert envelope.to, "an envelope with nobody to deliver to"
            self.log.append((self.now, envelope))
            for user in envelope.to:
                self.inbox[user].append(envelope.event)

    def step(self, seconds: float) -> None:
        """Let ``seconds`` pass, firing every due timer at its own time."""
        until = self.now + seconds
        while (due := self.radio.get_timer()) is not None and due <= until:
            self.now = max(self.now, due)
            self.radio.handle_timer(self.now)
            self.pump()
        self.now = until

    def talk(self, who: Identity, seconds: int) -> None:
        """The holder sends media every second for ``seconds`` seconds (timers still fire)."""
        for _ in range(seconds):
            self.radio.media_received(who.user_id, self.now)
            self.step(1.0)

    def online(self, who: Identity, *talkgroups: str) -> Identity:
        """Set-up: connect ``who`` and join ``talkgroups``; everyone's inbox starts empty."""
        self.do("connect", who)
        for tg in talkgroups:
            self.do("join", who.user_id, tg)
        self.clear()
        return who

    def request(self, who: Identity, talkgroup: str | None = None,
                call_type: CallType = CallType.NORMAL, priority: int = 0,
                override: bool = False) -> None:
        self.do("request_floor", who.user_id, talkgroup, call_type, priority, override=override)

    def release(self, who: Identity) -> None:
        self.do("release_floor", who.user_id)

    def clear(self) -> None:
        for inbox in self.inbox.values():
            inbox.clear()

    # -- reading inboxes -----------------------------------------------------------------

    def take(self, who: Identity, kind: type[E]) -> E:
        """Remove and return the first unread event of ``kind`` for ``who``."""
        inbox = self.inbox[who.user_id]
        for i, event in enumerate(inbox):
            if isinstance(event, kind):
                del inbox[i]
                return event
        raise AssertionError(f"{who.display_name} got no {kind.__name__}; inbox: {inbox}")

    def unread(self, who: Identity) -> list[Event]:
        events, self.inbox[who.user_id] = self.inbox[who.user_id], []
        return events

    def assert_silent(self, *people: Identity) -> None:
        for who in people:
            assert self.inbox[who.user_id] == [], f"{who.display_name}: {self.inbox[who.user_id]}"

    def assert_granted(self, who: Identity, *, call_type: CallType | None = None,
                       accept_within: float | None = None) -> FloorGranted:
        event = self.take(who, FloorGranted)
        assert event.talker == who
        assert event.accept_within == accept_within
        if call_type is not None:
            assert event.call_type is call_type
        return event

    def assert_taken(self, who: Identity, by: Identity) -> FloorTaken:
        event = self.take(who, FloorTaken)
        assert event.talker == by, f"{who.display_name} was told {event.talker.display_name}"
        return event

    def assert_denied(self, who: Identity, reason: DenyReason) -> None:
        assert self.take(who, FloorDenied).reason is reason

    def assert_queued(self, who: Identity, position: int) -> None:
        assert self.take(who, FloorQueued).position == position

    def assert_position(self, who: Identity, position: int) -> None:
        assert self.take(who, FloorQueuePositionChanged).position == position

    def assert_cancelled(self, who: Identity, reason: CancelReason) -> None:
        assert self.take(who, FloorQueueCancelled).reason is reason

    def assert_revoked(self, who: Identity, reason: RevokeReason) -> None:
        assert self.take(who, FloorRevoked).reason is reason

    def assert_idle(self, *people: Identity) -> None:
        for who in people:
            self.take(who, FloorIdle)

    def holder(self, talkgroup: str) -> Identity | None:
        status = self.radio.floor_status(talkgroup)
        return None if status.holder is None else status.holder.member
