"""Which ambulance, which hospital: ranking with a stated reason for every entry.

Rules:

1. Only AVAILABLE units are ever ranked; busy and OUT_OF_SERVICE units are not candidates.
2. A unit's type must fit the triage colour (:data:`DEFAULT_FIT`, a policy a city can change).
   A PREFERRED type ranks first while it can arrive within the colour's target window (MERAH:
   8 min, the NFPA 1710 ALS target); beyond it, and for ACCEPTED types, the quickest unit wins.
   So MERAH gets the nearest ALS if one is within 8 minutes, else the quickest of ALS and BLS
   (the reason then says "ALS lebih diutamakan"); a TRANSPORT unit (driver only) is never sent
   to MERAH or KUNING, and ALS is never tied up for HITAM. Within one type the order is
   always by travel time.
3. Hospitals rank by, in order: capability (every *required* capability of the complaint
   present; a hospital lacking one never ranks above one that has them all), bed band, travel
   time from the scene, then preferred capabilities and believed free beds as tie-breaks.
4. Beds count less as their report ages: ``believed = free × 0.5^(age / half-life)``
   (half-life 1 h). Bands rather than raw counts decide, because a hospital 40 minutes away
   with 5 beds must not beat one 5 minutes away with 4: ROOM (believed ≥ 0.5), UNCERTAIN (old
   count or no report), FULL (reported full within one half-life), DIVERTING (not accepting).
   The age is shown in the reason so the dispatcher can phone to confirm.
5. Travel times come from ``times`` (precomputed, e.g. an OSRM matrix keyed by unit or hospital
   id) and, for any id missing there, from ``model``. The method shows in the reason.
6. When no suitable unit is AVAILABLE, :func:`free_soonest` says which busy ones of a
   suitable type will be free first: each status has an expected time left from when the
   unit entered it (:data:`DEFAULT_FREE_AFTER`: a unit at the hospital is nearly done, one
   just dispatched has the whole job ahead); OUT_OF_SERVICE units are never listed.
7. Pure and fast: no I/O, one pass and one sort. A reason is a property built when read, so
   ranking 500 units costs the sort, not 500 sentences in two languages.
8. Units are ranked from where they are (:func:`believed_position`): a GPS fix, else the place
   the crew last reported (the scene once on scene, the hospital once there), else the post.
   A reported place holds until the crew could have driven back to the post (the travel
   model's time from there to the post); then the unit is taken to be at its post again.
9. Cardiac arrest: the nearest unit first whatever its type (minutes decide survival), and
   when that one is BLS the nearest ALS as well, right behind it, marked to send too.
10. KUNING and HIJAU do not take the last ALS (``als_reserve`` of them, default 1) while a
   unit of another type meets the colour's target: the ALS is kept for a MERAH call and
   ranks after the units within target.
11. Hospitals: what the patient needs comes from :mod:`dispatch.clinical` (age, major trauma);
   MERAH trauma requires the trauma centre while an accepting one is within
   ``trauma_reach_s``; a bed category whose capability is missing or out of action is not
   counted, so a reason names only capabilities the hospital has in action.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from dispatch.clinical import AgeGroup, needs, offers
from dispatch.domain import (
    AssignmentStatus,
    BedCategory,
    Capability,
    Complaint,
    Label,
    Triage,
    UnitStatus,
    UnitType,
)
from dispatch.travel import STRAIGHT_LINE, LatLon, TravelEstimate, TravelTimeModel


class Fit(enum.Enum):
    PREFERRED = "preferred"
    ACCEPTED = "accepted"


class Origin(enum.Enum):
    """Where a unit's position comes from (rule 8)."""

    POST = "post"
    GPS = "gps"
    SCENE = "scene"
    HOSPITAL = "hospital"


class UnitNote(enum.Enum):
    """Why a unit sits where it does in the order, beyond travel time (rules 9-10)."""

    ARREST_NEAREST = "arrest_nearest"
    ARREST_ALS_TOO = "arrest_als_too"
    ALS_HELD = "als_held"


