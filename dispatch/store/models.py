"""Tables of dispatch: places, hospitals and beds, ambulances, incidents and their work.

Statuses, types and categories are stored as their enum *names* (strings, see
:mod:`dispatch.domain` rule 1) so that the pure cores in :mod:`dispatch` stay the only place
that knows what a value means.

Concurrency: ``units.status`` changes only through a conditional ``UPDATE ... WHERE status =
:expected`` and ``incidents``/``assignments``/``units`` carry a ``version`` bumped on every
write; a writer that finds the row changed under it gets no row back and gives up or retries
(see :mod:`dispatch.store.repo`). ``audit_events`` is append-only: the application never
updates or deletes a row and the migration adds triggers that refuse both.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db import Base, UTCDateTime, utcnow


class KecamatanRow(Base):
    __tablename__ = "kecamatan"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(80))


class KelurahanRow(Base):
    __tablename__ = "kelurahan"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    kecamatan_id: Mapped[int] = mapped_column(ForeignKey("kecamatan.id"))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    # Demo centres are estimates, not surveyed points; the console says so.
    approximate: Mapped[bool] = mapped_column(Boolean, default=True)


class HospitalRow(Base):
    __tablename__ = "hospitals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    hospital_class: Mapped[str] = mapped_column(String(2))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    kelurahan_id: Mapped[int | None] = mapped_column(ForeignKey("kelurahan.id"), default=None)
    address: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    capabilities: Mapped[list[str]] = mapped_column(JSON, default=list)
    accepting: Mapped[bool] = mapped_column(Boolean, default=True)
    phone: Mapped[str | None] = mapped_column(String(20), default=None)
    accepting_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # What the hospital itself says is out of action for now (CT down, no obstetrician
    # tonight): a subset of ``capabilities`` the ranking leaves out, with a note and a time.
    capabilities_unavailable: Mapped[list[str]] = mapped_column(
        JSON, default=list, server_default=text("'[]'"))
    capabilities_note: Mapped[str] = mapped_column(String(200), default="",
                                                   server_default="")
    capabilities_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime,
                                                                     default=None)


class HospitalBedsRow(Base):
    __tablename__ = "hospital_beds"
    __table_args__ = (UniqueConstraint("hospital_id", "category"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(20))
    total: Mapped[int] = mapped_column(Integer)
    free: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)


class UnitRow(Base):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    callsign: Mapped[str] = mapped_column(String(40), unique=True)
    unit_type: Mapped[str] = mapped_column(String(12))
    home_kelurahan_id: Mapped[int | None] = mapped_column(ForeignKey("kelurahan.id"))
    crew_phones: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="AVAILABLE")
    last_lat: Mapped[float | None] = mapped_column(Float, default=None)
    last_lon: Mapped[float | None] = mapped_column(Float, default=None)
    last_position_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_position_source: Mapped[str | None] = mapped_column(String(20), default=None)
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Who holds an OUT_OF_SERVICE (Authority name): who may put the unit back.
    out_of_service_by: Mapped[str | None] = mapped_column(String(12), default=None)


class IncidentCounterRow(Base):
    """The last sequence handed out per WIB day; bumped atomically (upsert ... returning)."""

    __tablename__ = "incident_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)  # YYYYMMDD (WIB)
    last: Mapped[int] = mapped_column(Integer)


class IncidentRow(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("day", "sequence"),
        Index("ix_incidents_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # PSC-YYYYMMDD-NNNN
    day: Mapped[str] = mapped_column(String(8))
    sequence: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(12))
    caller_name: Mapped[str] = mapped_column(String(120), default="")
    caller_phone: Mapped[str | None] = mapped_column(String(20), default=None)  # E.164
    address: Mapped[str] = mapped_column(String(300), default="")
    landmark: Mapped[str] = mapped_column(String(200), default="", server_default="")
    kelurahan_id: Mapped[int] = mapped_column(ForeignKey("kelurahan.id"))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    location_approximate: Mapped[bool] = mapped_column(Boolean, default=False)
    complaint: Mapped[str] = mapped_column(String(20))
    triage: Mapped[str] = mapped_column(String(10))
    patients: Mapped[int] = mapped_column(Integer, default=1)
    notes: Mapped[str] = mapped_column(Text, default="")
    determinant: Mapped[str | None] = mapped_column(String(20), default=None)
    # The patient's age as the caller gave it (dispatch.clinical rule 1); None: not known.
    patient_age: Mapped[int | None] = mapped_column(Integer, default=None)
    patient_age_unit: Mapped[str | None] = mapped_column(String(6), default=None)
    cardiac_arrest: Mapped[bool] = mapped_column(Boolean, default=False,
                                                 server_default=text("false"))
    # Coordinates contradicting the kelurahan (dispatch.locality): flagged, never refused.
    location_mismatch: Mapped[dict[str, object] | None] = mapped_column(JSON, default=None)
    status: Mapped[str] = mapped_column(String(20), default="NEW")
    radio_alert_id: Mapped[int | None] = mapped_column(Integer, default=None)
    # When the console was alarmed that no unit was sent in time (dispatch.queue).
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}


class AssignmentRow(Base):
    """One unit on one incident; the ``*_at`` columns are the NEMSIS-style time chain."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    hospital_id: Mapped[int | None] = mapped_column(ForeignKey("hospitals.id"), default=None)
    # How many of the incident's patients this unit carries (dispatch.casualty).
    patients: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    status: Mapped[str] = mapped_column(String(20), index=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(20), default=None)
    cancelled_by: Mapped[str | None] = mapped_column(String(64), default=None)  # actor name
    dispatched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    en_route_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    on_scene_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    transporting_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    at_hospital_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    handover_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    back_in_service_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    dispatched_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}


