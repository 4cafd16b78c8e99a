"""Talkgroups, identities and rights: data with rules, no state machine.

Rules:

1. Rights are computed, never stored: `Talkgroup.rights_of` derives them from the user's role
   and agency and from the talkgroup's definition, so there is no second copy to drift.

   - dispatcher, supervisor: LISTEN | TALK | DISPATCH on every talkgroup (they run the net).
   - admin: DISPATCH on every talkgroup (patch, revoke, acknowledge and clear emergencies)
     but no audio: administering the system is not a reason to hear the field.
   - officer, hospital: LISTEN | TALK where their agency is one of the talkgroup's
     ``agencies``; LISTEN only where it is one of its ``listen_only`` agencies; on a
     ``dynamic`` talkgroup (opened for an incident) also LISTEN | TALK when their user id is
     one of its ``members``. Nothing otherwise: a Dishub officer neither hears nor talks on a
     Satpol PP-only group, while the joint group (Gabungan) lists both agencies.

2. DISPATCH is the right to act on a talkgroup without being a plain member: override a
   talker, revoke the floor, patch, acknowledge or clear an emergency, talk on any monitored
   group rather than only the selected one.

3. A client asks for a floor priority; the server caps it by role (`cap_priority`), so an
   officer cannot out-rank a dispatcher by asking. Higher numbers win. The call type is
   checked the same way: an ``imminent_peril`` request, which pre-empts normal talkers, is
   for dispatchers and supervisors, and for officers of the agencies a talkgroup lists in
   ``peril_agencies`` (none by default); anyone else is denied ``no_right``
   (`Talkgroup.may_claim_imminent_peril`). An officer in danger has the emergency button.

4. Membership (`Roster`): a connected user joins the talkgroups it may LISTEN on. Its joined
   talkgroups are its scan list: it hears them all and talks on the selected one. Joining
   selects the group if none is selected; leaving the selected group unselects it; `set_scan`
   replaces the list and the selection at once, after checking all of it.

5. Presence is scoped (`Roster.presence_seen_by`): dispatchers, supervisors and admins see
   everyone connected; anyone else sees itself and the connected users who have joined a
   talkgroup it may LISTEN on (its own talkgroups' members), not the whole roster.

6. Agencies are plain strings (codes from the identity database); the three of the pilot are
   named below for convenience, not as a closed list.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from ptt.errors import CommandRefused, ErrorCode, UsageError

SATPOL_PP: Final = "satpolpp"
DISHUB: Final = "dishub"
PSC119: Final = "psc119"


class Role(enum.StrEnum):
    """What a user is, as far as the radio net is concerned."""

    OFFICER = "officer"
    DISPATCHER = "dispatcher"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    HOSPITAL = "hospital"


class Right(enum.Flag):
    """What a user may do on one talkgroup."""

    NONE = 0
    LISTEN = enum.auto()
    TALK = enum.auto()
    DISPATCH = enum.auto()


#: Roles that run the net: full rights everywhere and emergency alerts.
DISPATCH_ROLES: Final = frozenset({Role.DISPATCHER, Role.SUPERVISOR})

#: The highest floor priority each role may ask for (see rule 3).
PRIORITY_CEILING: Final[Mapping[Role, int]] = MappingProxyType({
    Role.OFFICER: 1,
    Role.HOSPITAL: 1,
    Role.DISPATCHER: 2,
    Role.SUPERVISOR: 3,
    Role.ADMIN: 3,
})


def cap_priority(role: Role, requested: int) -> int:
    """The priority a request of ``role`` gets: ``requested`` clamped to 0..ceiling."""
    return max(0, min(requested, PRIORITY_CEILING[role]))


@dataclass(frozen=True, slots=True)
class Identity:
    """A user as the radio net sees them; the talker identity shown on every receiver."""

    user_id: int
    username: str
    display_name: str
    agency: str
    role: Role
    unit: str | None = None
    """Unit callsign, e.g. ``"Satpol 12"``; None for desk staff."""


@dataclass(frozen=True, slots=True)
class FloorConfig:
    """The settings of one floor (seconds): those of its talkgroup (`Talkgroup.floor_config`)
    or of a patch (`strictest`). ``queue_capacity`` 0 means deny when busy."""

    max_talk_time: float = 60.0
    no_media_timeout: float = 4.0
    grant_accept_window: float = 2.0
    queue_capacity: int = 5

    def __post_init__(self) -> None:
        if min(self.max_talk_time, self.no_media_timeout, self.grant_accept_window) <= 0:
            raise UsageError("floor timers must be positive")
        if self.queue_capacity < 0:
            raise UsageError("queue_capacity must be >= 0")

    @staticmethod
    def strictest(configs: Iterable[FloorConfig]) -> FloorConfig:
        """The settings of a patch: the smallest of each setting of its talkgroups."""
        cs = list(configs)
        return FloorConfig(min(c.max_talk_time for c in cs), min(c.no_media_timeout for c in cs),
                           min(c.grant_accept_window for c in cs),
                           min(c.queue_capacity for c in cs))


@dataclass(frozen=True, slots=True)
class Talkgroup:
    """One talkgroup (kanal) and the rules of who may use it.

    ``max_talk_time`` (seconds) and ``queue_capacity`` (0 = deny when busy) configure its
    floor. ``members`` lists the user ids invited to a ``dynamic`` talkgroup; a static one
    has none.
    """

    id: str
    name: str
    agencies: frozenset[str] = frozenset()
    listen_only: frozenset[str] = frozenset()
    max_talk_time: float = 60.0
    queue_capacity: int = 5
    dynamic: bool = False
    members: frozenset[int] = frozenset()
    peril_agencies: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.id:
            raise UsageError("a talkgroup needs an id")
        if self.max_talk_time <= 0:
            raise UsageError(f"talkgroup {self.id}: max_talk_time must be positive")
        if self.queue_capacity < 0:
            raise UsageError(f"talkgroup {self.id}: queue_capacity must be >= 0")
        if self.agencies & self.listen_only:
            raise UsageError(f"talkgroup {self.id}: an agency is both talking and listen-only")
        if self.members and not self.dynamic:
            raise UsageError(f"talkgroup {self.id}: only a dynamic talkgroup lists members")
        if not self.peril_agencies <= self.agencies:
            raise UsageError(f"talkgroup {self.id}: an agency may claim imminent peril only "
                             "where it talks")

    def floor_config(self, no_media_timeout: float, grant_accept_window: float) -> FloorConfig:
        """This talkgroup's floor settings, with the server-wide timers."""
        return FloorConfig(self.max_talk_time, no_media_timeout, grant_accept_window,
                           self.queue_capacity)

    def rights_of(self, who: Identity) -> Right:
        """The rights of ``who`` on this talkgroup (rule 1)."""
        if who.role in DISPATCH_ROLES:
            return Right.LISTEN | Right.TALK | Right.DISPATCH
        if who.role is Role.ADMIN:
            return Right.DISPATCH
        if who.agency in self.agencies or who.user_id in self.members:
            return Right.LISTEN | Right.TALK
        if who.agency in self.listen_only:
            return Right.LISTEN
        return Right.NONE

    def may_claim_imminent_peril(self, who: Identity) -> bool:
        """Whether ``who`` may ask for the floor as ``imminent_peril`` here (rule 3)."""
        if who.role in DISPATCH_ROLES:
            return True
        return who.agency in self.peril_agencies and Right.TALK in self.rights_of(who)


