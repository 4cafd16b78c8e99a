"""Retention: the purge removes exactly what is expired, files and rows together (in the
server's task and from ``siaga recordings purge``); the rule itself is tested in
tests/ptt/test_retention.py."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from kernel.identity import User
from ptt.server.recorder import purge_expired
from ptt.store.models import TalkgroupRow, TransmissionRow
from tests.conftest import App

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def at(days_ago: float) -> datetime:
    return NOW - timedelta(days=days_ago)


async def seed(app: App, root: Path) -> dict[str, int]:
    """Rows (and files for most) on talkgroups with 7 days, forever, the default 30, and a
    removed talkgroup; named by what purge must do with them."""
    plan = {  # name: (talkgroup, days ago, has a file)
        "satpol_old": ("satpolpp", 8, True), "satpol_new": ("satpolpp", 6, True),
        "dishub_ancient": ("dishub", 400, True), "gabungan_old": ("gabungan", 31, True),
        "gabungan_new": ("gabungan", 29, False), "removed_old": ("insiden-1", 45, True),
        "unrecorded_old": ("satpolpp", 9, False), "file_gone": ("satpolpp", 10, True),
    }
    ids: dict[str, int] = {}
    async with app.runtime.sessions() as s, s.begin():
        await s.execute(update(TalkgroupRow).where(TalkgroupRow.code == "satpolpp")
                        .values(retention_days=7))
        await s.execute(update(TalkgroupRow).where(TalkgroupRow.code == "dishub")
                        .values(retention_days=0))
        talker = (await s.execute(select(User.id).where(User.username == "satpol1"))).scalar()
        for name, (tg, days, has_file) in plan.items():
            row = TransmissionRow(talkgroup=tg, talker_id=talker, started_at=at(days))
            s.add(row)
            await s.flush()
            if has_file:
                row.path = f"{row.started_at:%Y/%m/%d}/{row.id}.opus"
                (root / row.path).parent.mkdir(parents=True, exist_ok=True)
                (root / row.path).write_bytes(b"OggS" + bytes(100))
            ids[name] = row.id
    (root / f"{at(10):%Y/%m/%d}/{ids['file_gone']}.opus").unlink()
    return ids


async def remaining(app: App) -> set[int]:
    async with app.runtime.sessions() as s:
        return set((await s.execute(select(TransmissionRow.id))).scalars())


async def test_purge_removes_exactly_what_is_expired(sqlite_app: App, tmp_path: Path) -> None:
    root = tmp_path / "recordings"
    ids = await seed(sqlite_app, root)
    files_before = {p for p in root.rglob("*.opus")}
    dry = await purge_expired(sqlite_app.runtime.sessions, root, NOW, dry_run=True)
    assert (dry.rows, await remaining(sqlite_app)) == (5, set(ids.values()))
    report = await purge_expired(sqlite_app.runtime.sessions, root, NOW)
    gone = {"satpol_old", "gabungan_old", "removed_old", "unrecorded_old", "file_gone"}
    assert await remaining(sqlite_app) == {ids[n] for n in ids.keys() - gone}
    assert (report.rows, report.files, report.bytes) == (5, 3, 3 * 104)
    kept = {p for p in root.rglob("*.opus")}
    assert {int(p.stem) for p in files_before - kept} == {
        ids[n] for n in ("satpol_old", "gabungan_old", "removed_old")}
    assert not (root / f"{at(45):%Y/%m/%d}").exists()  # emptied directories go too
    again = await purge_expired(sqlite_app.runtime.sessions, root, NOW)
    assert again.rows == 0


async def test_a_file_that_cannot_be_deleted_keeps_its_row(
    sqlite_app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "recordings"
    ids = await seed(sqlite_app, root)
    stuck = f"{ids['satpol_old']}.opus"
    unlink = Path.unlink

    def refuse(self: Path, missing_ok: bool = False) -> None:
        if self.name == stuck:
            raise PermissionError(13, "Permission denied")
        unlink(self, missing_ok)

    monkeypatch.setattr(Path, "unlink", refuse)
    report = await purge_expired(sqlite_app.runtime.sessions, root, NOW)
    assert report.rows == 4 and len(report.errors) == 1 and stuck in report.errors[0]
    assert ids["satpol_old"] in await remaining(sqlite_app)


async def test_the_cli_purges(sqlite_app: App, sqlite_url: str, tmp_path: Path) -> None:
    settings = sqlite_app.runtime.settings
    ids = await seed(sqlite_app, settings.recordings_path)
    env = {**os.environ, "SIAGA_DATABASE_URL": sqlite_url,
           "SIAGA_DATA_DIR": str(settings.data_dir), "SIAGA_SECRET_KEY": "x" * 40}
    cmd = [sys.executable, "-c", "from siaga.cli import main; main()", "recordings", "purge"]
    dry = subprocess.run([*cmd, "--dry-run"], capture_output=True, text=True, env=env,
                         timeout=60)
    assert dry.returncode == 0 and "would purge" in dry.stdout
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "purged" in done.stdout
    # The CLI uses the real clock: everything seeded relative to NOW that is old enough.
    left = await remaining(sqlite_app)
    assert ids["dishub_ancient"] in left and ids["satpol_old"] not in left
