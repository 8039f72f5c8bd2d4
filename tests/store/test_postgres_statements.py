"""PostgreSQL's lone statements (the webhook's batch of new steps): one transaction each,
on an asyncpg connection of their own, and a server that dropped it does not fail a webhook."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from bot.store import SqlStore
from bot.store.database import PostgresDatabase

from .databases import _asyncpg_dsn, _with_database, opened_store
from .factories import make_received

NOW = 1_000.0


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[SqlStore]:
    async with opened_store(postgres_url) as opened:
        yield opened


async def _backends(dsn: str, *, end: bool) -> int:
    """How many other sessions are open on this database; ends them if `end`."""
    admin = await asyncpg.connect(dsn)
    try:
        action = "pg_terminate_backend(pid)" if end else "pid"
        rows = await admin.fetch(
            f"SELECT {action} FROM pg_stat_activity "  # noqa: S608 - one of two constants
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return len(rows)
    finally:
        await admin.close()


async def test_a_batch_is_stored_by_one_statement_outside_any_open_transaction(
    store: SqlStore, postgres_url: str
) -> None:
    database = store._db
    assert isinstance(database, PostgresDatabase)

    assert await store.add_deliveries([make_received("s1"), make_received("s2")], NOW) == [
        True,
        True,
    ]

    # Committed on its own: another connection sees both rows at once.
    admin = await asyncpg.connect(_asyncpg_dsn(postgres_url))
    try:
        stored = await admin.fetchval("SELECT count(*) FROM steps")
    finally:
        await admin.close()
    assert stored == 2
    # On the one connection kept for these statements, still open for the next batch.
    connection = database._statements
    assert connection is not None
    assert not connection.is_closed()
    assert not connection.is_in_transaction()


async def test_a_statement_abandoned_half_way_is_not_followed_on_its_connection(
    store: SqlStore,
) -> None:
    database = store._db
    assert isinstance(database, PostgresDatabase)
    assert await store.add_deliveries([make_received("first")], NOW) == [True]
    first = database._statements

    slow = asyncio.create_task(database.statement("SELECT pg_sleep(5)"))
    await asyncio.sleep(0.2)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow

    # Its answer could still arrive: the next batch goes out on a new connection.
    assert await store.add_deliveries([make_received("next")], NOW + 1) == [True]
    assert database._statements is not None
    assert database._statements is not first
    assert first is not None
    assert first.is_closed()


async def test_a_statement_the_server_refuses_keeps_the_connection(store: SqlStore) -> None:
    database = store._db
    assert isinstance(database, PostgresDatabase)
    assert await store.add_deliveries([make_received("first")], NOW) == [True]
    kept = database._statements

    with pytest.raises(asyncpg.UndefinedTableError):
        await database.statement("SELECT 1 FROM no_such_table")

    assert await store.add_deliveries([make_received("next")], NOW + 1) == [True]
    assert database._statements is kept


async def test_steps_are_stored_after_the_server_ended_every_connection(
    store: SqlStore, postgres_url: str, restart_takes: float
) -> None:
    dsn = _asyncpg_dsn(postgres_url)
    assert await store.add_deliveries([make_received("before")], NOW) == [True]
    assert await _backends(dsn, end=True) >= 1  # the statement's, and the engine's
    await asyncio.sleep(restart_takes)

    # The dead connection is found, every pooled one is replaced, the batch sent again.
    assert await store.add_deliveries([make_received("after")], NOW + 1) == [True]
    assert await store.add_deliveries([make_received("after")], NOW + 2) == [False]

    assert {
        record.step.step_id for record in (await store.get_many(["before", "after"])).values()
    } == {
        "before",
        "after",
    }


async def test_a_server_that_is_gone_fails_the_batch_and_stores_nothing(
    store: SqlStore, postgres_url: str, restart_takes: float
) -> None:
    database = store._db
    assert isinstance(database, PostgresDatabase)
    # Each connection is ended as it is made: the retry on a new connection fails too.
    assert await store.add_deliveries([make_received("warm")], NOW) == [True]
    dsn = _asyncpg_dsn(postgres_url)
    name = dsn.rsplit("/", 1)[1]
    # A database's connections are barred from another one.
    admin = await asyncpg.connect(_asyncpg_dsn(_with_database(postgres_url, "postgres")))
    try:
        await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        with pytest.raises((asyncpg.PostgresError, OSError, asyncpg.InterfaceError)):
            await store.add_deliveries([make_received("lost")], NOW + 1)
        await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        await asyncio.sleep(restart_takes)
    finally:
        await admin.close()

    assert await store.add_deliveries([make_received("back")], NOW + 2) == [True]
    assert set(await store.get_many(["warm", "lost", "back"])) == {"warm", "back"}


async def test_deliveries_are_stored_uncompressed_out_of_line(
    store: SqlStore, postgres_url: str
) -> None:
    """Compressing each 2.6 KB delivery cost the webhook's batch 40 % of its time."""
    received = make_received("kept")
    assert await store.add_deliveries([received], NOW) == [True]
    admin = await asyncpg.connect(_asyncpg_dsn(postgres_url))
    try:
        storage = await admin.fetchval(
            "SELECT attstorage FROM pg_attribute "
            "WHERE attrelid = 'steps'::regclass AND attname = 'delivery'"
        )
        stored, compression = await admin.fetchrow(
            "SELECT pg_column_size(delivery), pg_column_compression(delivery) FROM steps"
        )
    finally:
        await admin.close()
    assert storage == b"e"  # EXTERNAL (a "char")
    assert compression is None
    assert stored == len(received.delivery)  # as Intercom signed it, byte for byte
    record = await store.get("kept")
    assert record is not None
    assert record.step == received.step()
