"""What a patient needs from a hospital: complaint, triage, age and major trauma together.

Rules:

1. Age is entered at intake as a number and a unit (days, months or years), the way callers
   say it ("bayi 10 hari", "anak 3 tahun"). A month counts as 30 days and a year as 365.
2. Age groups: a **neonate** is under 28 days (the WHO neonatal period), a **child** is from
   28 days to under 18 years (Indonesian law, UU 35/2014, counts a child to 18), an **adult**
   is 18 or older. No age given: the complaint decides (``paediatric`` is read as a child,
   never a neonate: a toddler is not a NICU patient; enter a newborn's age in days).
3. A neonate needs the NICU (perinatal care): NICU is required and the critical bed is the
   NICU. A child needs paediatrics: PAEDIATRIC is required, PICU is preferred over NICU (which
   is dropped), the critical beds are PICU then ICU, the ward bed the paediatric ward first.
4. MERAH trauma is major trauma: the trauma centre is required, unless no accepting hospital
   with it (in action) is reachable within the policy's reach time; then it is only preferred
   and the reasons say none was in reach (:func:`dispatch.recommend.rank_hospitals`).
5. A bed category stands for a capability (ICU beds for the ICU, VK for obstetrics...): a
   hospital whose capability is missing or out of action does not offer that bed, so no
   reason ever claims it (:data:`BED_CAPABILITY`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from dispatch.domain import (
    CARE_PROFILES,
    BedCategory,
    Capability,
    Complaint,
    Label,
    Triage,
    bed_categories_for,
)

NEONATE_DAYS = 28
ADULT_YEARS = 18
DAYS_PER = {"days": 1, "months": 30, "years": 365}


class AgeGroup(enum.Enum):
    NEONATE = "neonate"
    CHILD = "child"
    ADULT = "adult"

    @property
    def label(self) -> Label:
        return _AGE_LABELS[self]


_AGE_LABELS = {
    AgeGroup.NEONATE: Label("bayi baru lahir", "neonate"),
    AgeGroup.CHILD: Label("anak", "child"),
    AgeGroup.ADULT: Label("dewasa", "adult"),
}

_B, _C = BedCategory, Capability
BED_CAPABILITY: dict[BedCategory, Capability] = {
    _B.IGD: _C.IGD, _B.ICU: _C.ICU, _B.NICU: _C.NICU, _B.PICU: _C.PICU,
    _B.VK: _C.OBSTETRIC, _B.ANAK: _C.PAEDIATRIC, _B.BEDAH: _C.SURGERY,
}


def age_in_days(value: int, unit: str) -> int:
    """Rule 1; ``unit`` is one of :data:`DAYS_PER` (the API checks it)."""
    return value * DAYS_PER[unit]


def age_group(days: int | None, complaint: Complaint) -> AgeGroup | None:
    """Rule 2: the group of an age in days, or what the complaint implies without one."""
    if days is None:
        return AgeGroup.CHILD if complaint is Complaint.PAEDIATRIC else None
    if days < NEONATE_DAYS:
        return AgeGroup.NEONATE
    if days < ADULT_YEARS * DAYS_PER["years"]:
        return AgeGroup.CHILD
    return AgeGroup.ADULT


def patient_group(value: int | None, unit: str | None, complaint: Complaint) -> AgeGroup | None:
    """Rules 1-2 from what intake stores (``unit`` None reads as years)."""
    days = age_in_days(value, unit or "years") if value is not None else None
    return age_group(days, complaint)


@dataclass(frozen=True, slots=True)
class Needs:
    """What the hospital ranking asks of every hospital for one patient."""

    required: frozenset[Capability]
    preferred: frozenset[Capability]
    beds: tuple[BedCategory, ...]
    #: Major trauma: the trauma centre is required while one is in reach (rule 4).
    major_trauma: bool


def needs(complaint: Complaint, triage: Triage, age: AgeGroup | None = None) -> Needs:
    """Rules 3 and 4 applied to the complaint's care profile."""
    profile = CARE_PROFILES[complaint]
    required, preferred = set(profile.required), set(profile.preferred)
    beds = bed_categories_for(complaint, triage)
    if age is AgeGroup.NEONATE:
        required.add(_C.NICU)
        preferred.discard(_C.PICU)
        if triage is not Triage.HIJAU and triage is not Triage.HITAM:
            beds = (_B.NICU, *(b for b in beds if b not in (_B.NICU, _B.PICU)))
    elif age is AgeGroup.CHILD:
        required.add(_C.PAEDIATRIC)
        preferred.discard(_C.NICU)
        if triage is Triage.MERAH:
            preferred.add(_C.PICU)
            beds = (_B.PICU, _B.ICU)
        elif triage is Triage.KUNING:
            beds = (_B.ANAK, *(b for b in beds if b is not _B.ANAK))
    major = complaint is Complaint.TRAUMA and triage is Triage.MERAH
    return Needs(frozenset(required), frozenset(preferred - required), beds, major)


def offers(capabilities: frozenset[Capability], category: BedCategory) -> bool:
    """Rule 5: a bed counts only where its capability is present and in action."""
    needed = BED_CAPABILITY.get(category)
    return needed is None or needed in capabilities



def contradiction(
    complaint: Complaint, triage: Triage, age: AgeGroup | None, cardiac_arrest: bool
) -> tuple[str, Label] | None:
    """What intake refuses (a typing slip, not a judgement): cardiac arrest is MERAH, and
    the paediatric complaint is not an adult's. ``None`` when the call is consistent."""
    if cardiac_arrest and triage is not Triage.MERAH:
        return "cardiac_arrest_not_merah", Label(
            "Henti jantung harus triase MERAH", "Cardiac arrest must be triaged MERAH")
    if complaint is Complaint.PAEDIATRIC and age is AgeGroup.ADULT:
        return "age_contradicts_complaint", Label(
            "Keluhan 'Anak' untuk pasien berumur 18 tahun atau lebih: periksa umur atau keluhan",
            "Paediatric complaint for a patient aged 18 or over: check the age or the complaint")
    return None
