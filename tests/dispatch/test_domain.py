"""Domain vocabulary: labels, care profiles, incident numbers, event descriptions."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime

import pytest

from dispatch import domain
from dispatch.domain import (
    CARE_PROFILES,
    AssignmentStatus,
    BedCategory,
    CancelReason,
    Capability,
    Complaint,
    EscalationCause,
    Triage,
    UnitStatus,
    bed_categories_for,
    incident_number,
)
from dispatch.events import (
    AssignmentAdvanced,
    AssignmentCancelled,
    DispatchEvent,
    EscalationRaised,
    ReminderRaised,
    UnitDispatched,
    UnitStatusChanged,
    describe,
)

LABELLED = [m for name in dir(domain) if isinstance(cls := getattr(domain, name), type)
            and issubclass(cls, domain._Labelled) and cls is not domain._Labelled for m in cls]


@pytest.mark.parametrize("member", LABELLED, ids=lambda m: f"{type(m).__name__}.{m.name}")
def test_every_member_has_both_labels(member: enum.Enum) -> None:
    label = member.label  # type: ignore[attr-defined]
    assert label.id.strip() and label.en.strip()
    assert label.text("en") == label.en and label.text() == label.id


def test_members_are_upper_case_with_lower_case_codes() -> None:
    for member in LABELLED:
        assert member.name.isupper() and member.value == member.value.lower()


@pytest.mark.parametrize("complaint", list(Complaint), ids=lambda c: c.name)
def test_every_complaint_needs_an_igd_and_has_beds_for_every_triage(complaint) -> None:
    profile = CARE_PROFILES[complaint]
    assert Capability.IGD in profile.required
    assert not profile.required & profile.preferred
    for triage in Triage:
        assert bed_categories_for(complaint, triage)


def test_green_and_black_go_through_the_emergency_department() -> None:
    for triage in (Triage.HIJAU, Triage.HITAM):
        assert bed_categories_for(Complaint.TRAUMA, triage) == (BedCategory.IGD,)


def test_demo_hospitals_speak_our_vocabulary() -> None:
    """Capability tags are enum values, bed categories enum names (as stored)."""
    from siaga.demo.data import HOSPITALS

    for *_, tags, beds in HOSPITALS:
        assert {Capability(tag).value for tag in tags} == set(tags)
        assert {BedCategory[name].name for name in beds} == set(beds)


def test_incident_number() -> None:
    assert incident_number(date(2026, 11, 28), 7) == "PSC-20261128-0007"
    with pytest.raises(ValueError):
        incident_number(date(2026, 11, 28), 10_000)


T = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
EVENTS: list[DispatchEvent] = [
    UnitDispatched(1, 100, 10, T),
    AssignmentAdvanced(1, 100, 10, AssignmentStatus.DISPATCHED, AssignmentStatus.EN_ROUTE, (), T),
    AssignmentCancelled(1, 100, 10, AssignmentStatus.EN_ROUTE, CancelReason.DECLINED, T),
    UnitStatusChanged(10, UnitStatus.AVAILABLE, UnitStatus.DISPATCHED, T),
    EscalationRaised(1, 100, 10, EscalationCause.NOT_ACKNOWLEDGED, T),
    ReminderRaised(1, 100, 10, AssignmentStatus.ON_SCENE, T, T),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_every_event_has_a_bilingual_description(event: DispatchEvent) -> None:
    text = describe(event)
    assert text.id and text.en and text.id != text.en


def test_events_are_immutable() -> None:
    with pytest.raises(AttributeError):
        EVENTS[0].at = T  # type: ignore[misc]
