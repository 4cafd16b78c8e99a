"""Retention: the pure rule of what is expired, and the purge that removes exactly that,
files and rows together (in the server's task and from ``siaga recordings purge``)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update

from kernel.identity import User
from ptt.errors import UsageError
from ptt.retention import Recorded, RetentionPolicy
from ptt.server.recorder import purge_expired
from ptt.store.models import TalkgroupRow, TransmissionRow
from tests.conftest import App

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def at(days_ago: float) -> datetime:
    return NOW - timedelta(days=days_ago)


class TestPolicy:
    policy = RetentionPolicy({"satpolpp": 7, "dishub": 0}, default_days=30)

    def test_each_talkgroup_keeps_its_own_days(self) -> None:
        items = [Recorded(1, "satpolpp", at(8)), Recorded(2, "satpolpp", at(6)),
                 Recorded(3, "gabungan", at(31)), Recorded(4, "gabungan", at(29)),
                 Recorded(5, "dishub", at(3650))]
        assert [i.id for i in self.policy.expired(items, NOW)] == [1, 3]

    def test_the_boundary_is_kept(self) -> None:
        assert not self.policy.is_expired(Recorded(1, "satpolpp", at(7)), NOW)
        assert self.policy.is_expired(
            Recorded(1, "satpolpp", at(7) - timedelta(microseconds=1)), NOW)

    def test_zero_days_keeps_forever_and_negative_days_are_refused(self) -> None:
        assert self.policy.cutoff("dishub", NOW) is None
        with pytest.raises(UsageError):
            RetentionPolicy({"satpolpp": -1})
        with pytest.raises(UsageError):
            RetentionPolicy(default_days=-5)

    def test_naive_times_are_refused(self) -> None:
        with pytest.raises(UsageError):
            self.policy.expired([], NOW.replace(tzinfo=None))
        with pytest.raises(UsageError):
            self.policy.is_expired(Recorded(1, "x", NOW.replace(tzinfo=None)), NOW)

    def test_candidates_come_from_the_shortest_finite_retention(self) -> None:
        assert self.policy.candidates_before(NOW) == at(7)
        assert RetentionPolicy({"a": 0}, default_days=0).candidates_before(NOW) is None

    @given(
        days=st.dictionaries(st.sampled_from("abc"), st.integers(0, 60)),
        default=st.integers(0, 60),
        ages=st.lists(st.tuples(st.sampled_from("abcd"), st.floats(0, 90)), max_size=30),
        later=st.floats(0, 30),
    )
    def test_expiry_only_grows_with_time_and_candidates_cover_it(
        self, days: dict[str, int], default: int, ages: list[tuple[str, float]], later: float
    ) -> None:
        policy = RetentionPolicy(days, default)
        items = [Recorded(i, tg, at(age)) for i, (tg, age) in enumerate(ages)]
        now_expired = {i.id for i in policy.expired(items, NOW)}
        later_expired = {i.id for i in policy.expired(items, NOW + timedelta(days=later))}
        assert now_expired <= later_expired
        before = policy.candidates_before(NOW)
        for item in items:
            if item.id in now_expired:
                assert before is not None and item.started_at < before
                assert policy.days_for(item.talkgroup) > 0


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
