"""Words of SPGDT dispatch: the enums and value types every other module speaks.

Rules:

1. Every enum member is UPPER_CASE; the database stores the member *name* (see
   :mod:`dispatch.store.models`), so renaming a member is a migration. Values are the stable,
   lower-case codes used on the wire (JSON, the demo data's capability tags).
2. What a user reads comes from :attr:`label` (a :class:`Label`, Bahasa Indonesia first, English
   beside it). Labels are display text only: never parse or store them.
3. What a complaint needs from a hospital is data (:data:`CARE_PROFILES`), not code, so a city
   can review it in one place. ``required`` capabilities are hard: a hospital lacking one never
   ranks above a hospital that has them all. ``preferred`` ones only break ties.
4. Records (:class:`Assignment` with its :class:`TimeChain`) are immutable values that map
   one-to-one onto rows; only :mod:`dispatch.lifecycle` makes new ones from old ones.
5. Which bed a patient will need depends on complaint *and* triage: MERAH needs the critical-care
   bed of its complaint, KUNING the ward bed, HIJAU and HITAM the emergency department (the
   first is usually treated and sent home from the IGD, the second is received there). Each is
   a fallback chain: the first category a hospital reports is the one that counts, because
   hospitals report the categories they have, not the ones we would like.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, NamedTuple

Lang = Literal["id", "en"]

INCIDENT_PREFIX = "PSC"


class Label(NamedTuple):
    """A user-facing text in Bahasa Indonesia (``id``) and English (``en``)."""

    id: str
    en: str

    def text(self, lang: Lang = "id") -> str:
        return self.en if lang == "en" else self.id


class _Labelled(enum.Enum):
    """An enum whose members have a bilingual :class:`Label` (filled in :data:`_LABELS`)."""

    @property
    def label(self) -> Label:
        return _LABELS[self]


class Source(_Labelled):
    """How the call reached the PSC."""

    CALL_119 = "119"
    CALL_112 = "112"
    RADIO = "radio"
    WALK_IN = "walk_in"


class Complaint(_Labelled):
    """Chief complaint as the call taker records it (not a diagnosis)."""

    TRAUMA = "trauma"
    CARDIAC = "cardiac"
    STROKE = "stroke"
    OBSTETRIC = "obstetric"
    RESPIRATORY = "respiratory"
    PAEDIATRIC = "paediatric"
    BURNS = "burns"
    POISONING = "poisoning"
    OTHER = "other"


class Triage(_Labelled):
    """START triage colour."""

    MERAH = "merah"
    KUNING = "kuning"
    HIJAU = "hijau"
    HITAM = "hitam"


class UnitType(_Labelled):
    """Ambulance capability: advanced or basic life support, or transport only (driver)."""

    ALS = "als"
    BLS = "bls"
    TRANSPORT = "transport"


class UnitStatus(_Labelled):
    """What the console shows for an ambulance; busy ones are derived from the assignment."""

    AVAILABLE = "available"
    DISPATCHED = "dispatched"
    ACKNOWLEDGED = "acknowledged"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    TRANSPORTING = "transporting"
    AT_HOSPITAL = "at_hospital"
    OUT_OF_SERVICE = "out_of_service"


class AssignmentStatus(_Labelled):
    """One ambulance's work on one incident (NEMSIS eTimes order)."""

    DISPATCHED = "dispatched"
    ACKNOWLEDGED = "acknowledged"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    TRANSPORTING = "transporting"
    AT_HOSPITAL = "at_hospital"
    HANDOVER = "handover"
    BACK_IN_SERVICE = "back_in_service"
    CANCELLED = "cancelled"


class IncidentStatus(_Labelled):
    """Derived from the incident's assignments (see :func:`dispatch.lifecycle.incident_status`)."""

    NEW = "new"
    DISPATCHED = "dispatched"
    ON_SCENE = "on_scene"
    TRANSPORTING = "transporting"
    AT_HOSPITAL = "at_hospital"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class CancelReason(_Labelled):
    DISPATCHER = "dispatcher"
    DECLINED = "declined"
    OUT_OF_SERVICE = "out_of_service"  # the dispatch room took the unit off the job


class EscalationCause(_Labelled):
    NOT_ACKNOWLEDGED = "not_acknowledged"
    DECLINED = "declined"
    OUT_OF_SERVICE = "out_of_service"


