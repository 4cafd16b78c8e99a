"""The signaling protocol of ``/ws``: every message, declared once.

Rules:

1. A message is one JSON object in one WebSocket text frame, with ``"v"`` (the protocol
   version, :data:`VERSION`) and ``"type"`` (snake_case). A client may add ``"ref"`` (a
   string or number of its choice); the answer to that message, including an ``error``,
   carries the same ``ref``.
2. Client messages are parsed into the command dataclasses below (pydantic models,
   frozen); anything else is refused with one :class:`ProtocolError` naming the first
   bad field. Parsing never raises anything but :class:`ProtocolError`.
3. Server messages are built from core events by :func:`encode_event`; one event is
   encoded once and the same text is sent to every recipient.
4. Binary frames carry audio (:mod:`ptt.audioframe`), never signaling.

``docs/protocol.md`` is the reference for client writers; keep the two in step.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any, Final, Literal, assert_never

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ptt.errors import CommandRefused, ErrorCode
from ptt.events import (
    CallType,
    EmergencyAcknowledged,
    EmergencyAlerted,
    EmergencyCleared,
    EmergencyRaised,
    Event,
    FloorDenied,
    FloorGranted,
    FloorIdle,
    FloorQueueCancelled,
    FloorQueued,
    FloorQueuePositionChanged,
    FloorRevoked,
    FloorTaken,
    MemberJoined,
    MemberLeft,
    TalkgroupAdded,
    TalkgroupJoined,
    TalkgroupRemoved,
    TalkgroupsPatched,
    TalkgroupsUnpatched,
)
from ptt.talkgroup import Identity, Right, Talkgroup

VERSION: Final = 1
MAX_MESSAGE_BYTES: Final = 16 * 1024
MAX_TEXT_CHARS: Final = 1000
#: How far ahead of the server's clock an ``emergency_raise.raised_at`` may be (a phone's
#: clock a little fast), and how old it may be (an emergency kept through a long dead zone;
#: older than a shift it is refused, and the app says so).
RAISED_AT_SKEW: Final = timedelta(seconds=60)
RAISED_AT_MAX_AGE: Final = timedelta(hours=12)

TalkgroupId = Annotated[str, Field(min_length=1, max_length=40)]
Ref = Annotated[str | int | None, Field(default=None)]


class ProtocolError(Exception):
    """A client message cannot be accepted; ``code`` goes on the wire (see docs)."""

    def __init__(self, code: str, message: str, ref: str | int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    v: Literal[1]
    ref: Ref = None


class Hello(_Command):
    """Authenticate (when the token was not in the URL) and optionally resume a session."""

    type: Literal["hello"]
    token: str | None = Field(default=None, max_length=4096)
    resume: str | None = Field(default=None, max_length=64)


class Join(_Command):
    type: Literal["join"]
    talkgroup: TalkgroupId


class Leave(_Command):
    type: Literal["leave"]
    talkgroup: TalkgroupId


class Scan(_Command):
    """Hear exactly these talkgroups; talk on ``selected``."""

    type: Literal["scan"]
    talkgroups: list[TalkgroupId] = Field(max_length=64)
    selected: TalkgroupId | None = None


class FloorRequest(_Command):
    type: Literal["floor_request"]
    talkgroup: TalkgroupId | None = None
    call_type: CallType = CallType.NORMAL
    priority: int = Field(default=0, ge=0, le=255)
    override: bool = False


class FloorRelease(_Command):
    type: Literal["floor_release"]


class FloorAccept(_Command):
    type: Literal["floor_accept"]


class FloorRevoke(_Command):
    type: Literal["floor_revoke"]
    talkgroup: TalkgroupId


class Location(_Command):
    type: Literal["location"]
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    accuracy: float | None = Field(default=None, ge=0, le=100_000)


class Text(_Command):
    type: Literal["text"]
    talkgroup: TalkgroupId
    body: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)


class EmergencyRaise(_Command):
    """The emergency button. ``raised_at`` (ISO 8601 with an offset) is sent by an app that
    kept the emergency while offline: when the officer pressed it (see :func:`raise_time`)."""

    type: Literal["emergency_raise"]
    talkgroup: TalkgroupId | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    raised_at: AwareDatetime | None = None


def raise_time(cmd: EmergencyRaise, received: datetime) -> datetime | None:
    """The checked ``raised_at`` of ``cmd`` in UTC (None when it has none), given when the
    server ``received`` it: at most :data:`RAISED_AT_SKEW` ahead (then it is taken as
    ``received``) and at most :data:`RAISED_AT_MAX_AGE` old, else ``invalid_raised_at``."""
    if cmd.raised_at is None:
        return None
    at = cmd.raised_at.astimezone(received.tzinfo)
    if at > received + RAISED_AT_SKEW:
        raise CommandRefused(ErrorCode.INVALID_RAISED_AT,
                             f"raised_at is in the future (more than "
                             f"{int(RAISED_AT_SKEW.total_seconds())} s ahead)")
    if at < received - RAISED_AT_MAX_AGE:
        raise CommandRefused(ErrorCode.INVALID_RAISED_AT,
                             f"raised_at is older than "
                             f"{int(RAISED_AT_MAX_AGE.total_seconds() // 3600)} h")
    return min(at, received)


class EmergencyAck(_Command):
    type: Literal["emergency_ack"]
    talkgroup: TalkgroupId


class EmergencyClear(_Command):
    type: Literal["emergency_clear"]
    talkgroup: TalkgroupId


class Patch(_Command):
    type: Literal["patch"]
    talkgroups: list[TalkgroupId] = Field(min_length=2, max_length=16)


class Unpatch(_Command):
    type: Literal["unpatch"]
    talkgroup: TalkgroupId


class Presence(_Command):
    type: Literal["presence"]


class Ping(_Command):
    type: Literal["ping"]


class RtcOffer(_Command):
    """The client's SDP offer for its one peer connection (see the WebRTC section)."""

    type: Literal["rtc_offer"]
    sdp: str = Field(min_length=1, max_length=MAX_MESSAGE_BYTES)