class BedBand(enum.Enum):
    ROOM = 0
    UNCERTAIN = 1
    FULL = 2
    DIVERTING = 3


_T, _U, _F = Triage, UnitType, Fit
DEFAULT_FIT: dict[Triage, dict[UnitType, Fit]] = {
    _T.MERAH: {_U.ALS: _F.PREFERRED, _U.BLS: _F.ACCEPTED},
    _T.KUNING: {_U.ALS: _F.PREFERRED, _U.BLS: _F.PREFERRED},
    _T.HIJAU: {_U.BLS: _F.PREFERRED, _U.TRANSPORT: _F.PREFERRED, _U.ALS: _F.ACCEPTED},
    _T.HITAM: {_U.TRANSPORT: _F.PREFERRED, _U.BLS: _F.ACCEPTED},
}
DEFAULT_WINDOW_S: dict[Triage, float] = {
    _T.MERAH: 8 * 60, _T.KUNING: 15 * 60, _T.HIJAU: 30 * 60, _T.HITAM: 60 * 60,
}
del _T, _U, _F


@dataclass(frozen=True, slots=True)
class RankPolicy:
    fit: Mapping[Triage, Mapping[UnitType, Fit]] = field(default_factory=lambda: DEFAULT_FIT)
    preferred_window_s: Mapping[Triage, float] = field(default_factory=lambda: DEFAULT_WINDOW_S)
    bed_half_life_s: float = 3600.0
    stale_position_s: float = 600.0
    #: MERAH trauma needs a trauma centre reachable within this (``SIAGA_TRAUMA_REACH_SECONDS``).
    trauma_reach_s: float = 30 * 60
    #: This many available ALS or fewer are kept from KUNING/HIJAU calls (rule 10).
    als_reserve: int = 1


DEFAULT_POLICY = RankPolicy()

_S = UnitStatus
DEFAULT_FREE_AFTER: dict[UnitStatus, float] = {  # seconds left from entering the status
    _S.DISPATCHED: 60 * 60, _S.ACKNOWLEDGED: 60 * 60, _S.EN_ROUTE: 55 * 60,
    _S.ON_SCENE: 40 * 60, _S.TRANSPORTING: 25 * 60, _S.AT_HOSPITAL: 15 * 60,
}
del _S


class FreeSoon(NamedTuple):
    """A busy unit and when it is expected to be free (rule 6)."""

    unit: UnitCandidate
    status_since: datetime
    free_in_s: float

    @property
    def reason(self) -> Label:
        m = _minutes(self.free_in_s)
        status = self.unit.status.label
        return Label(f"{self.unit.type.label.id}, sedang {status.id.lower()}: perkiraan bebas "
                     f"~{m} mnt lagi",
                     f"{self.unit.type.label.en}, now {status.en.lower()}: expected free in "
                     f"~{m} min")


def free_soonest(
    busy: Iterable[tuple[UnitCandidate, datetime]],
    triage: Triage,
    *,
    now: datetime,
    policy: RankPolicy = DEFAULT_POLICY,
    free_after: Mapping[UnitStatus, float] = DEFAULT_FREE_AFTER,
    limit: int | None = None,
) -> list[FreeSoon]:
    """Busy units of a type fit for ``triage``, the soonest free first (rule 6).

    ``busy`` pairs each unit with the time it entered its current status.
    """
    fits = policy.fit[triage]
    rows = []
    for unit, since in busy:
        left = free_after.get(unit.status)
        if left is None or unit.type not in fits:
            continue
        free_in = max(0.0, left - (now - since).total_seconds())
        rows.append((free_in, fits[unit.type] is not Fit.PREFERRED, unit.id, unit, since))
    rows.sort(key=lambda row: row[:3])
    return [FreeSoon(unit, since, free_in) for free_in, _, _, unit, since in rows[:limit]]


