"""The radio service: drives the pure :class:`ptt.control.Radio` from the network.

It owns the one timer of the core, the clients' outboxes, the resume window and the
side effects of floor events (transmission records, media routes, bus events). Rules:

1. After every command and timer the service *pumps*: it drains the core's envelopes,
   encodes each event once, puts it into each recipient's outbox, records what must be
   stored, and re-arms the timer at ``radio.get_timer()``.
2. A socket that drops does not end the session at once: the user keeps its talkgroups
   for ``resume_window`` seconds (its floor grant or queued request ends immediately, as
   for any disconnect: a talker who cannot be heard must not keep the net), and messages
   for it are kept (up to a limit), with those its socket had not written yet. Reconnecting
   with the session id within the window resumes: it stays joined.
3. ``welcome`` is the first message of every connection: :meth:`RadioService.attach` sends
   it before anything else, then (on a resume) what the client missed, in order, all in one
   synchronous step, so nothing can come in between.
4. A second connection of the same user without the session id starts afresh: the old
   session ends and the old socket is closed with code 4002. A socket whose credentials are
   revoked (:meth:`RadioService.revoke`) is told ``token_revoked`` and closed with 4004, and
   its session ends at once: it cannot be resumed.
5. ``ref``: while a command is handled, the first message to its sender of a type that
   answers it (``ptt.protocol.ANSWERS``) carries the command's ``ref``; nobody else's copy
   does.
6. Transmissions (bursts) are the service's record of floor grants: one starts with each
   ``FloorGranted`` to a new talker and ends with the reason the talker lost the floor
   (``released``, ``disconnected``, a ``FloorRevoked`` reason, ``upgraded`` when the talker's
   own request raised its call type, ``server_shutdown``). A burst during which no audio
   arrived (``Burst.heard``) is not a transmission: the store forgets it, the recorder
   writes nothing.
7. Draining (:meth:`RadioService.drain`, when the node is being stopped): clients not
   talking are told ``move`` (with the other nodes' addresses) and closed with 4010 at
   once; a talker keeps its socket until its transmission ends or the drain's deadline.
   They reconnect with their session id, elsewhere.
8. The tail of a transmission: a talker who lets go (``released``) stays routed for
   :data:`RELEASE_TAIL` seconds, until another talker is granted any of its talkgroups,
   so that its last packets, sent before the release but read after it by a server running
   late (asyncio reads one datagram per socket per turn; the release comes on the
   WebSocket), still reach the listeners. A floor taken from the talker (pre-empted,
   revoked, disconnected) ends its route at once.
9. In a cluster only the radio leader serves the radio (docs/architecture.md, "Several
   nodes"). ``serving()`` says whether this node may act as the leader *now*; while it
   says no, commands are refused (``not_leader``), voice is dropped and floor timers do
   nothing. :meth:`RadioService.reset` drops every session when the node stops or starts
   being the leader, closing sockets with 4010 (the client reconnects to any node and
   resumes). ``sessions`` is told each session's resumable state as it changes
   (:mod:`ptt.server.sessions`), and an earlier leader's record of a session may be handed
   to :meth:`RadioService.attach` to resume it here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from kernel.revocation import CLOSE_REVOKED
from ptt import protocol as p
from ptt.control import Radio
from ptt.errors import CommandRefused, ErrorCode
from ptt.events import (
    EmergencyAcknowledged,
    EmergencyCleared,
    EmergencyRaised,
    Envelope,
    FloorGranted,
    FloorIdle,
    FloorRevoked,
    MemberLeft,
    TalkgroupJoined,
    TalkgroupRemoved,
    TalkgroupsPatched,
    TalkgroupsUnpatched,
)
from ptt.server.connection import Connection
from ptt.server.sessions import EmergencyRecord, PatchRecord, SessionRecord
from ptt.talkgroup import Identity, Right, Talkgroup

log = logging.getLogger("ptt.service")

CLOSE_REPLACED = 4002
CLOSE_MOVED = 4010
#: Seconds a released talker stays routed (rule 8): ten packets' worth.
RELEASE_TAIL = 0.2
BACKLOG_LIMIT = 200


class RadioStore(Protocol):
    """Where the service writes what happened (see :mod:`ptt.server.store`)."""

    def transmission_started(self, key: object, talkgroup: str, talker: int, call_type: str,
                             at: datetime) -> None: ...

    def transmission_ended(self, key: object, reason: str, at: datetime,
                           heard: bool = True) -> None: ...

    def emergency(self, event: str, talkgroup: str, user: int, at: datetime,
                  lat: float | None = None, lon: float | None = None,
                  received_at: datetime | None = None) -> None: ...

    def text(self, talkgroup: str, sender: int, body: str, at: datetime) -> None: ...

    def position(self, user: int, lat: float, lon: float, accuracy: float | None,
                 at: datetime) -> None: ...


class BurstObserver(Protocol):
    """Told when a transmission (burst) starts and ends (the recorder)."""

    def burst_started(self, burst: Burst, at: datetime) -> None: ...

    def burst_ended(self, burst: Burst, reason: str, at: datetime) -> None: ...


class SessionKeeper(Protocol):
    """Where the resumable state of sessions is kept across leaders (rule 9)."""

    def saved(self, record: SessionRecord) -> None: ...

    def forgotten(self, user: int) -> None: ...

    def emergencies_changed(self, record: EmergencyRecord) -> None: ...

    def patches_changed(self, record: PatchRecord) -> None: ...


class MediaPlane(Protocol):
    """The voice transports, told who may be heard by whom."""

    def route(self, talker: int, deliveries: dict[int, str]) -> None: ...

    def unroute(self, talker: int) -> None: ...

    def client_gone(self, user: int) -> None: ...

    def membership_changed(self, user: int) -> None: ...


@dataclass
class Client:
    identity: Identity
    session_id: str
    connection: Connection | None
    backlog: deque[str] = field(default_factory=lambda: deque(maxlen=BACKLOG_LIMIT))
    expiry: asyncio.TimerHandle | None = None
    position: tuple[float, float, float | None, datetime] | None = None


@dataclass(eq=False)
class Burst:
    """One transmission, from its floor grant to its end. Compared by identity: it is also
    the key under which the store and the recorder know the transmission."""

    talker: int
    talkgroup: str
    scope: tuple[str, ...] = ()
    call_type: str = "normal"
    #: Audio from the talker was forwarded during the burst (see rule 6).
    heard: bool = False
    started_at: datetime | None = None


class RadioService:
    def __init__(
        self,
        radio: Radio,
        store: RadioStore,
        *,
        publish: Callable[[object], None] = lambda event: None,
        resume_window: float = 30.0,
        utcnow: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.radio = radio
        self.store = store
        self.publish = publish
        self.resume_window = resume_window
        self.utcnow = utcnow
        self.media: list[MediaPlane] = []
        self.observers: list[BurstObserver] = []
        self.clients: dict[int, Client] = {}
        #: Talkgroup code -> its number (the database id), used on the media wire.
        self.numbers: dict[str, int] = {}
        self._groups_seen: dict[int, tuple[str, ...]] = {}
        self._membership_dirty: set[int] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._bursts: dict[tuple[str, ...], Burst] = {}
        #: Set whenever a transmission ends, for a drain waiting on the talkers.
        self._burst_ended = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        #: The command being handled: (sender, command type, ref) for rule 5.
        self._answering: tuple[int, str, str | int] | None = None
        #: Released talkers still routed (rule 8): user -> (scope, the timer that unroutes).
        self._tails: dict[int, tuple[tuple[str, ...], asyncio.TimerHandle]] = {}
        #: Set by :meth:`drain`: no new session is taken (rule 7); where to go instead.
        self.draining = False
        self.move_to: list[str] = []
        #: Rule 9: whether this node may act as the radio now (always, on one node).
        self.serving: Callable[[], bool] = lambda: True
        self.sessions: SessionKeeper | None = None
        self._emergencies_dirty = False
        self._patches_dirty = False

    # -- time ----------------------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def now(self) -> float:
        return self.loop.time()

    # -- sessions ------------------------------------------------------------------------

    def attach(self, identity: Identity, connection: Connection, resume: str | None,
               welcome: Callable[[Client, bool], dict[str, Any]],
               restored: SessionRecord | None = None) -> tuple[Client, bool]:
        """A socket authenticated as ``identity``: resume its session or start one.

        ``welcome(client, resumed)`` builds the first message (rule 3). ``restored``: an
        earlier leader's record of the session, resumed if ``resume`` names it (rule 9)."""
        client = self.clients.get(identity.user_id)
        if client is not None and resume is not None and secrets.compare_digest(
                resume, client.session_id):
            if client.expiry is not None:
                client.expiry.cancel()
                client.expiry = None
            if client.connection is not None:
                self._keep_unsent(client, client.connection)
                client.connection.close(CLOSE_REPLACED, "resumed elsewhere")
            client.connection = connection
            connection.send(p.dumps(welcome(client, True)))
            while client.backlog:
                connection.send(client.backlog.popleft())
            log.info("session resumed", extra={"user": identity.username})
            return client, True
        if client is not None:
            if client.connection is not None:
                client.connection.close(CLOSE_REPLACED, "connected elsewhere")
            self._end(client)
        resumed = (restored is not None and resume is not None and restored.user
                   == identity.user_id and secrets.compare_digest(resume, restored.session))
        client = Client(identity, restored.session if restored is not None and resumed
                        else secrets.token_urlsafe(16), connection)
        self.clients[identity.user_id] = client
        self.radio.connect(identity, self.now())
        if restored is not None and resumed:
            self._restore(identity.user_id, restored)
        connection.send(p.dumps(welcome(client, resumed)))
        self._membership_dirty.add(identity.user_id)
        self._pump()
        self._sync_membership()
        self._announce_presence(identity, online=True)
        log.info("session resumed from another leader" if resumed else "session started",
                 extra={"user": identity.username})
        return client, resumed

    def _restore(self, user: int, record: SessionRecord) -> None:
        """Join again what an earlier leader's session had joined, where the user still
        may listen (talkgroups close, rights change)."""
        roster = self.radio.roster
        groups = [tg for tg in record.groups if tg in roster.talkgroups
                  and Right.LISTEN in roster.rights(user, tg)]
        selected = record.selected if record.selected in groups else None
        self.radio.set_scan(user, groups, selected, self.now())

    def detach(self, client: Client, connection: Connection) -> None:
        """The socket of ``client`` closed; keep its session for the resume window."""
        if client.connection is not connection or self.clients.get(
                client.identity.user_id) is not client:
            return  # replaced already
        self._keep_unsent(client, connection)
        client.connection = None
        user = client.identity.user_id
        for media in self.media:
            media.client_gone(user)
        try:
            self._release(user, "disconnected")
        except CommandRefused:
            pass
        self._pump()
        client.expiry = self.loop.call_later(self.resume_window, self._expire, client)

    def revoke(self, client: Client, connection: Connection) -> None:
        """The credentials ``connection`` was opened with are revoked (rule 4)."""
        connection.send(p.dumps(p.error_message(
            "token_revoked", "the account was disabled or its password changed; log in again")))
        connection.close(CLOSE_REVOKED, "credentials revoked")
        if self.clients.get(client.identity.user_id) is client and client.connection is connection:
            self.detach(client, connection)
            self._end(client)

    @staticmethod
    def _keep_unsent(client: Client, connection: Connection) -> None:
        """Put what ``connection`` had not written yet in front of the backlog (rule 2)."""
        unsent = connection.take_unsent()
        if unsent:
            client.backlog.extendleft(reversed(unsent))

    def _expire(self, client: Client) -> None:
        if self.clients.get(client.identity.user_id) is client and client.connection is None:
            log.info("session expired", extra={"user": client.identity.username})
            self._end(client)

    def _end(self, client: Client) -> None:
        if client.expiry is not None:
            client.expiry.cancel()
        del self.clients[client.identity.user_id]
        if self.sessions is not None:
            self.sessions.forgotten(client.identity.user_id)
        self.radio.disconnect(client.identity.user_id, self.now())
        self._membership_dirty.add(client.identity.user_id)
        self._pump()
        self._sync_membership()
        self._announce_presence(client.identity, online=False)

    async def drain(self, deadline: float, nodes: list[str],
                    hand_over: Callable[[], Awaitable[None]] | None = None) -> None:
        """Rule 7: move every client on by ``deadline`` (loop time), talkers last. The radio
        leader of a cluster (rule 9) first lets the transmissions under way end, then hands
        the radio over (``hand_over``: its clients are moved to the next leader then)."""
        self.draining, self.move_to = True, nodes
        if hand_over is not None:
            while self._bursts and await self._burst_ends_before(deadline):
                pass
            await hand_over()
        move = p.dumps(p.message("move", nodes=nodes))
        while True:
            talkers = {burst.talker for burst in self._bursts.values()}
            late = self.now() >= deadline
            waiting = False
            for client in list(self.clients.values()):
                connection = client.connection
                if connection is None or connection.closed:
                    continue
                if client.identity.user_id in talkers and not late:
                    waiting = True
                    continue
                connection.send(move)
                connection.close(CLOSE_MOVED, "node draining; reconnect elsewhere")
            if not waiting:
                return
            await self._burst_ends_before(deadline)

    async def _burst_ends_before(self, deadline: float) -> bool:
        """Wait for a transmission to end, at most until ``deadline`` (loop time); whether
        one did."""
        self._burst_ended.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._burst_ended.wait(), max(0.0, deadline - self.now()))
            return True
        return False

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for client in list(self.clients.values()):
            if client.connection is not None:
                await client.connection.aclose()
        now = self.utcnow()
        for scope in list(self._bursts):
            self._end_burst(scope, "server_shutdown", now)

    def reset(self, radio: Radio, numbers: dict[str, int]) -> None:
        """Drop every session and start afresh on ``radio`` (rule 9): this node stopped or
        started being the radio leader. Sockets are closed with 4010; the sessions stay
        in the session store for the next leader to resume."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = self.utcnow()
        for scope in list(self._bursts):
            self._end_burst(scope, "leader_lost", now)
        for _, timer in self._tails.values():
            timer.cancel()
        for talker in list(self._tails):
            self._end_tail(talker)
        clients, self.clients = self.clients, {}
        for client in clients.values():
            if client.expiry is not None:
                client.expiry.cancel()
            if client.connection is not None:
                client.connection.close(CLOSE_MOVED, "radio moved to another node")
            for media in self.media:
                media.client_gone(client.identity.user_id)
        self._groups_seen.clear()
        self._membership_dirty.clear()
        self.radio, self.numbers = radio, numbers

    # -- commands ------------------------------------------------------------------------

    def handle(self, client: Client, cmd: p.Command) -> None:
        """Apply one parsed command; refusals go back to the client as ``error``."""
        user, now = client.identity.user_id, self.now()
        if not self.serving():
            self.send(client, p.error_message("not_leader",
                                              "this node no longer serves the radio", cmd.ref))
            return
        self._answering = None if cmd.ref is None else (user, cmd.type, cmd.ref)
        reply: dict[str, Any] | None = None
        try:
            reply = self._apply(client, user, cmd, now)
        except CommandRefused as exc:
            self.send(client, p.error_message(exc.code.value, exc.detail or exc.code.value,
                                              cmd.ref))
        finally:
            # The actor's own groups may have changed even when nobody else was told.
            self._membership_dirty.add(user)
            self._pump()
            self._answering = None
            self._sync_membership()
        if reply is not None:
            self.send(client, reply)

    def _apply(self, client: Client, user: int, cmd: p.Command,
               now: float) -> dict[str, Any] | None:
        """Apply ``cmd``; returns an answer of the service's own to send after the events."""
        r = self.radio
        match cmd:
            case p.Join():
                r.join(user, cmd.talkgroup, now)
            case p.Leave():
                tg = r.roster.talkgroup(cmd.talkgroup).id
                r.leave(user, tg, now)
                return p.message("left", cmd.ref, talkgroup=tg)
            case p.Scan():
                r.set_scan(user, cmd.talkgroups, cmd.selected, now)
                groups, selected = r.roster.groups(user), r.roster.selected(user)
                self.send(client, p.message("scan", cmd.ref, talkgroups=list(groups),
                                            selected=selected))
            case p.FloorRequest():
                r.request_floor(user, cmd.talkgroup, cmd.call_type, cmd.priority, now,
                                override=cmd.override)
            case p.FloorRelease():
                burst = self._release(user, "released")
                if burst is not None:
                    return p.message("floor_released", cmd.ref, talkgroup=burst.talkgroup,
                                     talkgroups=list(burst.scope))
            case p.FloorAccept():
                r.accept_grant(user, now)
            case p.FloorRevoke():
                r.revoke_floor(user, cmd.talkgroup, now)
            case p.Patch():
                r.patch(user, cmd.talkgroups, now)
            case p.Unpatch():
                r.unpatch(user, cmd.talkgroup, now)
            case p.EmergencyRaise():
                tg = r.roster.target(user, cmd.talkgroup)
                received = self.utcnow()
                reported = p.raise_time(cmd, received)
                r.raise_emergency(user, tg, now, reported)
                lat, lon = cmd.lat, cmd.lon
                if lat is None and client.position is not None:
                    lat, lon = client.position[0], client.position[1]
                self.store.emergency("raised", tg, user, reported or received, lat, lon,
                                     received_at=received)
                if lat is not None and lon is not None:
                    self._share_position(client, lat, lon, None)
            case p.EmergencyAck():
                r.acknowledge_emergency(user, cmd.talkgroup, now)
            case p.EmergencyClear():
                r.clear_emergency(user, cmd.talkgroup, now)
            case p.Location():
                self._share_position(client, cmd.lat, cmd.lon, cmd.accuracy)
            case p.Text():
                self._text(client, cmd)
            case p.Presence():
                self.send(client, p.message("presence", cmd.ref, online=[
                    p.identity(i) for i in r.roster.presence_seen_by(client.identity)]))
            case p.Ping():
                self.send(client, p.message("pong", cmd.ref))
            case _:
                # hello, WebRTC and replay messages are handled by their own adapters.
                raise CommandRefused(ErrorCode.ILLEGAL_TRANSITION,
                                     f"{cmd.type} is not accepted here")
        return None

    def _release(self, user: int, reason: str) -> Burst | None:
        """``user`` lets go of its floor (or withdraws its request); the transmission it was
        making, if any, ends with ``reason`` (returned, ended)."""
        burst = next((b for b in self._bursts.values() if b.talker == user), None)
        self.radio.release_floor(user, self.now())
        if burst is not None:
            self._end_burst(burst.scope, reason, self.utcnow())
        return burst

    def talking_since(self, talkgroup: str) -> datetime | None:
        """When the transmission heard on ``talkgroup`` began (None: nobody talks there)."""
        return next((b.started_at for b in self._bursts.values() if talkgroup in b.scope), None)

    def media_closed(self, user: int) -> None:
        """The media path of ``user`` closed (its WebRTC peer connection): a grant it holds
        ends now (``floor_revoked``, ``no_media``) instead of at the no-media timer."""
        if self.radio.media_closed(user, self.now()):
            self._pump()

    def media_received(self, user: int) -> tuple[str, ...] | None:
        """A voice packet from ``user``: the talkgroups it goes to, or None to drop it."""
        if not self.serving():
            return None
        result = self.radio.media_received(user, self.now())
        if result is None and user in self._tails:
            return self._tails[user][0]  # the tail of a released transmission (rule 8)
        if result is not None:
            burst = self._bursts.get(result)
            if burst is not None and burst.talker == user:
                burst.heard = True
        self._pump()
        return result

    # -- outbound ------------------------------------------------------------------------

    def send(self, client: Client, msg: dict[str, Any]) -> None:
        self._deliver(client, p.dumps(msg))

    def _deliver(self, client: Client, text: str) -> None:
        if client.connection is not None and not client.connection.closed:
            client.connection.send(text)
        else:
            client.backlog.append(text)

    def send_to(self, users: frozenset[int] | set[int], msg: dict[str, Any]) -> None:
        text = p.dumps(msg)
        for user in users:
            client = self.clients.get(user)
            if client is not None:
                self._deliver(client, text)

    def _pump(self) -> None:
        """Rule 1: deliver events, record their effects, re-arm the timer."""
        for envelope in self.radio.events():
            self._effects(envelope)
            msg = p.encode_event(envelope.event)
            answering = self._answering
            if answering is not None and answering[0] in envelope.to and p.answers(
                    answering[1], msg["type"]):
                self._answering = None
                self.send_to(envelope.to - {answering[0]}, msg)
                self.send_to({answering[0]}, p.with_ref(msg, answering[2]))
            else:
                self.send_to(envelope.to, msg)
        if self._emergencies_dirty:
            self._emergencies_dirty = False
            if self.sessions is not None:
                self.sessions.emergencies_changed(EmergencyRecord(tuple(
                    (e.talkgroup, e.raised_by, e.acknowledged_by)
                    for e in self.radio.emergencies())))
        if self._patches_dirty:
            self._patches_dirty = False
            if self.sessions is not None:
                self.sessions.patches_changed(PatchRecord(tuple(self.radio.patches())))
        self._arm()

    def _arm(self) -> None:
        deadline = self.radio.get_timer()
        if self._timer is not None:
            # An earlier timer may stay: it fires, the core finds nothing due, we re-arm.
            # This keeps the per-packet no-media refresh from churning timer handles.
            if deadline is not None and self._timer.when() <= deadline:
                return
            self._timer.cancel()
            self._timer = None
        if deadline is not None:
            self._timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if not self.serving():
            return  # the leadership's end resets the radio
        self.radio.handle_timer(self.now())
        self._pump()

    def _effects(self, envelope: Envelope) -> None:
        event, at = envelope.event, self.utcnow()
        match event:
            case FloorGranted():
                current = self._bursts.get(event.talkgroups)
                if current is not None and current.talker == event.talker.user_id:
                    if current.call_type == event.call_type.value:
                        return  # the same grant taken again (a queued grant asked for)
                    self._end_burst(event.talkgroups, "upgraded", at)
                else:
                    # Unreachable when every way off the floor ends its burst first.
                    self._end_burst(event.talkgroups, "preempted", at)
                self._cut_tails(event.talkgroups)
                started = Burst(event.talker.user_id, event.talkgroup, event.talkgroups,
                                event.call_type.value, started_at=at)
                self._bursts[event.talkgroups] = started
                self.store.transmission_started(started, event.talkgroup,
                                                event.talker.user_id, event.call_type.value,
                                                at)
                for observer in self.observers:
                    observer.burst_started(started, at)
                self._route(event.talker.user_id, event.talkgroups)
            case FloorRevoked():
                burst = self._bursts.get(event.talkgroups)
                if burst is not None and burst.talker == event.user_id:
                    self._end_burst(event.talkgroups, event.reason.value, at)
            case FloorIdle():
                self._end_burst(event.talkgroups, "released", at)
            case TalkgroupsPatched() | TalkgroupsUnpatched():
                self._patches_dirty = True
                self._rescope()
            case TalkgroupJoined() | TalkgroupRemoved():
                self._membership_dirty.update(envelope.to)
            case MemberLeft():
                self._membership_dirty.add(event.user_id)
            case EmergencyRaised():
                self._emergencies_dirty = True
                self.publish(event)
            case EmergencyAcknowledged():
                self._emergencies_dirty = True
                self.store.emergency("acknowledged", event.talkgroup, event.by.user_id, at)
                self.publish(event)
            case EmergencyCleared():
                self._emergencies_dirty = True
                self.store.emergency("cleared", event.talkgroup, event.by.user_id, at)
                self.publish(event)
            case _:
                pass

    def _sync_membership(self) -> None:
        """Tell the media planes whose joined talkgroups changed, and re-route the bursts
        under way so that a listener who just joined hears the talker (late entry).

        Only users named by a membership event since the last call are looked at
        (``_membership_dirty``, filled by ``_effects``), so a command costs the same with
        ten clients or a thousand."""
        roster = self.radio.roster
        changed = False
        dirty, self._membership_dirty = self._membership_dirty, set()
        for user in dirty:
            groups = roster.groups(user) if roster.is_connected(user) else ()
            client = self.clients.get(user)
            if self.sessions is not None and client is not None and roster.is_connected(user):
                self.sessions.saved(SessionRecord(client.session_id, user, groups,
                                                  roster.selected(user)))
            if self._groups_seen.get(user, ()) != groups:
                changed = True
                if groups:
                    self._groups_seen[user] = groups
                else:
                    self._groups_seen.pop(user, None)
                for media in self.media:
                    media.membership_changed(user)
        if changed:
            self.reroute()

    def _rescope(self) -> None:
        """A patch merged or split floors: file each burst under its floor's new scope
        (the floor keeps its talker across a patch) and route it to the new audience."""
        bursts = list(self._bursts.values())
        self._bursts = {}
        for burst in bursts:
            burst.scope = self.radio.floor_status(burst.talkgroup).talkgroups
            self._bursts[burst.scope] = burst
        self.reroute()

    def reroute(self) -> None:
        for scope, burst in self._bursts.items():
            self._route(burst.talker, scope)

    def _end_burst(self, scope: tuple[str, ...], reason: str, at: datetime) -> None:
        burst = self._bursts.pop(scope, None)
        if burst is not None:
            self._burst_ended.set()
            self.store.transmission_ended(burst, reason, at, burst.heard)
            for observer in self.observers:
                observer.burst_ended(burst, reason, at)
            if reason == "released" and self.media:
                self._keep_tail(burst.talker, scope)
            else:
                for media in self.media:
                    media.unroute(burst.talker)

    def _keep_tail(self, talker: int, scope: tuple[str, ...]) -> None:
        previous = self._tails.pop(talker, None)
        if previous is not None:
            previous[1].cancel()
        self._tails[talker] = (scope, self.loop.call_later(RELEASE_TAIL, self._end_tail,
                                                           talker))

    def _end_tail(self, talker: int) -> None:
        if self._tails.pop(talker, None) is not None:
            for media in self.media:
                media.unroute(talker)

    def _cut_tails(self, scope: tuple[str, ...]) -> None:
        """A new grant on ``scope``: the tails on any of its talkgroups end now (rule 8)."""
        for talker, (tail, timer) in list(self._tails.items()):
            if set(tail) & set(scope):
                timer.cancel()
                self._end_tail(talker)

    def _route(self, talker: int, scope: tuple[str, ...]) -> None:
        """Tell the media planes who hears ``talker``: each listener on the track of the
        first talkgroup of the floor it has joined."""
        if not self.media:
            return
        deliveries: dict[int, str] = {}
        for listener in self.radio.audience(scope[0]) - {talker}:
            joined = self.radio.roster.groups(listener)
            deliveries[listener] = next(tg for tg in scope if tg in joined)
        for media in self.media:
            media.route(talker, deliveries)

    # -- presence, positions, texts -----------------------------------------------------

    def _announce_presence(self, who: Identity, *, online: bool) -> None:
        self.send_to(self.radio.whereabouts_audience(who.user_id),
                     p.message("presence_changed", user=p.identity(who), online=online))

    def _share_position(self, client: Client, lat: float, lon: float,
                        accuracy: float | None) -> None:
        at = self.utcnow()
        client.position = (lat, lon, accuracy, at)
        self.store.position(client.identity.user_id, lat, lon, accuracy, at)
        self.send_to(self.radio.whereabouts_audience(client.identity.user_id),
                     p.message("location", user=p.identity(client.identity), lat=lat, lon=lon,
                               accuracy=accuracy, at=at.isoformat()))

    def _text(self, client: Client, cmd: p.Text) -> None:
        user = client.identity.user_id
        tg = self.radio.roster.target(user, cmd.talkgroup)
        self.radio.roster.require(user, tg, Right.TALK)
        at = self.utcnow()
        self.store.text(tg, user, cmd.body, at)
        msg = p.message("text", talkgroup=tg, sender=p.identity(client.identity),
                        body=cmd.body, at=at.isoformat())
        self.send_to(self.radio.text_readers(tg) - {user}, msg)
        self.send(client, p.with_ref(msg, cmd.ref))

    # -- talkgroups from the API ---------------------------------------------------------

    def add_talkgroup(self, talkgroup: Talkgroup, number: int) -> None:
        self.radio.add_talkgroup(talkgroup, self.now())
        self.numbers[talkgroup.id] = number
        self._pump()

    def restore_emergencies(self, record: EmergencyRecord) -> None:
        """The emergencies an earlier radio leader had, active here again (rule 9)."""
        for talkgroup, raised_by, acknowledged_by in record.emergencies:
            try:
                self.radio.restore_emergency(talkgroup, raised_by, acknowledged_by,
                                             self.now())
            except CommandRefused:  # the talkgroup has closed since
                continue
        self._emergencies_dirty = True
        self._pump()

    def restore_patches(self, record: PatchRecord) -> None:
        """The patches an earlier radio leader had, in force here again (rule 9)."""
        for talkgroups in record.patches:
            try:
                self.radio.restore_patch(talkgroups, self.now())
            except CommandRefused:  # a talkgroup has closed since
                continue
        self._patches_dirty = True
        self._rescope()
        self._pump()

    def remove_talkgroup(self, talkgroup: str) -> None:
        self._emergencies_dirty = True
        self.radio.remove_talkgroup(talkgroup, self.now())
        self._pump()
        self._sync_membership()
        self.numbers.pop(talkgroup, None)
