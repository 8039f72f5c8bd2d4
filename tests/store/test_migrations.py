"""The schema is created and migrated at start, by any number of instances at once."""

from __future__ import annotations

import asyncio

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from bot.store import SqlStore
from bot.store.sql import _MIGRATIONS

from .factories import make_step


def _head() -> str:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


async def _schema(database_url: str) -> tuple[set[str], list[str]]:
    def look(conn: Connection) -> tuple[set[str], list[str]]:
        tables = set(inspect(conn).get_table_names())
        versions = list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        return tables, versions

    store = SqlStore.connect(database_url)  # connect(), not open(): it must not migrate
    try:
        return await store.run_in_transaction(look)
    finally:
        await store.close()


async def test_start_creates_the_schema_at_the_newest_revision(database_url: str) -> None:
    store = await SqlStore.open(database_url)
    await store.close()
    tables, versions = await _schema(database_url)
    assert {"steps", "jobs", "alembic_version"} <= tables
    assert versions == [_head()]


async def test_instances_starting_together_migrate_once_without_clashing(
    database_url: str,
) -> None:
    stores = await asyncio.gather(*(SqlStore.open(database_url) for _ in range(4)))
    for store in stores:
        await store.close()
    _, versions = await _schema(database_url)
    assert versions == [_head()]


async def test_a_restart_on_a_migrated_database_keeps_its_rows(database_url: str) -> None:
    store = await SqlStore.open(database_url)
    step = make_step()
    await store.add_steps([step], 1.0)
    await store.close()
    again = await SqlStore.open(database_url)
    try:
        assert await again.get(step.step_id) is not None
    finally:
        await again.close()