@dataclass(frozen=True, slots=True)
class UnitCandidate:
    """An ambulance as ranking sees it; ``position_at=None`` means its home base, not a fix.

    ``origin`` says what ``position`` is (rule 8); ``post`` is the home post, where a unit
    reported at a scene or a hospital returns.
    """

    id: int
    type: UnitType
    status: UnitStatus
    position: LatLon
    position_at: datetime | None = None
    origin: Origin = Origin.GPS
    post: LatLon | None = None


@dataclass(frozen=True, slots=True)
class BedCount:
    category: BedCategory
    free: int
    reported_at: datetime


@dataclass(frozen=True, slots=True, eq=False)
class HospitalCandidate:
    id: int
    name: str
    position: LatLon
    capabilities: frozenset[Capability]
    beds: Mapping[BedCategory, BedCount] = field(default_factory=dict)
    accepting: bool = True


@dataclass(frozen=True, slots=True)
class UnitContext:
    """What the reasons are built from, shared by every entry of one ranking."""

    triage: Triage
    preferred: tuple[UnitType, ...]
    window_s: float
    now: datetime
    stale_position_s: float


@dataclass(frozen=True, slots=True)
class HospitalContext:
    complaint: Complaint
    bed_category: BedCategory
    now: datetime
    age: AgeGroup | None = None
    #: Major trauma with no trauma centre in reach: the minutes of the reach (rule 11).
    no_trauma_within_s: float | None = None
    required: frozenset[Capability] = frozenset()


class RankedUnit(NamedTuple):
    """One entry of :func:`rank_units` (a tuple: cheap to make by the hundred)."""

    rank: int
    unit: UnitCandidate
    fit: Fit
    travel: TravelEstimate
    #: Arrives within the triage's time target, whatever its type (the badge and the reason
    #: say the same); the order puts preferred units within the target first.
    within_window: bool
    context: UnitContext
    origin: Origin = Origin.GPS
    note: UnitNote | None = None

    @property
    def reason(self) -> Label:
        """Why this unit is here, e.g. "ALS tersedia, 4 mnt dari lokasi (...)" (built lazily)."""
        return _unit_reason(self)


class RankedHospital(NamedTuple):
    """One entry of :func:`rank_hospitals`; ``missing`` are required capabilities it lacks."""

    rank: int
    hospital: HospitalCandidate
    missing: tuple[Capability, ...]
    preferred: tuple[Capability, ...]
    bed: BedCount | None
    band: BedBand
    believed_free: float
    travel: TravelEstimate
    context: HospitalContext

    @property
    def reason(self) -> Label:
        """Capability, beds with the age of their count, travel time (built lazily)."""
        return _hospital_reason(self)


def eligible_units(
    units: Iterable[UnitCandidate], triage: Triage, policy: RankPolicy = DEFAULT_POLICY
) -> list[UnitCandidate]:
    """Units that may be ranked (rules 1-2): fetch routed times for these only."""
    return [unit for unit, _ in _fitting(units, policy.fit[triage])]


def _fitting(
    units: Iterable[UnitCandidate], fits: Mapping[UnitType, Fit]
) -> Iterator[tuple[UnitCandidate, Fit]]:
    for unit in units:
        if unit.status is UnitStatus.AVAILABLE and (fit := fits.get(unit.type)) is not None:
            yield unit, fit


def believed_position(
    unit: UnitCandidate, now: datetime, model: TravelTimeModel = STRAIGHT_LINE
) -> tuple[LatLon, Origin]:
    """Rule 8: where the unit is taken to be now, and what that position is."""
    if unit.origin in (Origin.SCENE, Origin.HOSPITAL) and unit.post is not None:
        since = (now - unit.position_at).total_seconds() if unit.position_at else 0.0
        if since >= model.estimate(unit.position, unit.post).seconds:
            return unit.post, Origin.POST
    return unit.position, unit.origin


