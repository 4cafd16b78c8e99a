"""Response-time reports and the EIDO export: pure functions over stored time chains.

Rules:

1. The intervals of an incident (seconds; ``None`` when a stamp is missing, never guessed):

   - **call → dispatch**: incident recorded → first unit dispatched (any unit, even one later
     cancelled: that is when the PSC acted);
   - **dispatch → on scene**: for the first unit to reach the scene, its own dispatch → its
     arrival (the NFPA 1710 response interval);
   - **on scene → at hospital**: for the first unit to reach a hospital with the patient, its
     arrival on scene → its arrival at the hospital.

   A status a crew skipped has no stamp (:mod:`dispatch.lifecycle` rule 3), so the interval
   that needs it is ``None`` rather than a fabricated figure.
2. Percentiles are nearest-rank (the smallest value with at least ``q`` of the values at or
   below it): every reported figure is one that really happened, and p90 of ten calls is the
   ninth slowest, as NFPA's "90% of calls" reads.
3. Days are WIB calendar days (UTC+7), the day a dispatcher would name. A report's bounds
   are read the same way (:func:`period_bound`): a date is a whole WIB day (``since`` from
   its first moment, ``until`` to its end), a date and time without a zone is WIB, one with
   a zone (``Z``, ``+07:00``) is that moment.
4. The EIDO export follows the component shape of NENA's Emergency Incident Data Object (each
   component has an identifier and a last-update time stamp). It is EIDO-*style*: field names
   follow NENA-STA-021 where a counterpart exists; the mapping is in ``docs/dispatch.md``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from dispatch.domain import TimeChain

WIB = timezone(timedelta(hours=7), "WIB")
STAMPS = tuple(f.name for f in dataclasses.fields(TimeChain))
INTERVALS = ("call_to_dispatch", "dispatch_to_scene", "scene_to_hospital")


@dataclass(frozen=True, slots=True)
class IncidentTimes:
    """What the reports need of one incident: when it was recorded and its units' chains."""

    incident_id: int
    number: str
    kecamatan: str
    triage: str
    status: str
    created_at: datetime
    chains: tuple[TimeChain, ...]


@dataclass(frozen=True, slots=True)
class Intervals:
    incident_id: int
    number: str
    kecamatan: str
    triage: str
    status: str
    created_at: datetime
    day: date
    call_to_dispatch: float | None
    dispatch_to_scene: float | None
    scene_to_hospital: float | None

    def get(self, name: str) -> float | None:
        value: float | None = getattr(self, name)
        return value


@dataclass(frozen=True, slots=True)
class Stat:
    n: int
    p50: float | None
    p90: float | None


@dataclass(frozen=True, slots=True)
class Summary:
    """One group (a kecamatan, a day): incident count and each interval's n, p50, p90."""

    group: str
    incidents: int
    stats: dict[str, Stat]


def wib_day(at: datetime) -> date:
    return at.astimezone(WIB).date()


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def period_bound(text: str, *, end: bool) -> datetime:
    """A ``since`` (``end`` False) or ``until`` (``end`` True, exclusive) bound (rule 3);
    ValueError saying what is wrong with anything else."""
    value = text.strip()
    if _DATE.fullmatch(value):
        day = date.fromisoformat(value)  # ValueError for 2026-02-30
        start = datetime(day.year, day.month, day.day, tzinfo=WIB)
        try:
            return start + timedelta(days=1) if end else start
        except OverflowError:
            raise ValueError(f"date out of range: {text!r}") from None
    if not value or not value[:4].isdigit() or len(value) < 16:  # at least YYYY-MM-DDTHH:MM
        raise ValueError(f"not a date (YYYY-MM-DD) or date and time: {text!r}")
    at = datetime.fromisoformat(value)
    return at.replace(tzinfo=WIB) if at.tzinfo is None else at


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def intervals(times: IncidentTimes) -> Intervals:
    """Rule 1."""
    chains = times.chains
    first_dispatch = min((c.dispatched_at for c in chains), default=None)
    arrived = [c for c in chains if c.on_scene_at is not None]
    first_on_scene = min(arrived, key=lambda c: c.on_scene_at or c.dispatched_at, default=None)
    delivered = [c for c in chains if c.at_hospital_at is not None]
    first_delivery = min(delivered, key=lambda c: c.at_hospital_at or c.dispatched_at,
                         default=None)
    return Intervals(
        incident_id=times.incident_id, number=times.number, kecamatan=times.kecamatan,
        triage=times.triage, status=times.status, created_at=times.created_at,
        day=wib_day(times.created_at),
        call_to_dispatch=_seconds(times.created_at, first_dispatch),
        dispatch_to_scene=_seconds(first_on_scene.dispatched_at, first_on_scene.on_scene_at)
        if first_on_scene else None,
        scene_to_hospital=_seconds(first_delivery.on_scene_at, first_delivery.at_hospital_at)
        if first_delivery else None,
    )


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (rule 2); ``None`` for no values."""
    if not 0 < q <= 1:
        raise ValueError("q must be in (0, 1]")
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def summarize(rows: Iterable[Intervals], key: Callable[[Intervals], str]) -> list[Summary]:
    """p50/p90 of each interval per group, groups in sorted order."""
    groups: dict[str, list[Intervals]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    out = []
    for group in sorted(groups):
        members = groups[group]
        stats = {}
        for name in INTERVALS:
            values = [v for r in members if (v := r.get(name)) is not None]
            stats[name] = Stat(len(values), percentile(values, 0.5), percentile(values, 0.9))
        out.append(Summary(group, len(members), stats))
    return out


def by_kecamatan(rows: Iterable[Intervals]) -> list[Summary]:
    return summarize(rows, lambda r: r.kecamatan)


def by_day(rows: Iterable[Intervals]) -> list[Summary]:
    return summarize(rows, lambda r: r.day.isoformat())


CSV_COLUMNS = ("number", "day_wib", "kecamatan", "triage", "status", "created_at",
               *(f"{name}_s" for name in INTERVALS))


def to_csv(rows: Iterable[Intervals]) -> str:
    """One line per incident; empty cells where an interval is unknown (rule 1)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        values = [r.get(name) for name in INTERVALS]
        writer.writerow([r.number, r.day.isoformat(), r.kecamatan, r.triage, r.status,
                         r.created_at.isoformat(),
                         *("" if v is None else f"{v:.1f}" for v in values)])
    return buffer.getvalue()


