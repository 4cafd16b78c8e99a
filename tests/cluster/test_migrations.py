"""Nodes of a cluster started at once migrate one after the other (an advisory lock)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from siaga.migrate import pending
from tests.conftest import fresh_database
from tests.processes import base_env, run


async def test_three_nodes_upgrading_one_database_at_once(tmp_path: Path) -> None:
    async with fresh_database("postgresql", tmp_path) as url:
        env = base_env(database_url=url)
        # Without the lock the second CREATE TYPE/TABLE of a race fails the process.
        await asyncio.gather(*(run(env, "db", "upgrade") for _ in range(3)))
        assert await pending(url) == set()