def reported_origin(status: AssignmentStatus) -> Origin | None:
    """Rule 8: the place a crew's status puts the unit (``None``: it says nothing of where)."""
    if status is AssignmentStatus.ON_SCENE:
        return Origin.SCENE
    if status in (AssignmentStatus.AT_HOSPITAL, AssignmentStatus.HANDOVER):
        return Origin.HOSPITAL
    return None


def rank_units(
    units: Iterable[UnitCandidate],
    scene: LatLon,
    triage: Triage,
    *,
    now: datetime,
    times: Mapping[int, TravelEstimate] | None = None,
    model: TravelTimeModel = STRAIGHT_LINE,
    policy: RankPolicy = DEFAULT_POLICY,
    limit: int | None = None,
    cardiac_arrest: bool = False,
) -> list[RankedUnit]:
    """Suitable available units, best first (rules 1, 2, 5 and 8-10)."""
    fits = policy.fit[triage]
    window = policy.preferred_window_s[triage]
    times = times or {}
    rows: list[list[Any]] = []  # mutable: rules 9-10 adjust tier and note after the pass
    als = others_in_target = 0
    for index, (unit, fit) in enumerate(_fitting(units, fits)):
        where, origin = believed_position(unit, now, model)
        travel = times.get(unit.id) or model.estimate(where, scene)
        tier = 0 if cardiac_arrest or (fit is Fit.PREFERRED and travel.seconds <= window) else 1
        if unit.type is UnitType.ALS:
            als += 1
        elif travel.seconds <= window:
            others_in_target += 1
        rows.append([tier, travel.seconds, unit.id, index, unit, fit, travel, origin, None])
    if triage in (Triage.KUNING, Triage.HIJAU) and als <= policy.als_reserve and others_in_target:
        for row in rows:  # rule 10
            if row[4].type is UnitType.ALS:
                row[0], row[8] = 1, UnitNote.ALS_HELD
    rows.sort(key=lambda row: row[:4])  # ``index`` is unique, so comparison stops there
    if cardiac_arrest and rows:
        _pair_for_arrest(rows)
    preferred = tuple(t for t, f in fits.items() if f is Fit.PREFERRED)
    context = UnitContext(triage, preferred, window, now, policy.stale_position_s)
    return [
        RankedUnit(rank, unit, fit, travel, travel.seconds <= window, context, origin, note)
        for rank, (_, _, _, _, unit, fit, travel, origin, note)
        in enumerate(rows[:limit], start=1)
    ]


def _pair_for_arrest(rows: list[list[Any]]) -> None:
    """Rule 9: nearest first; if it is not ALS, the nearest ALS right behind it."""
    rows[0][8] = UnitNote.ARREST_NEAREST
    if rows[0][4].type is UnitType.ALS:
        return
    for at, row in enumerate(rows):
        if row[4].type is UnitType.ALS:
            row[8] = UnitNote.ARREST_ALS_TOO
            rows.insert(1, rows.pop(at))
            return


def rank_hospitals(
    hospitals: Iterable[HospitalCandidate],
    scene: LatLon,
    complaint: Complaint,
    triage: Triage,
    *,
    now: datetime,
    times: Mapping[int, TravelEstimate] | None = None,
    model: TravelTimeModel = STRAIGHT_LINE,
    policy: RankPolicy = DEFAULT_POLICY,
    limit: int | None = None,
    age: AgeGroup | None = None,
) -> list[RankedHospital]:
    """Every hospital, best first for this patient (rules 3-5 and 11)."""
    need = needs(complaint, triage, age)
    chain = need.beds
    times = times or {}
    travels = [(h, times.get(h.id) or model.estimate(scene, h.position)) for h in hospitals]
    required, preferred, short_of_trauma = need.required, need.preferred, None
    if need.major_trauma:
        if any(Capability.TRAUMA in h.capabilities and h.accepting
               and travel.seconds <= policy.trauma_reach_s for h, travel in travels):
            required = required | {Capability.TRAUMA}
        else:
            short_of_trauma = policy.trauma_reach_s
    rows = []
    for index, (h, travel) in enumerate(travels):
        missing = tuple(sorted(required - h.capabilities, key=_by_value))
        bonus = tuple(sorted(preferred & h.capabilities, key=_by_value))
        bed = next((b for c in chain
                    if (b := h.beds.get(c)) is not None and offers(h.capabilities, c)), None)
        band, believed = _bed_band(h.accepting, bed, now, policy.bed_half_life_s)
        key = (len(missing), band.value, travel.seconds, -len(bonus), -believed, h.id, index)
        rows.append((key, (h, missing, bonus, bed, band, believed, travel)))
    rows.sort(key=lambda row: row[0])
    context = HospitalContext(complaint, chain[0], now, age, short_of_trauma, required)
    return [
        RankedHospital(rank, *entry, context)
        for rank, (_, entry) in enumerate(rows[:limit], start=1)
    ]


