"""What the service hands out: read models shared by the REST API and the console stream.

Enums go out as their lower-case wire values (:mod:`dispatch.domain` rule 1); what a person
reads goes out as a :class:`Text` with Bahasa Indonesia and English side by side. Times are
UTC ISO 8601; consoles convert them to WIB.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from dispatch.domain import (
    AssignmentStatus,
    Authority,
    BedCategory,
    CancelReason,
    Capability,
    Complaint,
    IncidentStatus,
    Label,
    Source,
    Triage,
    UnitStatus,
    UnitType,
)


class Text(BaseModel):
    """A user-facing text: ``id`` Bahasa Indonesia, ``en`` English."""

    id: str
    en: str

    @classmethod
    def of(cls, label: Label) -> Text:
        return cls(id=label.id, en=label.en)


class Place(BaseModel):
    kelurahan_code: str
    kelurahan: str
    kecamatan_code: str
    kecamatan: str


class IncidentView(BaseModel):
    id: int
    number: str
    status: IncidentStatus
    status_label: Text
    source: Source
    caller_name: str
    caller_phone: str | None
    address: str
    landmark: str
    place: Place
    lat: float
    lon: float
    location_approximate: bool
    complaint: Complaint
    triage: Triage
    patients: int
    notes: str
    determinant: str | None
    patient_age: int | None
    patient_age_unit: str | None
    age_group: str | None  # neonate, child, adult (dispatch.clinical); None: not known
    cardiac_arrest: bool
    #: Coordinates contradicting the kelurahan (dispatch.locality): ``kelurahan_code`` and
    #: ``kelurahan`` whose centre is nearest, ``from_chosen_m``, ``from_nearest_m``, ``label``.
    location_mismatch: dict[str, object] | None
    radio_alert_id: int | None
    overdue_at: datetime | None
    created_at: datetime
    created_by: str
    updated_at: datetime
    version: int


class TimeChainView(BaseModel):
    dispatched_at: datetime
    acknowledged_at: datetime | None
    en_route_at: datetime | None
    on_scene_at: datetime | None
    transporting_at: datetime | None
    at_hospital_at: datetime | None
    handover_at: datetime | None
    back_in_service_at: datetime | None
    cancelled_at: datetime | None


class UnitRef(BaseModel):
    id: int
    callsign: str
    type: UnitType


class HospitalRef(BaseModel):
    id: int
    code: str
    name: str


class AssignmentView(BaseModel):
    id: int
    incident_id: int
    incident_number: str
    unit: UnitRef
    hospital: HospitalRef | None
    status: AssignmentStatus
    status_label: Text
    active: bool
    cancel_reason: CancelReason | None
    cancelled_by: str | None
    patients: int
    times: TimeChainView
    escalated_at: datetime | None
    reminded_at: datetime | None
    version: int


class UnitView(BaseModel):
    id: int
    callsign: str
    type: UnitType
    status: UnitStatus
    status_label: Text
    status_changed_at: datetime | None
    out_of_service_by: Authority | None  # who may put it back: this authority or a higher
    lat: float | None
    lon: float | None
    position_at: datetime | None
    position_source: str | None
    home_kelurahan: str | None
    crew_phones: list[str]
    assignment_id: int | None
    incident_number: str | None
    version: int


class BedView(BaseModel):
    category: BedCategory
    label: Text
    total: int
    free: int
    updated_at: datetime
    age_seconds: float


class HospitalView(BaseModel):
    id: int
    code: str
    name: str
    hospital_class: str
    address: str
    lat: float
    lon: float
    phone: str | None
    capabilities: list[Capability]
    capabilities_unavailable: list[Capability]
    capabilities_note: str
    capabilities_changed_at: datetime | None
    accepting: bool
    accepting_changed_at: datetime | None
    beds: list[BedView]


class AuditView(BaseModel):
    id: int
    at: datetime
    actor: str
    actor_user_id: int | None
    entity_type: str
    entity_id: int
    action: str
    before: dict[str, object] | None
    after: dict[str, object] | None


class IncidentDetail(BaseModel):
    incident: IncidentView
    assignments: list[AssignmentView]
    unassigned: int  # patients no live assignment carries (dispatch.casualty)
    audit: list[AuditView]


class TravelView(BaseModel):
    seconds: float
    method: Text


class UnitRecommendation(BaseModel):
    rank: int
    unit: UnitRef
    fit: str
    within_window: bool
    travel: TravelView
    reason: Text
    origin: str = "gps"  # where it is ranked from: post, gps, scene, hospital
    #: arrest_nearest, arrest_als_too (send it as well), als_held (kept for MERAH), or None
    note: str | None = None


class FreeSoonView(BaseModel):
    """A busy unit expected free soon (shown when no suitable unit is available)."""

    unit: UnitRef
    status: UnitStatus
    free_in_s: float
    reason: Text


class HospitalRecommendation(BaseModel):
    rank: int
    hospital: HospitalRef
    missing: list[Capability]
    bed_band: str
    believed_free: float
    travel: TravelView
    reason: Text


class Recommendations(BaseModel):
    incident_id: int
    at: datetime
    units: list[UnitRecommendation]
    hospitals: list[HospitalRecommendation]
    no_unit_available: bool = False  # no suitable AVAILABLE unit: see ``free_soon``
    notice: Text | None = None
    free_soon: list[FreeSoonView] = []


class RadioAlertView(BaseModel):
    id: int
    talkgroup: str
    talkgroup_name: str
    user_id: int
    username: str
    display_name: str
    unit: str | None
    lat: float | None
    lon: float | None
    at: datetime
    #: When the alert reached the server: later than ``at`` for an emergency the officer's
    #: app kept while offline and sent on reconnect.
    received_at: datetime
    status: str
    incident_id: int | None
    handled_at: datetime | None


class CrewStatusResult(BaseModel):
    """What :meth:`DispatchService.apply_crew_status` did; ``changed`` False for a repeat."""

    changed: bool
    assignment: AssignmentView | None
    unit: UnitView
    events: list[str]
