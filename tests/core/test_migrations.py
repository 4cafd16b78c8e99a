"""The migrations build exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from kernel.db import create_engine
from siaga.migrate import pending, upgrade_async
from siaga.models import metadata


async def test_migrations_produce_the_models_schema(database_url: str) -> None:
    assert await pending(database_url)  # a new database has everything to do
    await upgrade_async(database_url)
    assert await pending(database_url) == set()

    def diff(conn: Connection) -> list[object]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == []


async def test_upgrade_twice_is_harmless(database_url: str) -> None:
    await upgrade_async(database_url)
    await upgrade_async(database_url)
    assert await pending(database_url) == set()
