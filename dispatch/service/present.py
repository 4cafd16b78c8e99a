"""Rows to read models (:mod:`dispatch.service.views`): no queries, no rules."""

from __future__ import annotations

from datetime import datetime

from dispatch.clinical import patient_group
from dispatch.domain import (
    TERMINAL,
    AssignmentStatus,
    Authority,
    BedCategory,
    CancelReason,
    Complaint,
    IncidentStatus,
    Source,
    Triage,
    UnitStatus,
    UnitType,
)
from dispatch.service.views import (
    AssignmentView,
    AuditView,
    BedView,
    HospitalRef,
    HospitalView,
    IncidentView,
    Place,
    RadioAlertView,
    Text,
    TimeChainView,
    UnitRef,
    UnitView,
)
from dispatch.store.models import (
    AssignmentRow,
    AuditEventRow,
    HospitalBedsRow,
    HospitalRow,
    IncidentRow,
    RadioAlertRow,
    UnitRow,
)
from dispatch.store.records import TIME_FIELDS, capabilities, unavailable


def _age_group(row: IncidentRow) -> str | None:
    group = patient_group(row.patient_age, row.patient_age_unit, Complaint[row.complaint])
    return group.value if group is not None else None


def incident_view(row: IncidentRow, place: Place) -> IncidentView:
    status = IncidentStatus[row.status]
    return IncidentView(
        id=row.id, number=row.number, status=status, status_label=Text.of(status.label),
        source=Source[row.source], caller_name=row.caller_name, caller_phone=row.caller_phone,
        address=row.address, landmark=row.landmark, place=place, lat=row.lat, lon=row.lon,
        location_approximate=row.location_approximate, complaint=Complaint[row.complaint],
        triage=Triage[row.triage], patients=row.patients, notes=row.notes,
        determinant=row.determinant, radio_alert_id=row.radio_alert_id,
        patient_age=row.patient_age, patient_age_unit=row.patient_age_unit,
        age_group=_age_group(row), cardiac_arrest=bool(row.cardiac_arrest),
        location_mismatch=row.location_mismatch,
        overdue_at=row.overdue_at,
        created_at=row.created_at, created_by=row.created_by, updated_at=row.updated_at,
        version=row.version,
    )


def unit_ref(row: UnitRow) -> UnitRef:
    return UnitRef(id=row.id, callsign=row.callsign, type=UnitType[row.unit_type])


def hospital_ref(row: HospitalRow) -> HospitalRef:
    return HospitalRef(id=row.id, code=row.code, name=row.name)


def assignment_view(
    row: AssignmentRow, number: str, unit: UnitRow, hospital: HospitalRow | None
) -> AssignmentView:
    status = AssignmentStatus[row.status]
    times = TimeChainView(**{name: getattr(row, name) for name in TIME_FIELDS})
    return AssignmentView(
        id=row.id, incident_id=row.incident_id, incident_number=number, unit=unit_ref(unit),
        hospital=hospital_ref(hospital) if hospital else None, status=status,
        status_label=Text.of(status.label), active=status not in TERMINAL,
        cancel_reason=CancelReason[row.cancel_reason] if row.cancel_reason else None,
        cancelled_by=row.cancelled_by, patients=row.patients,
        times=times, escalated_at=row.escalated_at, reminded_at=row.reminded_at,
        version=row.version,
    )


def unit_view(
    row: UnitRow, home: str | None, active: AssignmentRow | None, number: str | None
) -> UnitView:
    status = UnitStatus[row.status]
    return UnitView(
        id=row.id, callsign=row.callsign, type=UnitType[row.unit_type], status=status,
        status_label=Text.of(status.label), status_changed_at=row.status_changed_at,
        out_of_service_by=Authority[row.out_of_service_by] if row.out_of_service_by else None,
        lat=row.last_lat, lon=row.last_lon, position_at=row.last_position_at,
        position_source=row.last_position_source, home_kelurahan=home,
        crew_phones=list(row.crew_phones or []),
        assignment_id=active.id if active else None, incident_number=number,
        version=row.version,
    )


def bed_view(row: HospitalBedsRow, now: datetime) -> BedView:
    category = BedCategory[row.category]
    return BedView(
        category=category, label=Text.of(category.label), total=row.total, free=row.free,
        updated_at=row.updated_at,
        age_seconds=max(0.0, (now - row.updated_at).total_seconds()),
    )


def hospital_view(row: HospitalRow, beds: list[HospitalBedsRow], now: datetime) -> HospitalView:
    return HospitalView(
        id=row.id, code=row.code, name=row.name, hospital_class=row.hospital_class,
        address=row.address, lat=row.lat, lon=row.lon, phone=row.phone,
        capabilities=sorted(capabilities(row), key=lambda c: c.value),
        capabilities_unavailable=sorted(unavailable(row), key=lambda c: c.value),
        capabilities_note=row.capabilities_note or "",
        capabilities_changed_at=row.capabilities_changed_at, accepting=row.accepting,
        accepting_changed_at=row.accepting_changed_at,
        beds=[bed_view(b, now) for b in sorted(beds, key=lambda b: b.category)],
    )


def alert_view(row: RadioAlertRow) -> RadioAlertView:
    return RadioAlertView(
        id=row.id, talkgroup=row.talkgroup, talkgroup_name=row.talkgroup_name or row.talkgroup,
        user_id=row.user_id, username=row.username,
        display_name=row.display_name, unit=row.unit, lat=row.lat, lon=row.lon, at=row.at,
        received_at=row.received_at or row.at, status=row.status.lower(),
        incident_id=row.incident_id, handled_at=row.handled_at,
    )


def audit_view(row: AuditEventRow) -> AuditView:
    return AuditView(
        id=row.id, at=row.at, actor=row.actor, actor_user_id=row.actor_user_id,
        entity_type=row.entity_type, entity_id=row.entity_id, action=row.action,
        before=row.before, after=row.after,
    )