def _bed_band(
    accepting: bool, bed: BedCount | None, now: datetime, half_life_s: float
) -> tuple[BedBand, float]:
    """Rule 4: the band and the believed number of free beds."""
    if not accepting:
        return BedBand.DIVERTING, 0.0
    if bed is None:
        return BedBand.UNCERTAIN, 0.0
    age = max(0.0, (now - bed.reported_at).total_seconds())
    weight = 0.5 ** (age / half_life_s)
    if bed.free <= 0:
        return (BedBand.FULL if weight >= 0.5 else BedBand.UNCERTAIN), 0.0
    believed = bed.free * weight
    return (BedBand.ROOM if believed >= 0.5 else BedBand.UNCERTAIN), believed


def _by_value(capability: Capability) -> str:
    return capability.value


def _minutes(seconds: float) -> int:
    return max(1, round(seconds / 60))


def _ago(seconds: float) -> Label:
    if seconds < 60:
        return Label("baru saja", "just now")
    minutes = round(seconds / 60)
    if minutes < 90:
        return Label(f"{minutes} mnt lalu", f"{minutes} min ago")
    hours = round(seconds / 3600)
    if hours < 48:
        return Label(f"{hours} jam lalu", f"{hours} h ago")
    days = round(seconds / 86400)
    return Label(f"{days} hari lalu", f"{days} days ago")


def _travel(travel: TravelEstimate) -> Label:
    m = _minutes(travel.seconds)
    return Label(f"{m} mnt dari lokasi ({travel.method.id})",
                 f"{m} min from scene ({travel.method.en})")


def _unit_reason(entry: RankedUnit) -> Label:
    unit, q = entry.unit, entry.context
    kind, move = unit.type.label, _travel(entry.travel)
    parts_id = [f"{kind.id} tersedia, {move.id}"]
    parts_en = [f"{kind.en} available, {move.en}"]
    if entry.fit is Fit.ACCEPTED:
        names = "/".join(t.label.id for t in q.preferred)
        names_en = "/".join(t.label.en for t in q.preferred)
        parts_id.append(f"{names} lebih diutamakan untuk {q.triage.name}")
        parts_en.append(f"{names_en} preferred for {q.triage.name}")
    elif not entry.within_window:
        parts_id.append(f"di atas target {_minutes(q.window_s)} mnt")
        parts_en.append(f"beyond the {_minutes(q.window_s)} min target")
    if entry.note is not None:
        parts_id.append(_NOTES[entry.note].id)
        parts_en.append(_NOTES[entry.note].en)
    if unit.position_at is None or entry.origin is Origin.POST:
        parts_id.append("posisi pangkalan")
        parts_en.append("position: home base")
    elif entry.origin is not Origin.GPS:
        ago = _ago((q.now - unit.position_at).total_seconds())
        where = _ORIGINS[entry.origin]
        parts_id.append(f"{where.id} {ago.id}")
        parts_en.append(f"{where.en} {ago.en}")
    elif (age := (q.now - unit.position_at).total_seconds()) > q.stale_position_s:
        ago = _ago(age)
        parts_id.append(f"posisi {ago.id}")
        parts_en.append(f"position from {ago.en}")
    return Label("; ".join(parts_id), "; ".join(parts_en))


