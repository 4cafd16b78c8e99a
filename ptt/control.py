"""The PTT control plane of the whole server: the one object the signaling adapter drives.

It keeps one `Floor` per talkgroup or patch, the patches and the emergencies, over a
`ptt.talkgroup.Roster` (sessions, membership, scan lists); it routes every command to the
right floor and addresses every event.

Rules:

1. A command takes the acting user's id and ``now``; it changes state and queues events
   (`events` drains them, each in an `Envelope` with its recipients), or raises CommandRefused
   and changes nothing. UsageError: the adapter named a user not connected (or connected one
   twice). After every call the adapter re-arms its one timer at `get_timer`.
2. Talking: `request_floor` needs the talkgroup joined (else CommandRefused), then is answered
   FloorDenied without TALK, or for an override without DISPATCH (NO_RIGHT); when an officer
   asks off its selected group (NOT_SELECTED; DISPATCH talks on any group it hears); for an
   EMERGENCY call without an emergency (NO_EMERGENCY). One voice: a user holds or waits for
   one floor at a time (ALREADY_HOLDER / ALREADY_QUEUED elsewhere), which is how
   `media_received` knows a packet's floor. Priority is capped by role. Leaving the group a
   request was made on, or disconnecting, ends the request.
3. Audience of talkgroup X: the connected members of every talkgroup sharing X's floor (X and
   the groups patched with it); a scanner counts once.
4. Patches (DISPATCH on every group): 2+ unpatched talkgroups share one floor with the
   strictest settings. At most one may be busy (else FLOOR_BUSY: two conversations cannot be
   merged without cutting one); its floor, with talker, queue and timers, becomes the patch's
   and the other groups' members get FloorTaken. Unpatching leaves that floor to its talker's
   own group (the first, if idle); the others get fresh idle floors, FloorIdle if a talker
   was on, and their queued requests are cancelled (UNPATCHED).
5. Emergency: a member with TALK raises it; everyone hearing the group gets EmergencyRaised,
   every connected dispatcher and supervisor EmergencyAlerted now and every
   ``alert_interval`` seconds until DISPATCH acknowledges (and on connecting, while
   unacknowledged); only DISPATCH clears it. Raising asks for the floor as an EMERGENCY call
   at the raiser's top priority: it pre-empts a normal talker, upgrades the raiser's own grant
   and withdraws its request elsewhere. Raising again (another officer, or after an
   acknowledgement) alerts again.
6. Handing over (a cluster's next radio leader): `emergencies` lists the active ones and
   `restore_emergency` makes one active again without a floor request (the raiser asks
   again if it still needs to talk): unacknowledged, the alerts start again at once, their
   count from 1; acknowledged, it stays quiet until cleared.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from ptt import events as ev
from ptt.errors import CommandRefused, ErrorCode, UsageError
from ptt.floor import Floor, FloorState, FloorStatus
from ptt.talkgroup import (
    DISPATCH_ROLES,
    FloorConfig,
    Identity,
    Right,
    Roster,
    Talkgroup,
    cap_priority,
)


@dataclass(frozen=True, slots=True)
class RadioConfig:
    """Server-wide settings (seconds); per-talkgroup ones live on `Talkgroup`."""

    alert_interval: float = 10.0
    no_media_timeout: float = 4.0
    grant_accept_window: float = 2.0

    def __post_init__(self) -> None:
        if min(self.alert_interval, self.no_media_timeout, self.grant_accept_window) <= 0:
            raise UsageError("radio timers must be positive")


@dataclass(frozen=True, slots=True)
class Emergency:
    """An emergency on one talkgroup; ``next_alert`` is None once acknowledged."""

    talkgroup: str
    raised_by: Identity
    raised_at: float
    alerts: int
    next_alert: float | None
    acknowledged_by: Identity | None = None
    #: When the officer raised it, as the app reported it (an emergency kept offline).
    reported_at: datetime | None = None


class Radio:
    """The radio net as the server sees it (see the module docstring for its rules)."""

    def __init__(self, talkgroups: Iterable[Talkgroup] = (),
                 config: RadioConfig | None = None) -> None:
        self.config = config if config is not None else RadioConfig()
        self.roster = Roster(talkgroups)
        self._seq = itertools.count()  # shared by all floors: arrivals stay comparable
        self._floors: dict[str, Floor] = {}  # patched talkgroups share one Floor
        self._emergencies: dict[str, Emergency] = {}
        self._out: list[ev.Envelope] = []
        for tg in self.roster.talkgroups:
            self._floors[tg] = Floor([tg], self._config(tg), sequence=self._seq)

    # -- queries -----------------------------------------------------------------------

    def floor_status(self, talkgroup: str) -> FloorStatus:
        return self._floor(talkgroup).status()

    def audience(self, talkgroup: str) -> frozenset[int]:
        """The connected users who hear the talker of ``talkgroup`` (rule 3)."""
        return self._audience(self._floor(talkgroup))

    def whereabouts_audience(self, user: int) -> frozenset[int]:
        """Who is told when ``user`` comes online, goes offline or moves: the connected
        dispatchers and supervisors, never the user itself. Officers ask for presence
        themselves; telling everyone about everyone would cost N^2 messages as the net
        grows, and an officer's position is for the command center, not for the net."""
        return self.roster.dispatchers() - {user}

    def text_readers(self, talkgroup: str) -> frozenset[int]:
        """Who reads a text sent on ``talkgroup``: everyone who hears it, and every connected
        dispatcher and supervisor who may listen to it, joined or not (the console keeps
        every group's texts, as it keeps every emergency)."""
        tg = self.roster.talkgroup(talkgroup)
        return self.audience(tg.id) | (self.roster.dispatchers() & self.roster.may_listen(tg))

    def emergency(self, talkgroup: str) -> Emergency | None:
        return self._emergencies.get(self.roster.talkgroup(talkgroup).id)

    def emergencies(self) -> list[Emergency]:
        """The active emergencies, by talkgroup (rule 6)."""
        return [self._emergencies[tg] for tg in sorted(self._emergencies)]

    def events(self) -> list[ev.Envelope]:
        """Drain the addressed events produced since the last call, in order."""
        out, self._out = self._out, []
        return out

    # -- talkgroups, sessions, membership ----------------------------------------------

    def add_talkgroup(self, talkgroup: Talkgroup, now: float) -> None:
        """Open a talkgroup (an incident's, say); users who may listen are told."""
        self.roster.add_talkgroup(talkgroup)
        self._floors[talkgroup.id] = Floor([talkgroup.id], self._config(talkgroup.id),
                                           sequence=self._seq)
        self._send(self.roster.may_listen(talkgroup), ev.TalkgroupAdded(talkgroup))

    def remove_talkgroup(self, talkgroup: str, now: float) -> None:
        """Close a dynamic talkgroup: its talker is revoked, its queue and emergency end."""
        tg, floor = self.roster.talkgroup(talkgroup), self._floor(talkgroup)
        if not tg.dynamic:
            raise CommandRefused(ErrorCode.NOT_DYNAMIC, tg.id)
        if len(floor.talkgroups) > 1:
            raise CommandRefused(ErrorCode.PATCHED, tg.id)
        floor.cancel_queued(floor.talkgroups, ev.CancelReason.FLOOR_CLOSED)
        if floor.state is not FloorState.IDLE:
            floor.revoke(ev.RevokeReason.FLOOR_CLOSED, now)
        self._route(floor)
        told = self.roster.may_listen(tg) | set(self.roster.remove_talkgroup(tg.id))
        del self._floors[tg.id]
        self._emergencies.pop(tg.id, None)
        self._send(told, ev.TalkgroupRemoved(tg.id))

    def connect(self, identity: Identity, now: float) -> None:
        self.roster.connect(identity)
        if identity.role in DISPATCH_ROLES:
            for e in self._emergencies.values():
                if e.next_alert is not None:
                    self._send({identity.user_id},
                               ev.EmergencyAlerted(e.talkgroup, e.raised_by, e.alerts,
                                                    e.reported_at))

    def disconnect(self, user: int, now: float) -> None:
        """The user is gone: it leaves every talkgroup, its floor request or grant ends."""
        for tg in self.roster.disconnect(user):
            self._left(user, tg, now)

    def join(self, user: int, talkgroup: str, now: float) -> None:
        self.roster.join(user, talkgroup)
        self._joined(user, talkgroup)

    def leave(self, user: int, talkgroup: str, now: float) -> None:
        self.roster.leave(user, talkgroup)
        self._left(user, talkgroup, now)

    def set_scan(self, user: int, talkgroups: Iterable[str], selected: str | None,
                 now: float) -> None:
        """Hear exactly ``talkgroups`` and talk on ``selected`` (one of them, or None)."""
        left, joined = self.roster.set_scan(user, talkgroups, selected)
        for tg in left:
            self._left(user, tg, now)
        for tg in joined:
            self._joined(user, tg)

    # -- floor -------------------------------------------------------------------------

    def request_floor(self, user: int, talkgroup: str | None, call_type: ev.CallType,
                      priority: int, now: float, *, override: bool = False) -> None:
        """Ask for the floor on ``talkgroup`` (None: the selected one); answered at once by
        FloorGranted, FloorQueued or FloorDenied (rule 2)."""
        tg = self.roster.target(user, talkgroup)
        reason = self._deny_reason(user, tg, call_type, override)
        if reason is not None:
            self._send({user}, ev.FloorDenied(self._floors[tg].talkgroups, tg, user, reason))
            return
        self._ask(user, tg, call_type, priority, now, override=override)

    def accept_grant(self, user: int, now: float) -> None:
        """Take the queued grant on offer to ``user``."""
        floor = self._engaged_floor(user, ErrorCode.NO_PENDING_GRANT)
        floor.accept_grant(user, now)
        self._route(floor)

    def release_floor(self, user: int, now: float) -> None:
        """Let go of the floor ``user`` holds, or withdraw its queued request."""
        floor = self._engaged_floor(user, ErrorCode.NOT_HOLDER)
        floor.release(user, now)
        self._route(floor)

    def revoke_floor(self, user: int, talkgroup: str, now: float) -> None:
        """A dispatcher takes the floor of ``talkgroup`` from its talker."""
        floor = self._floors[self.roster.require(user, talkgroup, Right.DISPATCH)]
        floor.revoke(ev.RevokeReason.DISPATCHER, now)
        self._route(floor)

    def media_received(self, user: int, now: float) -> tuple[str, ...] | None:
        """A media packet from ``user``: the talkgroups to forward it to (its floor's), or
        None to drop it. The first packet from a queued grantee accepts the grant."""
        floor = self._find_engaged(user) if self.roster.is_connected(user) else None
        if floor is None or not floor.media_received(user, now):
            return None
        return floor.talkgroups

    def media_closed(self, user: int, now: float) -> bool:
        """The media path of ``user`` closed (its peer connection): a grant it holds or is
        offered ends now, FloorRevoked(NO_MEDIA), not at the no-media timer. True if it did;
        a queued request is kept (the client may open a new peer before its turn)."""
        floor = self._find_engaged(user) if self.roster.is_connected(user) else None
        if floor is None or floor.holder is None or floor.holder.user_id != user:
            return False
        floor.revoke(ev.RevokeReason.NO_MEDIA, now)
        self._route(floor)
        return True

    # -- patches -----------------------------------------------------------------------

    def patch(self, user: int, talkgroups: Iterable[str], now: float) -> None:
        """Join 2+ talkgroups into one floor (rule 4)."""
        groups = sorted({self.roster.require(user, tg, Right.DISPATCH) for tg in talkgroups})
        floor, had = self._merge(groups)
        self._send(self._audience(floor),
                   ev.TalkgroupsPatched(tuple(groups), self.roster.identity(user)))
        if floor.holder is not None:
            h = floor.holder
            self._send(self._audience(floor) - had - {h.user_id},
                       ev.FloorTaken(floor.talkgroups, h.talkgroup, h.member, h.call_type,
                                  h.priority))

    def restore_patch(self, talkgroups: Iterable[str], now: float) -> None:
        """A patch an earlier radio leader had, in force again here (rule 4): its floor is
        idle (a new leader starts with every floor idle), and nobody is told, as nobody is
        connected yet; members learn it as they join (``patched_with``)."""
        self._merge(sorted({self.roster.talkgroup(tg).id for tg in talkgroups}))

    def patches(self) -> list[tuple[str, ...]]:
        """The patches in force, each its talkgroups in order."""
        return sorted({f.talkgroups for f in self._floors.values() if len(f.talkgroups) > 1})

    def _merge(self, groups: list[str]) -> tuple[Floor, frozenset[int]]:
        """One floor for ``groups`` (sorted, rights checked), and who heard it before."""
        if len(groups) < 2:
            raise CommandRefused(ErrorCode.PATCH_TOO_SMALL, "a patch needs two talkgroups")
        floors = [self._floors[tg] for tg in groups]
        if any(len(f.talkgroups) > 1 for f in floors):
            raise CommandRefused(ErrorCode.PATCHED, "unpatch first")
        busy = [f for f in floors if f.state is not FloorState.IDLE]
        if len(busy) > 1:
            raise CommandRefused(ErrorCode.FLOOR_BUSY, "two of these talkgroups are busy")
        floor = busy[0] if busy else Floor(groups, sequence=self._seq)
        had = self._audience(floor)
        floor.retarget(groups, FloorConfig.strictest(self._config(tg) for tg in groups))
        for tg in groups:
            self._floors[tg] = floor
        return floor, had

    def unpatch(self, user: int, talkgroup: str, now: float) -> None:
        """Dissolve the patch ``talkgroup`` is in (rule 4)."""
        floor = self._floor(talkgroup)
        if len(floor.talkgroups) < 2:
            raise CommandRefused(ErrorCode.NOT_PATCHED, talkgroup)
        groups, holder = floor.talkgroups, floor.holder
        for tg in groups:
            self.roster.require(user, tg, Right.DISPATCH)
        keep = holder.talkgroup if holder is not None else groups[0]
        others = [tg for tg in groups if tg != keep]
        told = self._audience(floor)
        floor.cancel_queued(others, ev.CancelReason.UNPATCHED)
        self._route(floor)
        floor.retarget([keep], self._config(keep))
        for tg in others:
            self._floors[tg] = Floor([tg], self._config(tg), sequence=self._seq)
        self._send(told, ev.TalkgroupsUnpatched(groups, self.roster.identity(user)))
        for tg in others if holder is not None else []:
            self._send(self.roster.members(tg), ev.FloorIdle((tg,)))

    # -- emergencies -------------------------------------------------------------------

    def raise_emergency(self, user: int, talkgroup: str | None, now: float,
                        reported_at: datetime | None = None) -> None:
        """The emergency button, on ``talkgroup`` (None: the selected one) (rule 5).

        ``reported_at``: when the officer pressed it, for an emergency the app kept while
        offline (already checked by the adapter); it travels on the events unchanged."""
        tg = self.roster.require(user, self.roster.target(user, talkgroup), Right.TALK)
        who, previous = self.roster.identity(user), self._emergencies.get(tg)
        e = Emergency(tg, who, now if previous is None else previous.raised_at,
                      0 if previous is None else previous.alerts, None,
                      reported_at=reported_at)
        self._send(self._audience(self._floors[tg]) | self.roster.dispatchers(),
                   ev.EmergencyRaised(tg, who, reported_at))
        self._alert(e, now)
        other = self._find_engaged(user)
        if other is not None and other is not self._floors[tg]:
            other.release(user, now)
            self._route(other)
        self._ask(user, tg, ev.CallType.EMERGENCY, cap_priority(who.role, 99), now)

    def restore_emergency(self, talkgroup: str, raised_by: Identity,
                          acknowledged_by: Identity | None, now: float) -> None:
        """An emergency an earlier radio leader had, active again here (rule 6)."""
        e = Emergency(self.roster.talkgroup(talkgroup).id, raised_by, now, 0, None,
                      acknowledged_by)
        if acknowledged_by is None:
            self._alert(e, now)
        else:
            self._emergencies[e.talkgroup] = e

    def acknowledge_emergency(self, user: int, talkgroup: str, now: float) -> None:
        e = self._active_emergency(user, talkgroup)
        if e.acknowledged_by is not None:
            raise CommandRefused(ErrorCode.ALREADY_ACKNOWLEDGED, talkgroup)
        who = self.roster.identity(user)
        self._emergencies[e.talkgroup] = replace(e, next_alert=None, acknowledged_by=who)
        self._tell_emergency(ev.EmergencyAcknowledged(e.talkgroup, who))

    def clear_emergency(self, user: int, talkgroup: str, now: float) -> None:
        e = self._active_emergency(user, talkgroup)
        del self._emergencies[e.talkgroup]
        self._tell_emergency(ev.EmergencyCleared(e.talkgroup, self.roster.identity(user)))

    # -- timers ------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        """When `handle_timer` must next be called, or None."""
        times = [t for f in self._unique_floors() if (t := f.get_timer()) is not None]
        times += [e.next_alert for e in self._emergencies.values() if e.next_alert is not None]
        return min(times, default=None)

    def handle_timer(self, now: float) -> None:
        for floor in self._unique_floors():
            floor.handle_timer(now)
            self._route(floor)
        for e in list(self._emergencies.values()):
            if e.next_alert is not None and e.next_alert <= now:
                self._alert(e, now)

    # -- internals ---------------------------------------------------------------------

    def _floor(self, talkgroup: str) -> Floor:
        return self._floors[self.roster.talkgroup(talkgroup).id]

    def _config(self, talkgroup: str) -> FloorConfig:
        return self.roster.talkgroups[talkgroup].floor_config(self.config.no_media_timeout,
                                                              self.config.grant_accept_window)

    def _joined(self, user: int, tg: str) -> None:
        self._send(set(self.roster.members(tg)) - {user},
                   ev.MemberJoined(tg, self.roster.identity(user)))
        floor = self._floors[tg]
        self._send({user}, ev.TalkgroupJoined(
            tg, self.roster.presence(tg), None if floor.holder is None else floor.holder.member,
            tuple(g for g in floor.talkgroups if g != tg), tg in self._emergencies))

    def _left(self, user: int, tg: str, now: float) -> None:
        floor = self._floors[tg]
        request = floor.engaged(user)
        if request is not None and request.talkgroup == tg:
            floor.member_left(user, now)
            self._route(floor)
        self._send(self.roster.members(tg), ev.MemberLeft(tg, user))

    def _deny_reason(self, user: int, tg: str, call_type: ev.CallType,
                     override: bool) -> ev.DenyReason | None:
        rights = self.roster.rights(user, tg)
        if Right.TALK not in rights or (override and Right.DISPATCH not in rights):
            return ev.DenyReason.NO_RIGHT
        if tg != self.roster.selected(user) and Right.DISPATCH not in rights:
            return ev.DenyReason.NOT_SELECTED
        if call_type is ev.CallType.EMERGENCY and tg not in self._emergencies:
            return ev.DenyReason.NO_EMERGENCY
        if call_type is ev.CallType.IMMINENT_PERIL and not self.roster.talkgroup(
                tg).may_claim_imminent_peril(self.roster.identity(user)):
            return ev.DenyReason.NO_RIGHT
        return None

    def _ask(self, user: int, tg: str, call_type: ev.CallType, priority: int, now: float, *,
             override: bool = False) -> None:
        """Hand a checked request to the floor, unless the user is engaged elsewhere."""
        identity, floor = self.roster.identity(user), self._floors[tg]
        other = self._find_engaged(user)
        if other is not None and other is not floor:
            holds = other.holder is not None and other.holder.user_id == user
            reason = ev.DenyReason.ALREADY_HOLDER if holds else ev.DenyReason.ALREADY_QUEUED
            self._send({user}, ev.FloorDenied(floor.talkgroups, tg, user, reason))
            return
        floor.request(identity, call_type, cap_priority(identity.role, priority), now,
                      override=override, talkgroup=tg)
        self._route(floor)

    def _find_engaged(self, user: int) -> Floor | None:
        """The floor the user holds or waits for (its request was made on a joined group)."""
        for tg in self.roster.groups(user):
            if self._floors[tg].engaged(user) is not None:
                return self._floors[tg]
        return None

    def _engaged_floor(self, user: int, code: ErrorCode) -> Floor:
        floor = self._find_engaged(user)
        if floor is None:
            raise CommandRefused(code, "no floor held or asked for")
        return floor

    def _active_emergency(self, user: int, talkgroup: str) -> Emergency:
        e = self._emergencies.get(self.roster.require(user, talkgroup, Right.DISPATCH))
        if e is None:
            raise CommandRefused(ErrorCode.NO_EMERGENCY, talkgroup)
        return e

    def _alert(self, e: Emergency, now: float) -> None:
        e = replace(e, alerts=e.alerts + 1, next_alert=now + self.config.alert_interval)
        self._emergencies[e.talkgroup] = e
        self._send(self.roster.dispatchers(),
                   ev.EmergencyAlerted(e.talkgroup, e.raised_by, e.alerts, e.reported_at))

    def _tell_emergency(self, event: ev.EmergencyAcknowledged | ev.EmergencyCleared) -> None:
        self._send(self._audience(self._floors[event.talkgroup]) | self.roster.dispatchers(),
                   event)

    def _route(self, floor: Floor) -> None:
        audience = self._audience(floor)
        for event in floor.events():
            self._send(ev.recipients(event, audience), event)

    def _audience(self, floor: Floor) -> frozenset[int]:
        return frozenset(u for tg in floor.talkgroups for u in self.roster.members(tg))

    def _unique_floors(self) -> list[Floor]:
        return list({id(f): f for f in self._floors.values()}.values())

    def _send(self, to: Iterable[int], event: ev.Event) -> None:
        users = frozenset(u for u in to if self.roster.is_connected(u))
        if users:
            self._out.append(ev.Envelope(users, event))