class Authority(_Labelled):
    """Who took a unit out of service, and so who may put it back (see docs/dispatch.md).

    Ordered: a decision can be undone by the same authority or a higher one, never a lower.
    The crew (an SMS reply, the status link) ranks lowest, the supervisor highest.
    """

    CREW = "crew"
    DISPATCHER = "dispatcher"
    SUPERVISOR = "supervisor"

    @property
    def rank(self) -> int:
        return list(Authority).index(self)

    @classmethod
    def of_role(cls, role: str | None) -> Authority:
        """A user's authority from their role name; anyone else (SMS, link, system) is CREW."""
        if role in ("supervisor", "admin"):
            return cls.SUPERVISOR
        if role == "dispatcher":
            return cls.DISPATCHER
        return cls.CREW


class BedCategory(_Labelled):
    """Bed categories as Indonesian hospitals report them (SISRUTE style)."""

    IGD = "igd"
    ICU = "icu"
    NICU = "nicu"
    PICU = "picu"
    VK = "vk"
    ANAK = "anak"
    BEDAH = "bedah"
    UMUM = "umum"


class Capability(_Labelled):
    """Hospital capability tags (values match the tags in the demo data)."""

    IGD = "igd"
    ICU = "icu"
    NICU = "nicu"
    PICU = "picu"
    TRAUMA = "trauma"
    SURGERY = "surgery"
    NEUROSURGERY = "neurosurgery"
    CT_SCAN = "ct_scan"
    CARDIAC = "cardiac"
    CATH_LAB = "cath_lab"
    STROKE = "stroke"
    OBSTETRIC = "obstetric"
    PAEDIATRIC = "paediatric"
    BURNS = "burns"
    INTERNAL = "internal"


# An assignment in one of these is finished: its unit is free (or out of service).
TERMINAL = frozenset({AssignmentStatus.BACK_IN_SERVICE, AssignmentStatus.CANCELLED})


@dataclass(frozen=True, slots=True)
class TimeChain:
    """Server stamps of each status reached (UTC); ``None`` means never reported."""

    dispatched_at: datetime
    acknowledged_at: datetime | None = None
    en_route_at: datetime | None = None
    on_scene_at: datetime | None = None
    transporting_at: datetime | None = None
    at_hospital_at: datetime | None = None
    handover_at: datetime | None = None
    back_in_service_at: datetime | None = None
    cancelled_at: datetime | None = None

    def at(self, status: AssignmentStatus) -> datetime | None:
        value: datetime | None = getattr(self, _stamp_field(status))
        return value

    def stamped(self, status: AssignmentStatus, now: datetime) -> TimeChain:
        """A copy with ``status`` stamped at ``now``, unless it already has a stamp."""
        if self.at(status) is not None:
            return self
        return dataclasses.replace(self, **{_stamp_field(status): now})


def _stamp_field(status: AssignmentStatus) -> str:
    return f"{status.name.lower()}_at"


@dataclass(frozen=True, slots=True)
class Assignment:
    """One unit on one incident. ``escalated_at``/``reminded_at`` record fired timers."""

    id: int
    incident_id: int
    unit_id: int
    status: AssignmentStatus
    times: TimeChain
    cancel_reason: CancelReason | None = None
    escalated_at: datetime | None = None
    reminded_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status not in TERMINAL


@dataclass(frozen=True, slots=True)
class CareProfile:
    """What a complaint needs from a hospital (rule 3) and which beds (rule 5)."""

    required: frozenset[Capability]
    preferred: frozenset[Capability]
    ward_beds: tuple[BedCategory, ...]
    critical_beds: tuple[BedCategory, ...]


def _profile(
    required: set[Capability],
    preferred: set[Capability],
    ward: tuple[BedCategory, ...],
    critical: tuple[BedCategory, ...],
) -> CareProfile:
    return CareProfile(frozenset(required), frozenset(preferred), ward, critical)