_NOTES = {
    UnitNote.ARREST_NEAREST: Label("henti jantung: unit terdekat dikirim lebih dulu",
                                   "cardiac arrest: the nearest unit goes first"),
    UnitNote.ARREST_ALS_TOO: Label("KIRIM JUGA: ALS untuk henti jantung (unit terdekat BLS)",
                                   "SEND AS WELL: ALS for cardiac arrest (the nearest is BLS)"),
    UnitNote.ALS_HELD: Label("ALS terakhir yang siaga, disimpan untuk MERAH: unit lain "
                             "memenuhi target",
                             "last available ALS, kept for MERAH: another unit meets the "
                             "target"),
}
_ORIGINS = {
    Origin.SCENE: Label("dari lokasi kejadian terakhir,", "at its last scene,"),
    Origin.HOSPITAL: Label("dari rumah sakit (serah terima),", "at the hospital (handover),"),
}


def _hospital_reason(entry: RankedHospital) -> Label:
    q = entry.context
    missing, bonus, bed, band = entry.missing, entry.preferred, entry.bed, entry.band
    has = [c for c in sorted(q.required, key=_by_value) if c in entry.hospital.capabilities]
    present = Label(", ".join(c.label.id for c in has), ", ".join(c.label.en for c in has))
    cap = Label(f"Ada {present.id}", f"Has {present.en}")
    if missing:
        cap = Label("Tidak ada " + ", ".join(c.label.id for c in missing),
                    "Lacks " + ", ".join(c.label.en for c in missing))
        if has:
            cap = _joined(cap, Label(f"ada {present.id}", f"has {present.en}"))
    if q.age is not None and q.age is not AgeGroup.ADULT:
        cap = Label(f"Pasien {q.age.label.id}: {cap.id}", f"Patient {q.age.label.en}: {cap.en}")
    if bonus:
        cap = Label(cap.id + " (+" + ", ".join(c.label.id for c in bonus) + ")",
                    cap.en + " (+" + ", ".join(c.label.en for c in bonus) + ")")
    if band is BedBand.DIVERTING:
        beds = Label("tidak menerima pasien (diversi)", "not accepting patients (diversion)")
    elif bed is None and not offers(entry.hospital.capabilities, q.bed_category):
        beds = Label(f"tidak ada tempat tidur {q.bed_category.label.id}",
                     f"no {q.bed_category.label.en} beds")
    elif bed is None:
        beds = Label(f"tempat tidur {q.bed_category.label.id} belum dilaporkan",
                     f"no {q.bed_category.label.en} bed report")
    else:
        ago = _ago((q.now - bed.reported_at).total_seconds())
        where = bed.category.label
        if bed.free > 0:
            beds = Label(f"{where.id} kosong {bed.free} (data {ago.id})",
                         f"{where.en}: {bed.free} free (reported {ago.en})")
        else:
            beds = Label(f"{where.id} penuh (data {ago.id})",
                         f"{where.en} full (reported {ago.en})")
        if band is BedBand.UNCERTAIN:
            beds = Label(beds.id + ", perlu konfirmasi", beds.en + ", confirm by phone")
    move = _travel(entry.travel)
    text = Label(f"{cap.id}; {beds.id}; {move.id}", f"{cap.en}; {beds.en}; {move.en}")
    if q.no_trauma_within_s is not None and Capability.TRAUMA not in entry.hospital.capabilities:
        m = _minutes(q.no_trauma_within_s)
        text = _joined(text, Label(f"tidak ada pusat trauma terjangkau dalam {m} mnt",
                                   f"no trauma centre within {m} min"))
    return text


def _joined(a: Label, b: Label) -> Label:
    return Label(f"{a.id}; {b.id}" if a.id else b.id, f"{a.en}; {b.en}" if a.en else b.en)
