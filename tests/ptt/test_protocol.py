"""The signaling protocol of ``/ws`` (ptt.protocol), rule by rule, without a socket.

Rule 1: one JSON object per text frame, with ``v`` and ``type``; ``ref`` comes back.
Rule 2: a client frame is a command or one ProtocolError naming the first bad field.
Rule 3: every core event has one wire message.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ptt import protocol
from ptt.errors import CommandRefused, ErrorCode
from ptt.events import (
    CallType,
    CancelReason,
    DenyReason,
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
    RevokeReason,
    TalkgroupAdded,
    TalkgroupJoined,
    TalkgroupRemoved,
    TalkgroupsPatched,
    TalkgroupsUnpatched,
)
from ptt.protocol import ProtocolError, parse_command
from ptt.talkgroup import Identity, Right, Role, Talkgroup

SATPOL1 = Identity(3, "satpol1", "Satpol PP Regu 1", "satpolpp", Role.OFFICER, "SATPOL-01")
DINA = Identity(9, "dispatcher1", "Dina", "psc119", Role.DISPATCHER)
SATPOL1_WIRE = {"user_id": 3, "username": "satpol1", "name": "Satpol PP Regu 1",
                "agency": "satpolpp", "role": "officer", "unit": "SATPOL-01"}
DINA_WIRE = {"user_id": 9, "username": "dispatcher1", "name": "Dina", "agency": "psc119",
             "role": "dispatcher", "unit": None}


def frame(**fields: Any) -> str:
    return json.dumps({"v": 1, **fields})


def refused(raw: str | bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        parse_command(raw)
    return caught.value


# -- rule 1: the envelope -----------------------------------------------------------------


class TestEnvelope:
    def test_a_frame_over_16_kib_is_too_large(self) -> None:
        error = refused(frame(type="ping", pad="x" * protocol.MAX_MESSAGE_BYTES))
        assert error.code == "too_large" and "16384 bytes" in error.message

    def test_a_frame_of_exactly_16_kib_is_read(self) -> None:
        raw = frame(type="text", talkgroup="satpolpp", body="x")
        raw = raw[:-1] + " " * (protocol.MAX_MESSAGE_BYTES - len(raw)) + "}"
        assert len(raw) == protocol.MAX_MESSAGE_BYTES
        assert isinstance(parse_command(raw), protocol.Text)

    @pytest.mark.parametrize("raw", ["{", "", "v=1", b"\xff\xfe{"])
    def test_what_is_not_json_is_malformed_json(self, raw: str | bytes) -> None:
        error = refused(raw)
        assert error.code == "malformed_json" and error.message.startswith("not JSON: ")
        assert error.ref is None

    def test_json_nested_too_deeply_is_malformed_json(self) -> None:
        raw = "[" * 8000 + "]" * 8000  # within 16 KiB, beyond the parser's recursion limit
        error = refused(raw)
        assert (error.code, error.message) == ("malformed_json", "JSON nested too deeply")

    @pytest.mark.parametrize("raw", ["[]", "1", '"ping"', "null"])
    def test_json_that_is_not_an_object_is_a_malformed_message(self, raw: str) -> None:
        error = refused(raw)
        assert (error.code, error.message) == ("malformed_message",
                                               "a message must be a JSON object")

    def test_bytes_are_read_as_utf8_json(self) -> None:
        command = parse_command(frame(type="text", talkgroup="satpolpp", body="Posisi ✓")
                                .encode())
        assert isinstance(command, protocol.Text) and command.body == "Posisi ✓"

    def test_a_missing_version_is_unsupported(self) -> None:
        error = refused(json.dumps({"type": "ping", "ref": 7}))
        assert error.code == "unsupported_version" and error.ref == 7
        assert error.message == 'missing "v"; this server speaks version 1'

    @pytest.mark.parametrize("v", [2, 0, "1", None])
    def test_another_version_is_unsupported(self, v: object) -> None:
        error = refused(json.dumps({"v": v, "type": "ping", "ref": "a"}))
        assert error.code == "unsupported_version" and error.ref == "a"
        assert error.message == f"version {v!r} not supported; this server speaks version 1"

    @pytest.mark.parametrize("kind", [None, 5, "", "Ping", "welcome", "floor"])
    def test_a_type_that_is_not_a_client_message_is_unknown(self, kind: object) -> None:
        error = refused(frame(type=kind, ref=1))
        assert (error.code, error.message, error.ref) == (
            "unknown_type", f"unknown message type {kind!r}", 1)

    def test_a_missing_type_is_unknown(self) -> None:
        assert refused(frame()).code == "unknown_type"

    @pytest.mark.parametrize("ref", ["abc", 0, 42, -1])
    def test_the_ref_comes_back_on_an_error(self, ref: str | int) -> None:
        assert refused(frame(type="join", ref=ref)).ref == ref

    @pytest.mark.parametrize("ref", [None, 1.5, [1], {"a": 1}])
    def test_a_ref_that_is_neither_string_nor_number_is_not_echoed(self, ref: object) -> None:
        assert refused(json.dumps({"v": 2, "type": "ping", "ref": ref})).ref is None

    def test_a_valid_ref_is_kept_on_the_command(self) -> None:
        assert parse_command(frame(type="ping", ref="r1")).ref == "r1"
        assert parse_command(frame(type="ping")).ref is None


# -- rule 2: commands ---------------------------------------------------------------------


class TestCommands:
    def test_every_client_message_type_is_a_command(self) -> None:
        assert protocol.COMMAND_TYPES == {
            "hello", "join", "leave", "scan", "floor_request", "floor_release",
            "floor_accept", "floor_revoke", "location", "text", "emergency_raise",
            "emergency_ack", "emergency_clear", "patch", "unpatch", "presence", "ping",
            "rtc_offer", "rtc_answer", "audio", "recent"}

    @pytest.mark.parametrize(("fields", "command"), [
        ({"type": "hello", "token": "t", "resume": "s"}, protocol.Hello),
        ({"type": "join", "talkgroup": "satpolpp"}, protocol.Join),
        ({"type": "leave", "talkgroup": "satpolpp"}, protocol.Leave),
        ({"type": "scan", "talkgroups": ["a", "b"], "selected": "a"}, protocol.Scan),
        ({"type": "floor_request"}, protocol.FloorRequest),
        ({"type": "floor_release"}, protocol.FloorRelease),
        ({"type": "floor_accept"}, protocol.FloorAccept),
        ({"type": "floor_revoke", "talkgroup": "satpolpp"}, protocol.FloorRevoke),
        ({"type": "location", "lat": -7.75, "lon": 113.21, "accuracy": 12}, protocol.Location),
        ({"type": "text", "talkgroup": "satpolpp", "body": "ok"}, protocol.Text),
        ({"type": "emergency_raise", "lat": -7.7, "lon": 113.2}, protocol.EmergencyRaise),
        ({"type": "emergency_ack", "talkgroup": "satpolpp"}, protocol.EmergencyAck),
        ({"type": "emergency_clear", "talkgroup": "satpolpp"}, protocol.EmergencyClear),
        ({"type": "patch", "talkgroups": ["a", "b"]}, protocol.Patch),
        ({"type": "unpatch", "talkgroup": "a"}, protocol.Unpatch),
        ({"type": "presence"}, protocol.Presence),
        ({"type": "ping"}, protocol.Ping),
        ({"type": "rtc_offer", "sdp": "v=0"}, protocol.RtcOffer),
        ({"type": "rtc_answer", "sdp": "v=0"}, protocol.RtcAnswer),
        ({"type": "audio", "transport": "websocket"}, protocol.Audio),
        ({"type": "recent", "talkgroup": "satpolpp"}, protocol.Recent),
    ])
    def test_each_message_parses_to_its_command(self, fields: dict[str, Any],
                                                command: type[protocol.Command]) -> None:
        parsed = parse_command(frame(**fields))
        assert type(parsed) is command
        assert parsed.model_dump(include=set(fields)) == fields

    def test_a_floor_request_defaults_to_a_normal_call_on_the_selected_group(self) -> None:
        request = parse_command(frame(type="floor_request"))
        assert isinstance(request, protocol.FloorRequest)
        assert (request.talkgroup, request.call_type, request.priority, request.override) == (
            None, CallType.NORMAL, 0, False)

    def test_commands_are_frozen(self) -> None:
        join = parse_command(frame(type="join", talkgroup="satpolpp"))
        with pytest.raises(ValueError):
            join.talkgroup = "dishub"  # type: ignore[union-attr]

    @pytest.mark.parametrize(("fields", "message"), [
        ({"type": "join"}, "join.talkgroup: Field required"),
        ({"type": "join", "talkgroup": ""}, "join.talkgroup: String should have at least 1"),
        ({"type": "join", "talkgroup": "x" * 41}, "join.talkgroup: String should have at most"),
        ({"type": "ping", "extra": 1}, "ping.extra: Extra inputs are not permitted"),
        ({"type": "location", "lat": 91, "lon": 0},
         "location.lat: Input should be less than or equal to 90"),
        ({"type": "location", "lat": 0, "lon": -181},
         "location.lon: Input should be greater than or equal to -180"),
        ({"type": "floor_request", "priority": 256}, "floor_request.priority: Input should be"),
        ({"type": "floor_request", "call_type": "loud"}, "floor_request.call_type: Input"),
        ({"type": "text", "talkgroup": "a", "body": ""}, "text.body: String should have at"),
        ({"type": "text", "talkgroup": "a", "body": "x" * 1001}, "text.body: String should"),
        ({"type": "patch", "talkgroups": ["a"]}, "patch.talkgroups: List should have at least"),
        ({"type": "scan", "talkgroups": ["a", ""]}, "scan.talkgroups.1: String should have"),
        ({"type": "audio", "transport": "carrier-pigeon"}, "audio.transport: Input should be"),
        ({"type": "hello", "ref": [1]}, "hello.ref."),
    ])
    def test_a_bad_field_is_named_in_one_invalid_message_error(
            self, fields: dict[str, Any], message: str) -> None:
        error = refused(frame(ref=5, **fields) if "ref" not in fields else frame(**fields))
        assert error.code == "invalid_message"
        assert error.message.startswith(message), error.message
        assert error.ref == (5 if "ref" not in fields else None)

    def test_the_error_is_an_exception_with_its_message(self) -> None:
        error = ProtocolError("not_joined", "not_joined: dishub", 7)
        assert str(error) == "not_joined: dishub"
        assert (error.code, error.message, error.ref) == ("not_joined", "not_joined: dishub", 7)

    @given(st.one_of(st.text(max_size=200), st.binary(max_size=200),
                     st.dictionaries(st.text(max_size=8),
                                     st.one_of(st.none(), st.integers(), st.text(max_size=8)),
                                     max_size=5).map(json.dumps)))
    def test_parsing_never_raises_anything_but_a_protocol_error(self, raw: str | bytes) -> None:
        try:
            parse_command(raw)
        except ProtocolError as error:
            assert error.code in {"too_large", "malformed_json", "malformed_message",
                                  "unsupported_version", "unknown_type", "invalid_message"}


# -- server messages ----------------------------------------------------------------------


class TestServerMessages:
    def test_every_message_carries_the_version_and_type_and_the_ref_when_given(self) -> None:
        assert protocol.message("pong") == {"v": 1, "type": "pong"}
        assert protocol.message("pong", 7) == {"v": 1, "type": "pong", "ref": 7}
        assert protocol.message("pong", 0) == {"v": 1, "type": "pong", "ref": 0}
        assert protocol.message("scan", "r", talkgroups=["a"], selected=None) == {
            "v": 1, "type": "scan", "ref": "r", "talkgroups": ["a"], "selected": None}

    def test_an_error_has_a_code_and_a_message(self) -> None:
        assert protocol.error_message("not_joined", "not_joined: dishub", 7) == {
            "v": 1, "type": "error", "ref": 7, "code": "not_joined",
            "message": "not_joined: dishub"}
        assert "ref" not in protocol.error_message("rate_limited", "slow down")

    def test_an_identity_is_the_six_fields(self) -> None:
        assert protocol.identity(SATPOL1) == SATPOL1_WIRE
        assert protocol.identity(DINA) == DINA_WIRE

    def test_rights_are_named_in_order(self) -> None:
        assert protocol.right_names(Right.NONE) == []
        assert protocol.right_names(Right.LISTEN) == ["listen"]
        assert protocol.right_names(Right.LISTEN | Right.TALK) == ["listen", "talk"]
        assert protocol.right_names(Right.DISPATCH | Right.LISTEN | Right.TALK) == [
            "listen", "talk", "dispatch"]

    def test_a_talkgroup_is_described_with_sorted_agencies(self) -> None:
        gabungan = Talkgroup("gabungan", "Gabungan", agencies=frozenset({"satpolpp", "dishub"}))
        assert protocol.talkgroup_info(gabungan) == {
            "id": "gabungan", "name": "Gabungan", "agencies": ["dishub", "satpolpp"],
            "dynamic": False, "max_talk_time": 60.0}

    def test_dumps_is_compact_and_keeps_non_ascii(self) -> None:
        assert protocol.dumps({"v": 1, "body": "Posisi ✓"}) == '{"v":1,"body":"Posisi ✓"}'


# -- rule 3: one message per event ---------------------------------------------------------

SCOPE = ("gabungan", "satpolpp")
EVENTS: list[tuple[Event, dict[str, Any]]] = [
    (FloorGranted(SCOPE, "satpolpp", SATPOL1, CallType.EMERGENCY, 3, 60.0, 5.0),
     {"type": "floor_granted", "talkgroup": "satpolpp", "talkgroups": list(SCOPE),
      "talker": SATPOL1_WIRE, "call_type": "emergency", "priority": 3, "max_talk_time": 60.0,
      "accept_within": 5.0}),
    (FloorTaken(SCOPE, "satpolpp", SATPOL1, CallType.NORMAL, 0),
     {"type": "floor_taken", "talkgroup": "satpolpp", "talkgroups": list(SCOPE),
      "talker": SATPOL1_WIRE, "call_type": "normal", "priority": 0}),
    (FloorDenied(SCOPE, "satpolpp", 3, DenyReason.QUEUE_FULL),
     {"type": "floor_denied", "talkgroup": "satpolpp", "talkgroups": list(SCOPE),
      "reason": "queue_full"}),
    (FloorQueued(SCOPE, "satpolpp", 3, 2),
     {"type": "floor_queued", "talkgroup": "satpolpp", "talkgroups": list(SCOPE),
      "position": 2}),
    (FloorQueuePositionChanged(SCOPE, "satpolpp", 3, 1),
     {"type": "floor_queue_position", "talkgroup": "satpolpp", "talkgroups": list(SCOPE),
      "position": 1}),
    (FloorQueueCancelled(SCOPE, "satpolpp", 3, CancelReason.SUPERSEDED),
     {"type": "floor_queue_cancelled", "talkgroup": "satpolpp", "talkgroups": list(SCOPE),
      "reason": "superseded"}),
    (FloorRevoked(SCOPE, "satpolpp", 3, RevokeReason.NO_MEDIA),
     {"type": "floor_revoked", "talkgroup": "satpolpp", "talkgroups": list(SCOPE),
      "reason": "no_media"}),
    (FloorIdle(SCOPE), {"type": "floor_idle", "talkgroups": list(SCOPE)}),
    (TalkgroupJoined("satpolpp", (SATPOL1, DINA), SATPOL1, ("gabungan",), True),
     {"type": "joined", "talkgroup": "satpolpp", "members": [SATPOL1_WIRE, DINA_WIRE],
      "talker": SATPOL1_WIRE, "patched_with": ["gabungan"], "emergency": True}),
    (TalkgroupJoined("satpolpp", (), None, (), False),
     {"type": "joined", "talkgroup": "satpolpp", "members": [], "talker": None,
      "patched_with": [], "emergency": False}),
    (MemberJoined("satpolpp", DINA),
     {"type": "member_joined", "talkgroup": "satpolpp", "member": DINA_WIRE}),
    (MemberLeft("satpolpp", 9), {"type": "member_left", "talkgroup": "satpolpp", "user_id": 9}),
    (TalkgroupAdded(Talkgroup("insiden-7", "Insiden 7", dynamic=True, max_talk_time=30.0)),
     {"type": "talkgroup_added", "talkgroup": {"id": "insiden-7", "name": "Insiden 7",
                                               "agencies": [], "dynamic": True,
                                               "max_talk_time": 30.0}}),
    (TalkgroupRemoved("insiden-7"), {"type": "talkgroup_removed", "talkgroup": "insiden-7"}),
    (TalkgroupsPatched(SCOPE, DINA),
     {"type": "patched", "talkgroups": list(SCOPE), "by": DINA_WIRE}),
    (TalkgroupsUnpatched(SCOPE, DINA),
     {"type": "unpatched", "talkgroups": list(SCOPE), "by": DINA_WIRE}),
    (EmergencyRaised("satpolpp", SATPOL1),
     {"type": "emergency_raised", "talkgroup": "satpolpp", "raised_by": SATPOL1_WIRE,
      "raised_at": None}),
    (EmergencyAlerted("satpolpp", SATPOL1, 2,
                      datetime(2026, 12, 7, 14, 3, 11, 250000, tzinfo=UTC)),
     {"type": "emergency_alert", "talkgroup": "satpolpp", "raised_by": SATPOL1_WIRE,
      "count": 2, "raised_at": "2026-12-07T14:03:11.250000+00:00"}),
    (EmergencyAcknowledged("satpolpp", DINA),
     {"type": "emergency_acknowledged", "talkgroup": "satpolpp", "by": DINA_WIRE}),
    (EmergencyCleared("satpolpp", DINA),
     {"type": "emergency_cleared", "talkgroup": "satpolpp", "by": DINA_WIRE}),
]


@pytest.mark.parametrize(("event", "wire"), EVENTS, ids=[type(e).__name__ for e, _ in EVENTS])
def test_each_event_has_its_wire_message(event: Event, wire: dict[str, Any]) -> None:
    assert protocol.encode_event(event) == {"v": 1, **wire}


def test_a_queued_grant_says_how_long_to_take_it_and_a_direct_one_does_not() -> None:
    direct = FloorGranted(("satpolpp",), "satpolpp", SATPOL1, CallType.NORMAL, 0, 60.0)
    assert protocol.encode_event(direct)["accept_within"] is None


def test_every_event_type_is_encoded() -> None:
    encoded = {type(event) for event, _ in EVENTS}
    assert encoded == set(Event.__args__)  # type: ignore[attr-defined]


def test_the_direct_answer_carries_the_ref_and_nothing_else_changes() -> None:
    msg = protocol.message("joined", talkgroup="satpolpp")
    assert protocol.with_ref(msg, None) is msg
    answered = protocol.with_ref(msg, "r1")
    assert answered == {**msg, "ref": "r1"} and "ref" not in msg
    assert list(answered)[:3] == ["v", "type", "ref"]
    assert protocol.answers("join", "joined") and protocol.answers("floor_request", "floor_denied")
    assert not protocol.answers("join", "member_joined")
    assert not protocol.answers("floor_accept", "floor_granted")  # no answer but errors


# -- emergency_raise.raised_at: an emergency the app kept while offline ------------------

RECEIVED = datetime(2026, 12, 7, 14, 5, tzinfo=UTC)


def raise_with(raised_at: str) -> protocol.EmergencyRaise:
    cmd = protocol.parse_command(json.dumps(
        {"v": 1, "type": "emergency_raise", "raised_at": raised_at}))
    assert isinstance(cmd, protocol.EmergencyRaise)
    return cmd


def test_an_emergency_sent_at_once_has_no_raise_time() -> None:
    cmd = protocol.parse_command('{"v":1,"type":"emergency_raise"}')
    assert isinstance(cmd, protocol.EmergencyRaise)
    assert protocol.raise_time(cmd, RECEIVED) is None


def test_a_kept_emergency_keeps_its_raise_time_in_utc() -> None:
    at = protocol.raise_time(raise_with("2026-12-07T21:03:11+07:00"), RECEIVED)
    assert at == datetime(2026, 12, 7, 14, 3, 11, tzinfo=UTC)
    assert at is not None and at.utcoffset() == timedelta(0)


def test_a_raise_time_a_little_ahead_is_taken_as_the_time_received() -> None:
    ahead = (RECEIVED + protocol.RAISED_AT_SKEW).isoformat()
    assert protocol.raise_time(raise_with(ahead), RECEIVED) == RECEIVED


@pytest.mark.parametrize(("raised_at", "why"), [
    ((RECEIVED + protocol.RAISED_AT_SKEW + timedelta(seconds=1)).isoformat(), "future"),
    ((RECEIVED - protocol.RAISED_AT_MAX_AGE - timedelta(seconds=1)).astimezone(
        timezone(timedelta(hours=7))).isoformat(), "older than 12 h"),
])
def test_a_raise_time_too_far_ahead_or_too_old_is_refused(raised_at: str, why: str) -> None:
    with pytest.raises(CommandRefused) as refused:
        protocol.raise_time(raise_with(raised_at), RECEIVED)
    assert refused.value.code == ErrorCode.INVALID_RAISED_AT
    assert why in refused.value.detail


@pytest.mark.parametrize("raised_at", ["2026-12-07T14:03:11", "yesterday", "2026-13-01T00:00Z"])
def test_a_raise_time_without_offset_or_not_a_time_is_an_invalid_message(
        raised_at: str) -> None:
    with pytest.raises(protocol.ProtocolError) as bad:
        raise_with(raised_at)
    assert bad.value.code == "invalid_message"
    assert "emergency_raise.raised_at" in bad.value.message
