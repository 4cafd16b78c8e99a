"""Radio tables: talkgroups and their members, transmissions, emergencies, texts, positions.

Rights are not stored per user: they follow from a talkgroup's agencies and a user's
role (see :mod:`ptt.talkgroup`). Only dynamic talkgroups (made for an incident) list
their members explicitly.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db import Base, UTCDateTime, utcnow


class TalkgroupRow(Base):
    __tablename__ = "talkgroups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    agencies: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Agencies whose officers may ask for the floor as imminent peril (dispatch roles always).
    peril_agencies: Mapped[list[str]] = mapped_column(JSON, default=list,
                                                      server_default=text("'[]'"))
    max_talk_seconds: Mapped[int] = mapped_column(Integer, default=60)
    queue_capacity: Mapped[int] = mapped_column(Integer, default=5)
    retention_days: Mapped[int] = mapped_column(Integer, default=30)
    dynamic: Mapped[bool] = mapped_column(Boolean, default=False)
    incident_ref: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)


class TalkgroupMemberRow(Base):
    __tablename__ = "talkgroup_members"

    talkgroup_id: Mapped[int] = mapped_column(
        ForeignKey("talkgroups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)


class TransmissionRow(Base):
    """One talk burst: who held the floor of which talkgroup, when, and how it ended.

    The recorder fills ``path``/``bytes`` when the burst was recorded; ``incident_ref``
    links a burst on an incident talkgroup to the incident.
    """

    __tablename__ = "transmissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    talkgroup: Mapped[str] = mapped_column(String(40), index=True)
    talker_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    call_type: Mapped[str] = mapped_column(String(20), default="normal")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    end_reason: Mapped[str | None] = mapped_column(String(30), default=None)
    duration_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    path: Mapped[str | None] = mapped_column(String(300), default=None)
    bytes: Mapped[int | None] = mapped_column(Integer, default=None)
    incident_ref: Mapped[str | None] = mapped_column(String(40), default=None, index=True)


class EmergencyRow(Base):
    __tablename__ = "emergencies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    talkgroup: Mapped[str] = mapped_column(String(40), index=True)
    raised_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: When the officer pressed the button; ``received_at`` when the server heard of it
    #: (later for an emergency the app kept while offline; NULL on rows from before).
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    cleared_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class TextMessageRow(Base):
    __tablename__ = "text_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    talkgroup: Mapped[str] = mapped_column(String(40), index=True)
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(String(1000))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class PositionRow(Base):
    """The last known position of a user (one row per user, overwritten)."""

    __tablename__ = "positions"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float, default=None)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
