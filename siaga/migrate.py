"""Schema migrations (Alembic), run the same way on SQLite and PostgreSQL.

Feature packages keep their own migration branches in ``siaga/migrations/versions``;
``upgrade`` applies every head, so parallel branches need no merge revision.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from kernel.db import create_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Bring the database at ``url`` to every head. Blocking: call it off the loop."""
    command.upgrade(alembic_config(url), "heads")


async def pending(url: str) -> set[str]:
    """The heads not yet applied (empty when the schema is current)."""
    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    engine = create_engine(url)

    def current(conn: Connection) -> set[str]:
        return set(MigrationContext.configure(conn).get_current_heads())

    try:
        async with engine.connect() as conn:
            applied = await conn.run_sync(current)
    finally:
        await engine.dispose()
    return heads - applied


async def upgrade_async(url: str) -> None:
    await asyncio.to_thread(upgrade, url)
