"""Reference tables of dispatch: places, hospitals and their beds, ambulances.

Statuses and types are stored as their enum names (strings) so that the pure cores in
:mod:`dispatch` stay the only place that knows what a value means.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siaga.db import Base, UTCDateTime, utcnow


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
