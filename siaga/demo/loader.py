"""``siaga demo load``: insert the Kota Probolinggo demo data, idempotently.

Every row is looked up by its natural key (code, username, callsign) and inserted only
when missing; existing rows, including changes made while using the demo, are left
alone. Running it twice changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dispatch.store.models import (
    HospitalBedsRow,
    HospitalRow,
    KecamatanRow,
    KelurahanRow,
    UnitRow,
)
from kernel.db import Base, transaction
from kernel.identity import Agency, AgencyKind, Role, add_user, get_user
from ptt.store.models import TalkgroupRow
from siaga.demo import data

Row = TypeVar("Row", bound=Base)


@dataclass
class LoadReport:
    added: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str) -> None:
        self.added[kind] = self.added.get(kind, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.added.values())


async def _ensure(
    session: AsyncSession, report: LoadReport, model: type[Row], key: ColumnElement[bool],
    **values: Any,
) -> Row:
    """The row matching ``key``, inserted from ``values`` when there is none."""
    found = (await session.execute(select(model).where(key))).scalar_one_or_none()
    if found is not None:
        return found
    row = model(**values)
    session.add(row)
    await session.flush()
    report.count(model.__tablename__)
    return row


async def load_demo(sessions: async_sessionmaker[AsyncSession]) -> LoadReport:
    report = LoadReport()
    async with transaction(sessions) as s:
        agencies: dict[str, Agency] = {}
        for code, name, kind in data.AGENCIES:
            agencies[code] = await _ensure(s, report, Agency, Agency.code == code,
                                           code=code, name=name, kind=AgencyKind(kind))
        kelurahan: dict[str, KelurahanRow] = {}
        for kec_code, (kec_name, members) in data.KECAMATAN.items():
            kec = await _ensure(s, report, KecamatanRow, KecamatanRow.code == kec_code,
                                code=kec_code, name=kec_name)
            for name, lat, lon in members:
                kelurahan[name] = await _ensure(
                    s, report, KelurahanRow, KelurahanRow.code == data.slug(name),
                    code=data.slug(name), name=name, kecamatan_id=kec.id, lat=lat, lon=lon,
                    approximate=True,
                )
        for (code, name, klass, agency, kel, address, lat, lon, caps,
             beds) in data.HOSPITALS:
            hospital = await _ensure(
                s, report, HospitalRow, HospitalRow.code == code,
                code=code, name=name, hospital_class=klass, agency_id=agencies[agency].id,
                kelurahan_id=kelurahan[kel].id, address=address, lat=lat, lon=lon,
                capabilities=list(caps),
            )
            for category, (total, free) in beds.items():
                await _ensure(
                    s, report, HospitalBedsRow,
                    (HospitalBedsRow.hospital_id == hospital.id)
                    & (HospitalBedsRow.category == category),
                    hospital_id=hospital.id, category=category, total=total, free=free,
                )
        index = 0
        for _kec_name, members in data.KECAMATAN.values():
            for name, lat, lon in members:
                callsign = data.ambulance_callsign(name)
                await _ensure(
                    s, report, UnitRow, UnitRow.callsign == callsign,
                    callsign=callsign, unit_type="ALS" if name in data.ALS_KELURAHAN else "BLS",
                    home_kelurahan_id=kelurahan[name].id, crew_phones=[data.crew_phone(index)],
                    status="AVAILABLE", last_lat=lat, last_lon=lon,
                    last_position_source="home_post",
                )
                index += 1
        for code, name, tg_agencies in data.TALKGROUPS:
            await _ensure(s, report, TalkgroupRow, TalkgroupRow.code == code,
                          code=code, name=name, agencies=list(tg_agencies))
        for username, display, role, agency, unit, phone in data.USERS:
            if await get_user(s, username) is None:
                await add_user(
                    s, username=username, password=data.DEMO_PASSWORD, role=Role(role),
                    agency_code=agency, display_name=display, unit_callsign=unit,
                    phone=phone,
                )
                report.count("users")
    return report