# --- EIDO-style export (rule 4) -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EidoIncident:
    id: int
    number: str
    status: str
    source: str
    complaint: str
    complaint_text: str
    triage: str
    patients: int
    caller_name: str
    caller_phone: str | None
    address: str
    kelurahan: str
    kecamatan: str
    lat: float
    lon: float
    approximate: bool
    notes: str
    determinant: str | None
    created_at: datetime
    created_by: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class EidoUnit:
    assignment_id: int
    callsign: str
    unit_type: str
    status: str
    times: TimeChain
    hospital: str | None
    updated_at: datetime


def _ts(at: datetime) -> str:
    return at.astimezone(WIB).isoformat()


def _last(chain: TimeChain) -> datetime:
    stamps: list[datetime] = [v for f in STAMPS if (v := getattr(chain, f)) is not None]
    return max(stamps)


def eido(incident: EidoIncident, units: Sequence[EidoUnit], agency: str) -> dict[str, Any]:
    """The incident as one EIDO-style JSON object (rule 4)."""
    ref = f"urn:siaga:incident:{incident.number}"
    loc, call = f"loc-{incident.id}", f"call-{incident.id}"
    resources = [
        {
            "componentIdentifier": f"res-{u.assignment_id}",
            "lastUpdateTimeStamp": _ts(max(u.updated_at, _last(u.times))),
            "emergencyResourceTypeCommonRegistryText": "Ambulance",
            "resourceIdentifier": u.callsign,
            "resourceCapabilityText": u.unit_type,
            "unitStatusInternal": u.status,
            "destinationText": u.hospital,
            "timeStamps": {name: _ts(v) for name in STAMPS
                           if (v := getattr(u.times, name)) is not None},
        }
        for u in units
    ]
    updated = max([incident.updated_at, *(max(u.updated_at, _last(u.times)) for u in units)])
    persons = [{
        "componentIdentifier": f"person-caller-{incident.id}",
        "lastUpdateTimeStamp": _ts(incident.updated_at),
        "personRoleRegistryText": "Caller",
        "personName": incident.caller_name or None,
        "callbackNumber": incident.caller_phone,
    }, {
        "componentIdentifier": f"person-patients-{incident.id}",
        "lastUpdateTimeStamp": _ts(incident.updated_at),
        "personRoleRegistryText": "Patient",
        "personCount": incident.patients,
        "triageCategoryText": incident.triage,
    }]
    doc: dict[str, Any] = {
        "eidoMessageIdentifier": f"{ref}:{int(updated.timestamp())}",
        "lastUpdateTimeStamp": _ts(updated),
        "incidentComponent": {
            "componentIdentifier": f"inc-{incident.id}",
            "lastUpdateTimeStamp": _ts(incident.updated_at),
            "incidentTrackingIdentifier": ref,
            "incidentTypeCommonRegistryText": "Medical",
            "incidentTypeInternalCode": incident.complaint,
            "incidentTypeInternalText": incident.complaint_text,
            "incidentStatusInternalText": incident.status,
            "determinantCode": incident.determinant,
            "callReference": call,
            "locationReference": loc,
            "createdTimeStamp": _ts(incident.created_at),
        },
        "callComponent": [{
            "componentIdentifier": call,
            "lastUpdateTimeStamp": _ts(incident.created_at),
            "callTypeInternalText": incident.source,
            "callStartTimeStamp": _ts(incident.created_at),
            "calltakerAgentIdentifier": incident.created_by,
            "callbackNumber": incident.caller_phone,
        }],
        "locationComponent": [{
            "componentIdentifier": loc,
            "lastUpdateTimeStamp": _ts(incident.updated_at),
            "civicAddress": {"country": "ID", "A3": "Kota Probolinggo",
                             "A4": incident.kecamatan, "A5": incident.kelurahan,
                             "freeText": incident.address},
            "point": {"latitude": incident.lat, "longitude": incident.lon,
                      "approximate": incident.approximate},
        }],
        "personComponent": persons,
        "emergencyResourceComponent": resources,
        "agencyComponent": [{
            "componentIdentifier": "agency-psc119",
            "lastUpdateTimeStamp": _ts(incident.created_at),
            "agencyName": agency,
            "agencyTypeCommonRegistryText": "EMS",
        }],
        "notesComponent": [{
            "componentIdentifier": f"note-{incident.id}",
            "lastUpdateTimeStamp": _ts(incident.updated_at),
            "noteText": incident.notes,
        }] if incident.notes else [],
    }
    return doc
