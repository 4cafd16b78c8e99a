"""The signed status-link token (pure: no server, time given by hand)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.domain import AssignmentStatus
from dispatch.lifecycle import Trigger, UnitTrigger
from dispatch.sms import taplink
from dispatch.sms.taplink import TapClaims, TapLinkRejected, TapReject

SECRET = "server-secret-" + "s" * 32
NOW = 1_800_000_000.0
ids = st.integers(min_value=1, max_value=2**31)


def rejected(token: str, now: float = NOW, secret: str = SECRET) -> TapReject:
    with pytest.raises(TapLinkRejected) as refused:
        taplink.verify(secret, token, now)
    return refused.value.reason


@given(ids, ids, st.integers(min_value=60, max_value=30 * 86400))
def test_a_token_names_its_assignment_unit_and_expiry(assignment: int, unit: int,
                                                      ttl: int) -> None:
    token = taplink.issue(SECRET, assignment_id=assignment, unit_id=unit, expires_at=NOW + ttl)
    claims = taplink.verify(SECRET, token, NOW)
    assert (claims.assignment_id, claims.unit_id) == (assignment, unit)
    assert NOW + ttl <= claims.expires_at < NOW + ttl + 60  # rounded up to the minute


@given(ids, ids, st.data())
def test_any_change_to_a_token_is_refused(assignment: int, unit: int, data: st.DataObject
                                          ) -> None:
    token = taplink.issue(SECRET, assignment_id=assignment, unit_id=unit, expires_at=NOW + 3600)
    i = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    other = data.draw(st.sampled_from(alphabet).filter(lambda c: c != token[i]))
    changed = token[:i] + other + token[i + 1:]
    assert rejected(changed) in (TapReject.BAD_SIGNATURE, TapReject.MALFORMED)
    assert rejected(token[:i] + token[i + 1:]) in (TapReject.BAD_SIGNATURE, TapReject.MALFORMED)


def test_another_servers_token_is_refused() -> None:
    token = taplink.issue("another-secret", assignment_id=7, unit_id=8, expires_at=NOW + 60)
    assert rejected(token) is TapReject.BAD_SIGNATURE


def test_it_works_until_its_expiry_and_not_after() -> None:
    expires = datetime.fromtimestamp(NOW, UTC) + timedelta(hours=12)
    token = taplink.issue(SECRET, assignment_id=7, unit_id=8, expires_at=expires)
    assert taplink.verify(SECRET, token, expires - timedelta(seconds=1)) == TapClaims(
        7, 8, int(expires.timestamp()))
    assert rejected(token, expires.timestamp()) is TapReject.EXPIRED
    with pytest.raises(ValueError):
        taplink.verify(SECRET, token, datetime(2026, 11, 28))  # naive: which zone?


def test_only_the_canonical_encoding_is_accepted() -> None:
    token = taplink.issue(SECRET, assignment_id=1234, unit_id=300, expires_at=NOW + 3600)
    raw = base64.urlsafe_b64decode(token + "==")
    assert len(raw) == 16 and len(token) == 22  # the last character has 4 unused bits
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    alias = token[:-1] + alphabet[alphabet.index(token[-1]) ^ 1]
    assert base64.urlsafe_b64decode(alias + "==") == raw  # the same bytes, another string
    assert taplink.verify(SECRET, token, NOW).unit_id == 300
    assert rejected(alias) is TapReject.MALFORMED
    assert rejected(token + "==") is TapReject.MALFORMED
    assert rejected("a" * 8) is TapReject.MALFORMED
    assert rejected("a/b+c" * 4) is TapReject.MALFORMED


def test_a_forged_payload_with_extra_bytes_is_refused_even_with_a_valid_mac() -> None:
    payload = bytes([7, 8, 0x80, 0x80, 0x80, 0x01, 9])  # three varints and a stray byte
    mac = taplink._mac(SECRET, payload)
    token = base64.urlsafe_b64encode(payload + mac).rstrip(b"=").decode()
    assert rejected(token) is TapReject.MALFORMED


def forged(payload: bytes) -> str:
    """A token for ``payload`` signed with our own secret (only the encoding is wrong)."""
    return base64.urlsafe_b64encode(payload + taplink._mac(SECRET, payload)).rstrip(b"=").decode()


def test_a_signed_payload_with_a_number_beyond_any_id_is_malformed() -> None:
    too_big = bytes([0xFF] * 6 + [0x7F])  # 49 bits: over MAX_ID (2**40)
    assert rejected(forged(bytes([7, 8]) + too_big)) is TapReject.MALFORMED


def test_a_signed_payload_that_ends_inside_a_number_is_malformed() -> None:
    assert rejected(forged(bytes([7, 8, 0x80]))) is TapReject.MALFORMED


def test_ids_must_be_positive_and_below_the_bound() -> None:
    for assignment, unit in ((0, 1), (1, 0), (-3, 1), (taplink.MAX_ID, 1), (1, taplink.MAX_ID)):
        with pytest.raises(ValueError, match="positive"):
            taplink.issue(SECRET, assignment_id=assignment, unit_id=unit, expires_at=NOW)


def test_a_refusal_carries_the_bilingual_message_the_page_shows() -> None:
    for reason in TapReject:
        message = TapLinkRejected(reason).message
        assert message.id and message.en
    assert TapLinkRejected(TapReject.EXPIRED).message != TapLinkRejected(
        TapReject.BAD_SIGNATURE).message
    assert str(TapLinkRejected(TapReject.MALFORMED)) == TapReject.MALFORMED.value


def test_tokens_fit_the_sms_link() -> None:
    token = taplink.issue(SECRET, assignment_id=1_999_999, unit_id=16_000,
                          expires_at=NOW + 12 * 3600)
    assert len(token) <= 23
    assert len(taplink.link("https://psc119.example.go.id/", token)) <= 60
    assert taplink.issue(SECRET, assignment_id=42, unit_id=3, expires_at=NOW).isascii()


def test_siap_after_the_assignment_ended_acts_on_the_unit() -> None:
    siap, tiba = taplink.BY_CODE["siap"], taplink.BY_CODE["tiba"]
    assert taplink.action(siap, AssignmentStatus.CANCELLED) is UnitTrigger.RETURN_TO_SERVICE
    assert taplink.action(siap, AssignmentStatus.ON_SCENE) is Trigger.CLEAR
    assert taplink.action(tiba, AssignmentStatus.CANCELLED) is Trigger.ARRIVE
    assert [taplink.trigger_of(s).value for s in taplink.TAP_STATUSES] == [
        "depart", "arrive", "transport", "reach_hospital", "clear", "decline"]


def test_a_status_is_sent_once_per_link() -> None:
    at = datetime(2026, 11, 28, 3, 5, tzinfo=UTC)
    used = {Trigger.DEPART: at}
    refusal = taplink.reuse_refusal(taplink.BY_CODE["berangkat"], used)
    assert refusal is not None
    assert refusal.id == "Status Berangkat sudah dikirim lewat tautan ini pukul 10:05 WIB"
    assert taplink.reuse_refusal(taplink.BY_CODE["tiba"], used) is None
