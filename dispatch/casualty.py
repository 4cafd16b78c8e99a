"""Patients of an incident shared out over ambulances and hospitals (mass casualty rules).

An incident records how many patients there are; each assignment records how many of them
its ambulance carries and (its destination) to which hospital. Pure: counts, statuses and
times in, decisions out; the service reads the rows and applies them.

Rules:

1. A patient is *assigned* while an assignment that is not cancelled carries them. A
   cancelled assignment (dispatcher cancel, crew decline, unit withdrawn, reassign) gives its
   patients back: they are unassigned again and need another unit.
2. Unassigned patients mean units are still needed. An assignment without an explicit count
   takes every patient still unassigned (at least 0), so a one-patient call needs no count.
   Asking one ambulance to carry more patients than remain unassigned is refused.
3. The incident does not close while patients remain unassigned or a unit is still working
   it: :func:`close_refusal` names what remains, and the derived status
   (:func:`dispatch.lifecycle.incident_status`) waits for a unit instead of closing.
4. A patient bound for a hospital reserves one bed there from the dispatch onwards, in the
   bed category their complaint, triage and age need, the chain the ranking reads
   (:func:`dispatch.clinical.needs`: MERAH the critical-care chain such as ICU, PICU for a
   child, KUNING the ward, HIJAU and HITAM the IGD), the first of it the hospital reports,
   so the next recommendation sees the bed taken. A hospital that reports none of the chain
   has nothing to reserve from.
5. A reservation ends when the bed is the hospital's own to count: once the patient was
   delivered (at the hospital or handed over) *and* the hospital reported that category
   after the delivery, or :data:`DELIVERED_HOLD` after the delivery in any case (a hospital
   that never reports again must not lose beds for ever). A cancelled assignment releases
   its beds at once; a changed destination moves them.
6. A hospital's pre-arrival alert counts the patients of the assignments bound for it only,
   never the incident's total.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from dispatch.clinical import AgeGroup, needs
from dispatch.domain import AssignmentStatus, BedCategory, Complaint, Label, Triage

DELIVERED_HOLD = timedelta(hours=12)
_DELIVERED = frozenset({AssignmentStatus.AT_HOSPITAL, AssignmentStatus.HANDOVER,
                        AssignmentStatus.BACK_IN_SERVICE})
_WORKING = frozenset({AssignmentStatus.DISPATCHED, AssignmentStatus.ACKNOWLEDGED,
                      AssignmentStatus.EN_ROUTE, AssignmentStatus.ON_SCENE,
                      AssignmentStatus.TRANSPORTING, AssignmentStatus.AT_HOSPITAL,
                      AssignmentStatus.HANDOVER})


@dataclass(frozen=True, slots=True)
class Carried:
    """One assignment's share of an incident's patients."""

    status: AssignmentStatus
    patients: int
    hospital_id: int | None = None
    delivered_at: datetime | None = None  # at-hospital (or handover) stamp, if reached


@dataclass(frozen=True, slots=True)
class Bound:
    """Patients carried to a hospital, with what decides their bed (rules 4 and 5)."""

    carried: Carried
    complaint: Complaint
    triage: Triage
    age: AgeGroup | None = None


class PatientRefusal(Exception):
    """A count or a close the rules refuse; ``code`` is stable, ``message`` bilingual."""

    def __init__(self, code: str, message: Label, details: Mapping[str, int]) -> None:
        super().__init__(code, message.en)
        self.code = code
        self.message = message
        self.details = dict(details)


def unassigned(patients: int, shares: Iterable[Carried]) -> int:
    """Patients no live assignment carries (rule 1); never below 0."""
    carried = sum(c.patients for c in shares if c.status is not AssignmentStatus.CANCELLED)
    return max(patients - carried, 0)


def patients_to_carry(patients: int, shares: Iterable[Carried], asked: int | None) -> int:
    """How many patients a new assignment carries (rule 2), or :class:`PatientRefusal`."""
    remaining = unassigned(patients, shares)
    if asked is None:
        return remaining
    if asked > remaining:
        raise PatientRefusal("patients_exceed_remaining", Label(
            f"Hanya {remaining} dari {patients} pasien yang belum mendapat ambulans",
            f"Only {remaining} of {patients} patients have no ambulance yet"),
            {"asked": asked, "unassigned": remaining, "patients": patients})
    return asked


def close_refusal(patients: int, shares: Iterable[Carried]) -> PatientRefusal | None:
    """Why the incident may not close yet (rule 3), or None when it may."""
    shares = list(shares)
    remaining = unassigned(patients, shares)
    working = sum(1 for c in shares if c.status in _WORKING)
    if remaining == 0 and working == 0:
        return None
    parts_id, parts_en = [], []
    if remaining:
        parts_id.append(f"{remaining} pasien belum mendapat ambulans")
        parts_en.append(f"{remaining} patients have no ambulance yet")
    if working:
        parts_id.append(f"{working} unit masih bertugas")
        parts_en.append(f"{working} units still working")
    code = "patients_unassigned" if remaining else "units_working"
    return PatientRefusal(code, Label(
        "Kejadian belum bisa ditutup: " + ", ".join(parts_id),
        "The incident cannot be closed yet: " + ", ".join(parts_en)),
        {"unassigned": remaining, "units_working": working, "patients": patients})


def reserved_category(
    complaint: Complaint, triage: Triage, reported: Iterable[BedCategory],
    age: AgeGroup | None = None,
) -> BedCategory | None:
    """The bed one patient reserves at a hospital reporting ``reported`` (rule 4)."""
    have = set(reported)
    return next((c for c in needs(complaint, triage, age).beds if c in have), None)


def holds_bed(carried: Carried, reported_at: datetime, now: datetime) -> bool:
    """Whether this share still holds its beds (rule 5); ``reported_at`` is the hospital's
    last report of the category."""
    if carried.status is AssignmentStatus.CANCELLED or carried.hospital_id is None:
        return False
    if carried.status not in _DELIVERED or carried.delivered_at is None:
        return True
    if now - carried.delivered_at >= DELIVERED_HOLD:
        return False
    return reported_at <= carried.delivered_at


def reservations(
    bound: Iterable[Bound], reported: Mapping[int, Mapping[BedCategory, datetime]],
    now: datetime,
) -> dict[int, Counter[BedCategory]]:
    """Beds held per hospital and category (rules 4 and 5).

    ``reported`` is, per hospital, when each bed category it reports was last reported.
    """
    held: dict[int, Counter[BedCategory]] = {}
    for b in bound:
        hospital_id = b.carried.hospital_id
        if hospital_id is None or b.carried.patients == 0:
            continue
        categories = reported.get(hospital_id, {})
        category = reserved_category(b.complaint, b.triage, categories, b.age)
        if category is None or not holds_bed(b.carried, categories[category], now):
            continue
        held.setdefault(hospital_id, Counter())[category] += b.carried.patients
    return held


def patients_for(hospital_id: int, shares: Iterable[Carried]) -> int:
    """Patients of live assignments bound for ``hospital_id`` (rule 6)."""
    return sum(c.patients for c in shares
               if c.hospital_id == hospital_id and c.status is not AssignmentStatus.CANCELLED)