class RtcAnswer(_Command):
    """The client's answer to a server offer (server-initiated renegotiation)."""

    type: Literal["rtc_answer"]
    sdp: str = Field(min_length=1, max_length=MAX_MESSAGE_BYTES)


class Audio(_Command):
    """Choose how this connection receives audio: ``websocket`` (binary frames on this
    socket, see ``ptt.audioframe``) or ``webrtc`` (the default: no binary frames)."""

    type: Literal["audio"]
    transport: Literal["websocket", "webrtc"]


class Recent(_Command):
    """Ask for the recent transmissions of a talkgroup (after a dead zone)."""

    type: Literal["recent"]
    talkgroup: TalkgroupId


Command = Annotated[
    Hello | Join | Leave | Scan | FloorRequest | FloorRelease | FloorAccept | FloorRevoke
    | Location | Text | EmergencyRaise | EmergencyAck | EmergencyClear | Patch | Unpatch
    | Presence | Ping | RtcOffer | RtcAnswer | Audio | Recent,
    Field(discriminator="type"),
]
_COMMAND: Final[TypeAdapter[Command]] = TypeAdapter(Command)
COMMAND_TYPES: Final = frozenset(
    m.model_fields["type"].annotation.__args__[0]  # type: ignore[union-attr]
    for m in (Hello, Join, Leave, Scan, FloorRequest, FloorRelease, FloorAccept, FloorRevoke,
              Location, Text, EmergencyRaise, EmergencyAck, EmergencyClear, Patch, Unpatch,
              Presence, Ping, RtcOffer, RtcAnswer, Audio, Recent)
)


#: The direct answer of each client message: the server messages that carry its ``ref`` (the
#: first one of these sent to the client while the message is handled). ``error`` answers any
#: message. A message not listed here (``floor_accept``, ``floor_revoke``, ``patch``,
#: ``unpatch``, ``location``, ``rtc_answer``) has no answer but an ``error``.
ANSWERS: Final[dict[str, frozenset[str]]] = {
    "hello": frozenset({"welcome"}),
    "join": frozenset({"joined"}),
    "leave": frozenset({"left"}),
    "scan": frozenset({"scan"}),
    "floor_request": frozenset({"floor_granted", "floor_queued", "floor_denied"}),
    "floor_release": frozenset({"floor_released", "floor_queue_cancelled"}),
    "emergency_raise": frozenset({"emergency_raised"}),
    "emergency_ack": frozenset({"emergency_acknowledged"}),
    "emergency_clear": frozenset({"emergency_cleared"}),
    "text": frozenset({"text"}),
    "presence": frozenset({"presence"}),
    "ping": frozenset({"pong"}),
    "rtc_offer": frozenset({"rtc_answer"}),
    "audio": frozenset({"audio"}),
    "recent": frozenset({"recent"}),
}


def answers(command: str, message_type: str) -> bool:
    """Whether a server message of ``message_type`` is the direct answer to ``command``."""
    return message_type in ANSWERS.get(command, frozenset())


