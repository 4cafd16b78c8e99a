"""``siaga hospital``: a hospital's pre-arrival phone set and cleared from the command line,
on a migrated demo database; mistakes end in one line and status 2."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from dispatch.store.models import AuditEventRow, HospitalRow
from kernel.db import create_engine, session_factory
from siaga.demo.loader import load_demo
from siaga.migrate import upgrade_async
from tests.core.test_config import run_cli


async def rows(url: str) -> tuple[str | None, list[tuple[str, str]]]:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as s:
            phone = (await s.execute(select(HospitalRow.phone).where(
                HospitalRow.code == "rsud-saleh"))).scalar_one()
            audit = [(a.action, a.actor) for a in (await s.execute(
                select(AuditEventRow).where(AuditEventRow.entity_type == "hospital")
                .order_by(AuditEventRow.id))).scalars()]
        return phone, audit
    finally:
        await engine.dispose()


async def test_a_hospital_phone_from_the_command_line(sqlite_url: str, tmp_path: Path) -> None:
    await upgrade_async(sqlite_url)
    engine = create_engine(sqlite_url)
    await load_demo(session_factory(engine))
    await engine.dispose()
    env = {"SIAGA_DATABASE_URL": sqlite_url, "SIAGA_DATA_DIR": str(tmp_path / "var")}

    done = run_cli("hospital", "phone", "rsud-saleh", "0335-421118", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "hospital rsud-saleh: phone +62335421118"
    assert await rows(sqlite_url) == ("+62335421118", [("phone_set", "cli")])

    listed = run_cli("hospital", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert any(line.split()[:3] == ["rsud-saleh", "+62335421118", "accepting"]
               for line in listed.stdout.splitlines())

    for args, says in ((("rsud-saleh", "12"), "Not a valid phone number: '12'"),
                       (("rs-nowhere", "0335-421118"), "No hospital rs-nowhere"),
                       (("rsud-saleh",), "give a number, or --clear")):
        refused = run_cli("hospital", "phone", *args, env=env)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        assert refused.stderr.startswith("siaga: ") and says in refused.stderr, refused.stderr

    cleared = run_cli("hospital", "phone", "rsud-saleh", "--clear", env=env)
    assert cleared.returncode == 0
    assert cleared.stdout.strip() == "hospital rsud-saleh: phone removed"
    assert (await rows(sqlite_url))[0] is None
