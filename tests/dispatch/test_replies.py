"""Crew SMS replies: what parses, what does not, and what a reply acts on."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.domain import AssignmentStatus, CancelReason, incident_number
from dispatch.errors import BadReply, RemoteDispatchError
from dispatch.lifecycle import Trigger, UnitTrigger, apply
from dispatch.replies import (
    HELP_TEXT,
    KEYWORDS,
    ApplyToAssignment,
    ApplyToUnit,
    EndedJob,
    IncidentRef,
    OptOut,
    Reply,
    ReplyCommand,
    SendHelp,
    parse_incident_ref,
    parse_reply,
    resolve_reply,
)
from dispatch.sms_text import is_gsm7, sms_parts

from .helpers import assignment_in, at

C = ReplyCommand
DAY = date(2026, 11, 28)


@pytest.mark.parametrize(
    ("text", "command", "ref", "note"),
    [
        ("1", C.EN_ROUTE, None, ""),
        (" berangkat ", C.EN_ROUTE, None, ""),
        ("OTW", C.EN_ROUTE, None, ""),
        ("2 PSC-20261128-0007", C.ON_SCENE, IncidentRef(7, DAY), ""),
        ("tiba 0007", C.ON_SCENE, IncidentRef(7), ""),
        ("TiBa\u00a0\u00a00007", C.ON_SCENE, IncidentRef(7), ""),
        ("tiba0007", C.ON_SCENE, IncidentRef(7), ""),
        ("2 psc 20261128 7.", C.ON_SCENE, IncidentRef(7, DAY), ""),
        ("2 20261128/0007", C.ON_SCENE, IncidentRef(7, DAY), ""),
        ("3 #12", C.TRANSPORTING, IncidentRef(12), ""),
        ("3 0007 pasien stabil", C.TRANSPORTING, IncidentRef(7), "pasien stabil"),
        ("Tiba. Pasien sadar\nTD 120/80", C.ON_SCENE, None, "Pasien sadar TD 120/80"),
        ("4", C.AT_HOSPITAL, None, ""),
        ("rs", C.AT_HOSPITAL, None, ""),
        ("5 SIAP", C.BACK_IN_SERVICE, None, ""),
        ("1 berangkat 0007", C.EN_ROUTE, IncidentRef(7), ""),
        ("2 BERANGKAT", C.ON_SCENE, None, "BERANGKAT"),
        ("siap!", C.BACK_IN_SERVICE, None, ""),
        ("ok", C.ACKNOWLEDGE, None, ""),
        ("Terima", C.ACKNOWLEDGE, None, ""),
        ("BATAL 0007 ban bocor", C.DECLINE, IncidentRef(7), "ban bocor"),
        ("STOP", C.STOP, None, ""),
        ("help", C.HELP, None, ""),
        ("Bantuan", C.HELP, None, ""),
        ("#1", C.EN_ROUTE, None, ""),
    ],
)
def test_good_replies(text: str, command: ReplyCommand, ref: IncidentRef | None,
                      note: str) -> None:
    assert parse_reply(text) == Reply(command, ref, note, text)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty_reply"),
        ("   \n ", "empty_reply"),
        ("xyz", "unknown_command"),
        ("12", "unknown_command"),
        ("6", "unknown_command"),
        ("berangkatlah", "unknown_command"),
        ("?? 1", "unknown_command"),
        ("tiba 12345", "bad_incident_number"),
        ("tiba psc", "bad_incident_number"),
        ("2 0000", "bad_incident_number"),
        ("2 PSC-20261340-0007", "bad_incident_number"),  # no 40 December
        ("5 psc 2026-11-28 7", "bad_incident_number"),
    ],
)
def test_bad_replies_are_returned_not_raised(text: str, code: str) -> None:
    result = parse_reply(text)
    assert isinstance(result, BadReply) and isinstance(result, RemoteDispatchError)
    assert result.code == code and result.raw == text
    assert result.message.id and result.message.en


@given(st.text(max_size=200))
def test_parser_never_raises(text: str) -> None:
    assert isinstance(parse_reply(text), Reply | BadReply)


@given(st.sampled_from(sorted(KEYWORDS)), st.integers(1, 9999),
       st.sampled_from(["", " ", "  ", "\t"]), st.booleans())
def test_every_keyword_with_any_quoted_number(word, seq, space, lower) -> None:
    number = incident_number(DAY, seq)
    text = f"{space}{word.lower() if lower else word} {number}{space}"
    assert parse_reply(text) == Reply(KEYWORDS[word], IncidentRef(seq, DAY), "", text)


def test_help_text_is_one_gsm7_sms_and_names_every_code() -> None:
    assert is_gsm7(HELP_TEXT) and sms_parts(HELP_TEXT) == 1
    for word in ["1 BERANGKAT", "2 TIBA", "3 ANGKUT", "4 RS", "5 SIAP", "BATAL"]:
        assert word in HELP_TEXT


class TestIncidentRef:
    def test_short_reference_matches_any_day(self) -> None:
        assert IncidentRef(7).matches("PSC-20261128-0007")
        assert not IncidentRef(8).matches("PSC-20261128-0007")

    def test_full_reference_must_match_the_day(self) -> None:
        assert IncidentRef(7, DAY).matches("PSC-20261128-0007")
        assert not IncidentRef(7, date(2026, 11, 27)).matches("PSC-20261128-0007")

    def test_garbage_number_matches_nothing(self) -> None:
        assert parse_incident_ref("") is None
        assert not IncidentRef(7).matches("")


CANCELLED = EndedJob("PSC-20261128-0007", CancelReason.DISPATCHER, "dispatcher1", at(600))
WITHDRAWN = EndedJob("PSC-20261128-0006", CancelReason.OUT_OF_SERVICE, "spv1", at(60))


class TestEndedJobs:
    """Rule 4: a crew writing about a job the dispatch room ended is told so, and by whom."""

    def test_without_a_number_the_latest_ended_job_is_named(self) -> None:
        result = resolve_reply(Reply(C.ON_SCENE, raw="2"), [], {}, [WITHDRAWN, CANCELLED])
        assert isinstance(result, BadReply) and result.code == "assignment_cancelled"
        assert result.message.id == ("Tugas PSC-20261128-0007 sudah dibatalkan oleh dispatcher1 "
                                     "pukul 09:10 WIB. Hentikan tugas ini")
        assert "cancelled by dispatcher1 at 09:10 WIB" in result.message.en

    def test_with_a_number_the_named_job_is_answered(self) -> None:
        result = resolve_reply(Reply(C.ON_SCENE, IncidentRef(6), raw="2 0006"), [], {},
                               [WITHDRAWN, CANCELLED])
        assert isinstance(result, BadReply) and result.code == "assignment_cancelled"
        assert "PSC-20261128-0006 sudah dihentikan, unit dinonaktifkan oleh spv1" in (
            result.message.id)

    def test_a_number_naming_neither_is_unknown(self) -> None:
        result = resolve_reply(Reply(C.ON_SCENE, IncidentRef(9), raw="2 0009"), [], {},
                               [CANCELLED])
        assert isinstance(result, BadReply) and result.code == "unknown_incident"

    def test_an_active_job_wins_over_an_ended_one(self) -> None:
        a = assignment_in(AssignmentStatus.EN_ROUTE, incident_id=101)
        numbers = {101: "PSC-20261128-0008"}
        assert resolve_reply(Reply(C.ON_SCENE, raw="2"), [a], numbers, [CANCELLED]) == (
            ApplyToAssignment(a, Trigger.ARRIVE))

    def test_siap_still_asks_for_the_unit_back(self) -> None:
        """The lifecycle decides whether the crew may (lifecycle rule 9)."""
        assert resolve_reply(Reply(C.BACK_IN_SERVICE), [], {}, [WITHDRAWN]) == ApplyToUnit(
            UnitTrigger.RETURN_TO_SERVICE)

    def test_the_answer_is_one_gsm7_sms_with_its_prefix(self) -> None:
        result = resolve_reply(Reply(C.EN_ROUTE), [], {}, [WITHDRAWN])
        assert isinstance(result, BadReply)
        answer = f"PSC 119: {result.message.id}"
        assert is_gsm7(answer) and sms_parts(answer) == 1


class TestResolve:
    numbers = {100: "PSC-20261128-0007", 101: "PSC-20261128-0008"}

    def test_single_active_assignment_needs_no_number(self) -> None:
        a = assignment_in(AssignmentStatus.DISPATCHED)
        reply = parse_reply("tiba")
        assert isinstance(reply, Reply)
        assert resolve_reply(reply, [a], self.numbers) == ApplyToAssignment(a, Trigger.ARRIVE)

    def test_number_picks_among_several(self) -> None:
        first = assignment_in(AssignmentStatus.EN_ROUTE, incident_id=100)
        second = assignment_in(AssignmentStatus.EN_ROUTE, assignment_id=2, incident_id=101)
        reply = parse_reply("2 0008")
        assert isinstance(reply, Reply)
        assert resolve_reply(reply, [first, second], self.numbers) == ApplyToAssignment(
            second, Trigger.ARRIVE)

    def test_several_without_a_number_is_ambiguous(self) -> None:
        first = assignment_in(AssignmentStatus.EN_ROUTE, incident_id=100)
        second = assignment_in(AssignmentStatus.EN_ROUTE, assignment_id=2, incident_id=101)
        result = resolve_reply(Reply(C.ON_SCENE, raw="2"), [first, second], self.numbers)
        assert isinstance(result, BadReply) and result.code == "ambiguous_reply"

    def test_a_stale_number_never_moves_the_current_assignment(self) -> None:
        current = assignment_in(AssignmentStatus.EN_ROUTE, incident_id=101)
        result = resolve_reply(Reply(C.ON_SCENE, IncidentRef(7), raw="2 0007"), [current],
                               self.numbers)
        assert isinstance(result, BadReply) and result.code == "unknown_incident"

    def test_siap_without_an_assignment_returns_the_unit_to_service(self) -> None:
        assert resolve_reply(Reply(C.BACK_IN_SERVICE), [], {}) == ApplyToUnit(
            UnitTrigger.RETURN_TO_SERVICE)

    def test_status_without_an_assignment_is_refused(self) -> None:
        result = resolve_reply(Reply(C.EN_ROUTE), [], {})
        assert isinstance(result, BadReply) and result.code == "no_active_assignment"

    def test_help_and_stop_need_no_assignment(self) -> None:
        assert resolve_reply(Reply(C.HELP), [], {}, [CANCELLED]) == SendHelp()
        assert resolve_reply(Reply(C.STOP), [], {}, [CANCELLED]) == OptOut()
        assert resolve_reply(Reply(C.HELP), [], {}) == SendHelp()
        assert resolve_reply(Reply(C.STOP), [], {}) == OptOut()

    @pytest.mark.parametrize(
        ("text", "status"),
        [("1", AssignmentStatus.EN_ROUTE), ("2", AssignmentStatus.ON_SCENE),
         ("3", AssignmentStatus.TRANSPORTING), ("4", AssignmentStatus.AT_HOSPITAL),
         ("ok", AssignmentStatus.ACKNOWLEDGED), ("batal", AssignmentStatus.CANCELLED)],
    )
    def test_reply_moves_the_assignment(self, text: str, status: AssignmentStatus) -> None:
        a = assignment_in(AssignmentStatus.DISPATCHED)
        reply = parse_reply(text)
        assert isinstance(reply, Reply)
        action = resolve_reply(reply, [a], self.numbers)
        assert isinstance(action, ApplyToAssignment)
        assert apply(action.assignment, action.trigger, at(600)).assignment.status is status
