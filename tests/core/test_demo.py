"""The Kota Probolinggo demo data: complete, and loading it twice changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dispatch.store.models import HospitalRow, KecamatanRow, KelurahanRow, UnitRow
from kernel.db import create_engine, session_factory
from kernel.identity import User
from ptt.store.models import TalkgroupRow
from siaga.demo.loader import load_demo
from siaga.migrate import upgrade_async

TABLES = (KecamatanRow, KelurahanRow, HospitalRow, UnitRow, TalkgroupRow, User)


async def _counts(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as s:
        return {m.__tablename__: (await s.execute(select(func.count()).select_from(m))).scalar_one()
                for m in TABLES}


async def test_demo_load_is_complete_and_idempotent(database_url: str) -> None:
    await upgrade_async(database_url)
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    try:
        first = await load_demo(sessions)
        assert first.added["kecamatan"] == 5
        assert first.added["kelurahan"] == 29
        assert first.added["units"] == 29
        assert first.added["hospitals"] == 2
        assert first.added["talkgroups"] == 4
        assert first.added["users"] == 7
        before = await _counts(sessions)
        second = await load_demo(sessions)
        assert second.total == 0
        assert await _counts(sessions) == before
        async with sessions() as s:
            codes = set((await s.execute(select(TalkgroupRow.code))).scalars())
            phones = [p for u in (await s.execute(select(UnitRow))).scalars()
                      for p in u.crew_phones]
        assert codes == {"satpolpp", "dishub", "gabungan", "psc119"}
        assert all(p.startswith("+62") for p in phones) and len(set(phones)) == 29
    finally:
        await engine.dispose()