class AuditEventRow(Base):
    """One change to one entity, with the entity's full state before and after it.

    ``actor`` is a username, ``system`` (timers) or ``sms:+62...`` (a crew's reply);
    ``actor_user_id`` is set when a logged-in user acted.
    """

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    actor: Mapped[str] = mapped_column(String(80))
    entity_type: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[int] = mapped_column(Integer)
    incident_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    action: Mapped[str] = mapped_column(String(40))
    before: Mapped[dict[str, object] | None] = mapped_column(JSON, default=None)
    after: Mapped[dict[str, object] | None] = mapped_column(JSON, default=None)


class RadioAlertRow(Base):
    """An officer's PTT emergency, as it reached dispatch: open until converted or dismissed."""

    __tablename__ = "radio_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    talkgroup: Mapped[str] = mapped_column(String(40))
    #: The talkgroup's name as the radio had it (people read names, never codes).
    talkgroup_name: Mapped[str | None] = mapped_column(String(120), default=None)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(120))
    unit: Mapped[str | None] = mapped_column(String(40), default=None)
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    #: When the officer raised it; ``received_at`` when it reached the server (later for
    #: an emergency the app kept while offline; NULL on rows from before).
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    status: Mapped[str] = mapped_column(String(12), default="OPEN", index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), default=None)
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class SmsMessageRow(Base):
    """One SMS, sent or received, and what became of it (see :mod:`dispatch.sms.outbox`).

    The same rows are the console's SMS thread of an incident, the gateways' durable dedup
    store (``dedup_key`` and the ``outcome`` of the latest attempt, so a restart never pages a
    crew twice) and the queue of work: outbound rows ``queued``/``retrying`` and inbound rows
    ``received`` are picked up again after a restart. A provider's inbound id is unique per
    gateway (the partial index), so a webhook delivered twice is stored and applied once.
    """

    __tablename__ = "sms_messages"
    __table_args__ = (
        Index("uq_sms_messages_inbound", "gateway", "provider_id", unique=True,
              sqlite_where=text("direction = 'in'"), postgresql_where=text("direction = 'in'")),
        Index("ix_sms_messages_state_next", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    direction: Mapped[str] = mapped_column(String(3))  # out | in
    kind: Mapped[str] = mapped_column(String(12))  # dispatch | prearrival | reply | crew
    gateway: Mapped[str] = mapped_column(String(12))
    phone: Mapped[str] = mapped_column(String(20))  # E.164: the recipient, or the sender
    body: Mapped[str] = mapped_column(Text)
    parts: Mapped[int] = mapped_column(Integer)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), default=None,
                                                    index=True)
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"),
                                                      default=None)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), default=None)
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("sms_messages.id"), default=None)
    # Ours: out queued -> sending -> sent | retrying | failed | cancelled; in received ->
    # processing -> done (``result`` says how).
    state: Mapped[str] = mapped_column(String(12))
    # The node that took the row (``sending``, ``processing``) and until when it holds it:
    # past ``lease_until`` another node may take the row over (dispatch.sms.outbox rule 7).
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    result: Mapped[str | None] = mapped_column(String(24), default=None)
    dedup_key: Mapped[str | None] = mapped_column(String(80), unique=True, default=None)
    fingerprint: Mapped[str | None] = mapped_column(String(64), default=None)
    outcome: Mapped[str | None] = mapped_column(String(10), default=None)  # SendOutcome
    retryable: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    provider_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    provider_status: Mapped[str | None] = mapped_column(String(20), default=None)
    error_code: Mapped[str | None] = mapped_column(String(40), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
