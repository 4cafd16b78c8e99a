"""Radio tables: talkgroups and their explicit members.

Rights are not stored per user: they follow from a talkgroup's agencies and a user's
role (see :mod:`ptt.talkgroup`). Only dynamic talkgroups (made for an incident) list
their members explicitly.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from siaga.db import Base, UTCDateTime, utcnow


class TalkgroupRow(Base):
    __tablename__ = "talkgroups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    agencies: Mapped[list[str]] = mapped_column(JSON, default=list)
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