C, B = Capability, BedCategory
CARE_PROFILES: dict[Complaint, CareProfile] = {
    Complaint.TRAUMA: _profile(
        {C.IGD, C.SURGERY}, {C.TRAUMA, C.CT_SCAN, C.NEUROSURGERY, C.ICU},
        (B.BEDAH, B.UMUM), (B.ICU,),
    ),
    Complaint.CARDIAC: _profile({C.IGD, C.CARDIAC}, {C.CATH_LAB, C.ICU}, (B.UMUM,), (B.ICU,)),
    Complaint.STROKE: _profile(
        {C.IGD, C.STROKE}, {C.CT_SCAN, C.NEUROSURGERY, C.ICU}, (B.UMUM,), (B.ICU,)
    ),
    Complaint.OBSTETRIC: _profile({C.IGD, C.OBSTETRIC}, {C.NICU, C.ICU}, (B.VK,), (B.VK, B.ICU)),
    Complaint.RESPIRATORY: _profile({C.IGD}, {C.ICU, C.INTERNAL}, (B.UMUM,), (B.ICU,)),
    Complaint.PAEDIATRIC: _profile(
        {C.IGD, C.PAEDIATRIC}, {C.PICU, C.NICU}, (B.ANAK, B.UMUM), (B.PICU, B.NICU, B.ICU)
    ),
    Complaint.BURNS: _profile({C.IGD, C.SURGERY}, {C.BURNS, C.ICU}, (B.BEDAH, B.UMUM), (B.ICU,)),
    Complaint.POISONING: _profile({C.IGD}, {C.INTERNAL, C.ICU}, (B.UMUM,), (B.ICU,)),
    Complaint.OTHER: _profile({C.IGD}, {C.INTERNAL}, (B.UMUM,), (B.ICU,)),
}
del C, B


def bed_categories_for(complaint: Complaint, triage: Triage) -> tuple[BedCategory, ...]:
    """The bed chain that matters for this patient (rule 5), most specific first."""
    profile = CARE_PROFILES[complaint]
    if triage is Triage.MERAH:
        return profile.critical_beds
    if triage is Triage.KUNING:
        return profile.ward_beds
    return (BedCategory.IGD,)


def incident_number(day: date, sequence: int) -> str:
    """``PSC-YYYYMMDD-NNNN``: the day (WIB) and the day's sequence, as crews quote it."""
    if not 1 <= sequence <= 9999:
        raise ValueError(f"incident sequence out of range: {sequence}")
    return f"{INCIDENT_PREFIX}-{day:%Y%m%d}-{sequence:04d}"