@dataclass(slots=True)
class _Session:
    identity: Identity
    groups: dict[str, None] = field(default_factory=dict)  # joined talkgroups, in order
    selected: str | None = None


class Roster:
    """Who is connected and which talkgroups each one hears (rule 4): the bookkeeping half of
    the radio net, without floors or events. Refusals raise CommandRefused and change nothing;
    naming a user who is not connected raises UsageError."""

    def __init__(self, talkgroups: Iterable[Talkgroup] = ()) -> None:
        self._talkgroups: dict[str, Talkgroup] = {}
        self._members: dict[str, dict[int, None]] = {}  # connected members, in joining order
        self._sessions: dict[int, _Session] = {}
        for tg in talkgroups:
            if tg.id in self._talkgroups:
                raise UsageError(f"talkgroup {tg.id} defined twice")
            self.add_talkgroup(tg)

    # -- talkgroups --------------------------------------------------------------------

    @property
    def talkgroups(self) -> Mapping[str, Talkgroup]:
        return MappingProxyType(self._talkgroups)

    def talkgroup(self, talkgroup: str) -> Talkgroup:
        try:
            return self._talkgroups[talkgroup]
        except KeyError:
            raise CommandRefused(ErrorCode.UNKNOWN_TALKGROUP, talkgroup) from None

    def add_talkgroup(self, talkgroup: Talkgroup) -> None:
        if talkgroup.id in self._talkgroups:
            raise CommandRefused(ErrorCode.TALKGROUP_EXISTS, talkgroup.id)
        self._talkgroups[talkgroup.id] = talkgroup
        self._members[talkgroup.id] = {}

    def remove_talkgroup(self, talkgroup: str) -> tuple[int, ...]:
        """Forget a talkgroup; returns the users who had joined it."""
        self.talkgroup(talkgroup)
        members = tuple(self._members[talkgroup])
        for user in members:
            self._drop(self._sessions[user], talkgroup)
        del self._talkgroups[talkgroup], self._members[talkgroup]
        return members

    # -- sessions ----------------------------------------------------------------------

    def connect(self, identity: Identity) -> None:
        if identity.user_id in self._sessions:
            raise UsageError(f"user {identity.user_id} is already connected")
        self._sessions[identity.user_id] = _Session(identity)

    def disconnect(self, user: int) -> tuple[str, ...]:
        """Forget the user; returns the talkgroups it had joined."""
        session = self._session(user)
        groups = tuple(session.groups)
        for tg in groups:
            self._drop(session, tg)
        del self._sessions[user]
        return groups

    def is_connected(self, user: int) -> bool:
        return user in self._sessions

    def identity(self, user: int) -> Identity:
        return self._session(user).identity

    def presence(self, talkgroup: str | None = None) -> tuple[Identity, ...]:
        """Who is connected (in order of connection), or who has joined ``talkgroup``."""
        if talkgroup is None:
            return tuple(s.identity for s in self._sessions.values())
        self.talkgroup(talkgroup)
        return tuple(self._sessions[u].identity for u in self._members[talkgroup])

    def presence_seen_by(self, who: Identity) -> tuple[Identity, ...]:
        """Who is connected, as far as ``who`` may know (rule 5), in order of connection."""
        if who.role in DISPATCH_ROLES or who.role is Role.ADMIN:
            return self.presence()
        visible = {who.user_id}
        for tg in self._talkgroups.values():
            if Right.LISTEN in tg.rights_of(who):
                visible.update(self._members[tg.id])
        return tuple(s.identity for u, s in self._sessions.items() if u in visible)

    def members(self, talkgroup: str) -> tuple[int, ...]:
        return tuple(self._members[self.talkgroup(talkgroup).id])

    def dispatchers(self) -> frozenset[int]:
        """Connected dispatchers and supervisors: who gets emergency alerts."""
        return frozenset(u for u, s in self._sessions.items()
                         if s.identity.role in DISPATCH_ROLES)

    def may_listen(self, talkgroup: Talkgroup) -> frozenset[int]:
        return frozenset(u for u, s in self._sessions.items()
                         if Right.LISTEN in talkgroup.rights_of(s.identity))

    # -- membership --------------------------------------------------------------------

    def rights(self, user: int, talkgroup: str) -> Right:
        return self.talkgroup(talkgroup).rights_of(self.identity(user))

    def require(self, user: int, talkgroup: str, right: Right) -> str:
        """``talkgroup`` if the user has ``right`` on it, else NO_RIGHT."""
        if right not in self.rights(user, talkgroup):
            raise CommandRefused(ErrorCode.NO_RIGHT, f"no {right.name} right on {talkgroup}")
        return talkgroup

    def groups(self, user: int) -> tuple[str, ...]:
        return tuple(self._session(user).groups)

    def selected(self, user: int) -> str | None:
        return self._session(user).selected

    def target(self, user: int, talkgroup: str | None) -> str:
        """The joined talkgroup a command names; None names the selected one."""
        session = self._session(user)
        if talkgroup is None:
            if session.selected is None:
                raise CommandRefused(ErrorCode.NO_SELECTED_TALKGROUP, "join a talkgroup first")
            return session.selected
        if self.talkgroup(talkgroup).id not in session.groups:
            raise CommandRefused(ErrorCode.NOT_JOINED, talkgroup)
        return talkgroup

    def join(self, user: int, talkgroup: str) -> None:
        session = self._session(user)
        self._check_join(session, talkgroup)
        self._add(session, talkgroup)

    def leave(self, user: int, talkgroup: str) -> None:
        self._drop(self._session(user), self.target(user, talkgroup))

    def set_scan(self, user: int, talkgroups: Iterable[str],
                 selected: str | None) -> tuple[list[str], list[str]]:
        """Hear exactly ``talkgroups``, talk on ``selected`` (one of them, or None); returns
        the talkgroups left and joined."""
        session = self._session(user)
        wanted = list(dict.fromkeys(self.talkgroup(tg).id for tg in talkgroups))
        if selected is not None and selected not in wanted:
            raise CommandRefused(ErrorCode.INVALID_SCAN, f"{selected} is not in the scan list")
        joined = [tg for tg in wanted if tg not in session.groups]
        for tg in joined:
            self._check_join(session, tg)
        left = [tg for tg in session.groups if tg not in wanted]
        for tg in left:
            self._drop(session, tg)
        for tg in joined:
            self._add(session, tg)
        session.selected = selected
        return left, joined

    def _session(self, user: int) -> _Session:
        try:
            return self._sessions[user]
        except KeyError:
            raise UsageError(f"user {user} is not connected") from None

    def _check_join(self, session: _Session, talkgroup: str) -> None:
        if self.talkgroup(talkgroup).id in session.groups:
            raise CommandRefused(ErrorCode.ALREADY_JOINED, talkgroup)
        self.require(session.identity.user_id, talkgroup, Right.LISTEN)

    def _add(self, session: _Session, talkgroup: str) -> None:
        session.groups[talkgroup] = None
        self._members[talkgroup][session.identity.user_id] = None
        if session.selected is None:
            session.selected = talkgroup

    def _drop(self, session: _Session, talkgroup: str) -> None:
        del session.groups[talkgroup], self._members[talkgroup][session.identity.user_id]
        if session.selected == talkgroup:
            session.selected = None