def parse_command(raw: str | bytes) -> Command:
    """One client frame to a command, or :class:`ProtocolError` (rule 2)."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ProtocolError("too_large", f"message exceeds {MAX_MESSAGE_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError("malformed_json", f"not JSON: {exc}") from None
    except RecursionError:
        raise ProtocolError("malformed_json", "JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise ProtocolError("malformed_message", "a message must be a JSON object")
    ref = data.get("ref") if isinstance(data.get("ref"), str | int) else None
    if "v" not in data:
        raise ProtocolError("unsupported_version", f"missing \"v\"; this server speaks "
                            f"version {VERSION}", ref)
    if data["v"] != VERSION:
        raise ProtocolError("unsupported_version", f"version {data['v']!r} not supported; "
                            f"this server speaks version {VERSION}", ref)
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in COMMAND_TYPES:
        raise ProtocolError("unknown_type", f"unknown message type {kind!r}", ref)
    try:
        return _COMMAND.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:]) or kind
        raise ProtocolError("invalid_message", f"{kind}.{where}: {first['msg']}"
                            if where != kind else f"{kind}: {first['msg']}", ref) from None


# -- server messages -------------------------------------------------------------------


def message(type_: str, ref: str | int | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"v": VERSION, "type": type_}
    if ref is not None:
        body["ref"] = ref
    body.update(fields)
    return body


def with_ref(msg: dict[str, Any], ref: str | int | None) -> dict[str, Any]:
    """``msg`` as the direct answer to a message that carried ``ref`` (rule 1)."""
    if ref is None:
        return msg
    return {"v": msg["v"], "type": msg["type"], "ref": ref,
            **{k: v for k, v in msg.items() if k not in ("v", "type", "ref")}}


def error_message(code: str, text: str, ref: str | int | None = None) -> dict[str, Any]:
    return message("error", ref, code=code, message=text)


def identity(who: Identity) -> dict[str, Any]:
    return {"user_id": who.user_id, "username": who.username, "name": who.display_name,
            "agency": who.agency, "role": who.role.value, "unit": who.unit}


def right_names(rights: Right) -> list[str]:
    return [name for right, name in ((Right.LISTEN, "listen"), (Right.TALK, "talk"),
                                     (Right.DISPATCH, "dispatch")) if right in rights]


def talkgroup_info(tg: Talkgroup) -> dict[str, Any]:
    return {"id": tg.id, "name": tg.name, "agencies": sorted(tg.agencies),
            "dynamic": tg.dynamic, "max_talk_time": tg.max_talk_time}


def encode_event(event: Event) -> dict[str, Any]:
    """The wire message for one core event (rule 3)."""
    match event:
        case FloorGranted():
            return message("floor_granted", talkgroup=event.talkgroup,
                           talkgroups=list(event.talkgroups), talker=identity(event.talker),
                           call_type=event.call_type.value, priority=event.priority,
                           max_talk_time=event.max_talk_time, accept_within=event.accept_within)
        case FloorTaken():
            return message("floor_taken", talkgroup=event.talkgroup,
                           talkgroups=list(event.talkgroups), talker=identity(event.talker),
                           call_type=event.call_type.value, priority=event.priority)
        case FloorDenied():
            return message("floor_denied", talkgroup=event.talkgroup,
                           talkgroups=list(event.talkgroups), reason=event.reason.value)
        case FloorQueued():
            return message("floor_queued", talkgroup=event.talkgroup,
                           talkgroups=list(event.talkgroups), position=event.position)
        case FloorQueuePositionChanged():
            return message("floor_queue_position", talkgroup=event.talkgroup,
                           talkgroups=list(event.talkgroups), position=event.position)
        case FloorQueueCancelled():
            return message("floor_queue_cancelled", talkgroup=event.talkgroup,
                           talkgroups=list(event.talkgroups), reason=event.reason.value)
        case FloorRevoked():
            return message("floor_revoked", talkgroup=event.talkgroup,
                           talkgroups=list(event.talkgroups), reason=event.reason.value)
        case FloorIdle():
            return message("floor_idle", talkgroups=list(event.talkgroups))
        case TalkgroupJoined():
            return message("joined", talkgroup=event.talkgroup,
                           members=[identity(m) for m in event.members],
                           talker=identity(event.talker) if event.talker else None,
                           patched_with=list(event.patched_with), emergency=event.emergency)
        case MemberJoined():
            return message("member_joined", talkgroup=event.talkgroup,
                           member=identity(event.member))
        case MemberLeft():
            return message("member_left", talkgroup=event.talkgroup, user_id=event.user_id)
        case TalkgroupAdded():
            return message("talkgroup_added", talkgroup=talkgroup_info(event.talkgroup))
        case TalkgroupRemoved():
            return message("talkgroup_removed", talkgroup=event.talkgroup)
        case TalkgroupsPatched():
            return message("patched", talkgroups=list(event.talkgroups), by=identity(event.by))
        case TalkgroupsUnpatched():
            return message("unpatched", talkgroups=list(event.talkgroups),
                           by=identity(event.by))
        case EmergencyRaised():
            return message("emergency_raised", talkgroup=event.talkgroup,
                           raised_by=identity(event.raised_by),
                           raised_at=_iso(event.reported_at))
        case EmergencyAlerted():
            return message("emergency_alert", talkgroup=event.talkgroup,
                           raised_by=identity(event.raised_by), count=event.count,
                           raised_at=_iso(event.reported_at))
        case EmergencyAcknowledged():
            return message("emergency_acknowledged", talkgroup=event.talkgroup,
                           by=identity(event.by))
        case EmergencyCleared():
            return message("emergency_cleared", talkgroup=event.talkgroup,
                           by=identity(event.by))
        case _:  # pragma: no cover
            assert_never(event)


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def dumps(msg: dict[str, Any]) -> str:
    return json.dumps(msg, separators=(",", ":"), ensure_ascii=False)