_LABELS: dict[_Labelled, Label] = {
    Source.CALL_119: Label("Telepon 119", "Call 119"),
    Source.CALL_112: Label("Telepon 112", "Call 112"),
    Source.RADIO: Label("Radio", "Radio"),
    Source.WALK_IN: Label("Datang langsung", "Walk-in"),
    Complaint.TRAUMA: Label("Kecelakaan/trauma", "Traffic accident/trauma"),
    Complaint.CARDIAC: Label("Jantung", "Cardiac"),
    Complaint.STROKE: Label("Stroke", "Stroke"),
    Complaint.OBSTETRIC: Label("Kebidanan/persalinan", "Obstetric"),
    Complaint.RESPIRATORY: Label("Sesak napas", "Respiratory"),
    Complaint.PAEDIATRIC: Label("Anak", "Paediatric"),
    Complaint.BURNS: Label("Luka bakar", "Burns"),
    Complaint.POISONING: Label("Keracunan", "Poisoning"),
    Complaint.OTHER: Label("Lainnya", "Other"),
    Triage.MERAH: Label("Merah (segera)", "Red (immediate)"),
    Triage.KUNING: Label("Kuning (mendesak)", "Yellow (urgent)"),
    Triage.HIJAU: Label("Hijau (ringan)", "Green (minor)"),
    Triage.HITAM: Label("Hitam (meninggal)", "Black (deceased)"),
    UnitType.ALS: Label("ALS", "ALS"),
    UnitType.BLS: Label("BLS", "BLS"),
    UnitType.TRANSPORT: Label("Angkut", "Transport"),
    UnitStatus.AVAILABLE: Label("Siaga", "Available"),
    UnitStatus.DISPATCHED: Label("Ditugaskan", "Dispatched"),
    UnitStatus.ACKNOWLEDGED: Label("Diterima", "Acknowledged"),
    UnitStatus.EN_ROUTE: Label("Berangkat", "En route"),
    UnitStatus.ON_SCENE: Label("Tiba di lokasi", "On scene"),
    UnitStatus.TRANSPORTING: Label("Mengangkut pasien", "Transporting"),
    UnitStatus.AT_HOSPITAL: Label("Di rumah sakit", "At hospital"),
    UnitStatus.OUT_OF_SERVICE: Label("Tidak bertugas", "Out of service"),
    AssignmentStatus.DISPATCHED: Label("Ditugaskan", "Dispatched"),
    AssignmentStatus.ACKNOWLEDGED: Label("Diterima", "Acknowledged"),
    AssignmentStatus.EN_ROUTE: Label("Berangkat", "En route"),
    AssignmentStatus.ON_SCENE: Label("Tiba di lokasi", "On scene"),
    AssignmentStatus.TRANSPORTING: Label("Mengangkut pasien", "Transporting"),
    AssignmentStatus.AT_HOSPITAL: Label("Di rumah sakit", "At hospital"),
    AssignmentStatus.HANDOVER: Label("Serah terima", "Handover"),
    AssignmentStatus.BACK_IN_SERVICE: Label("Siaga kembali", "Back in service"),
    AssignmentStatus.CANCELLED: Label("Dibatalkan", "Cancelled"),
    IncidentStatus.NEW: Label("Baru", "New"),
    IncidentStatus.DISPATCHED: Label("Unit ditugaskan", "Dispatched"),
    IncidentStatus.ON_SCENE: Label("Unit di lokasi", "On scene"),
    IncidentStatus.TRANSPORTING: Label("Pasien diangkut", "Transporting"),
    IncidentStatus.AT_HOSPITAL: Label("Pasien di rumah sakit", "At hospital"),
    IncidentStatus.CLOSED: Label("Selesai", "Closed"),
    IncidentStatus.CANCELLED: Label("Dibatalkan", "Cancelled"),
    CancelReason.DISPATCHER: Label("Dibatalkan dispatcher", "Cancelled by dispatcher"),
    CancelReason.DECLINED: Label("Ditolak kru", "Declined by crew"),
    CancelReason.OUT_OF_SERVICE: Label("Unit dinonaktifkan", "Unit taken out of service"),
    EscalationCause.NOT_ACKNOWLEDGED: Label("Tidak ada jawaban kru", "Crew did not acknowledge"),
    EscalationCause.DECLINED: Label("Kru tidak bisa berangkat", "Crew cannot respond"),
    EscalationCause.OUT_OF_SERVICE: Label("Unit dinonaktifkan saat bertugas",
                                          "Unit taken out of service during the job"),
    Authority.CREW: Label("kru", "crew"),
    Authority.DISPATCHER: Label("dispatcher", "dispatcher"),
    Authority.SUPERVISOR: Label("supervisor", "supervisor"),
    BedCategory.IGD: Label("IGD", "Emergency department"),
    BedCategory.ICU: Label("ICU", "ICU"),
    BedCategory.NICU: Label("NICU", "NICU"),
    BedCategory.PICU: Label("PICU", "PICU"),
    BedCategory.VK: Label("VK (bersalin)", "Delivery room"),
    BedCategory.ANAK: Label("Rawat anak", "Paediatric ward"),
    BedCategory.BEDAH: Label("Rawat bedah", "Surgical ward"),
    BedCategory.UMUM: Label("Rawat umum", "General ward"),
    Capability.IGD: Label("IGD 24 jam", "24h emergency department"),
    Capability.ICU: Label("ICU", "ICU"),
    Capability.NICU: Label("NICU", "NICU"),
    Capability.PICU: Label("PICU", "PICU"),
    Capability.TRAUMA: Label("pusat trauma", "trauma centre"),
    Capability.SURGERY: Label("bedah", "surgery"),
    Capability.NEUROSURGERY: Label("bedah saraf", "neurosurgery"),
    Capability.CT_SCAN: Label("CT scan", "CT scan"),
    Capability.CARDIAC: Label("jantung", "cardiology"),
    Capability.CATH_LAB: Label("cath lab", "cath lab"),
    Capability.STROKE: Label("stroke", "stroke care"),
    Capability.OBSTETRIC: Label("PONEK (kebidanan)", "obstetric emergency (PONEK)"),
    Capability.PAEDIATRIC: Label("anak", "paediatrics"),
    Capability.BURNS: Label("luka bakar", "burns unit"),
    Capability.INTERNAL: Label("penyakit dalam", "internal medicine"),
}
