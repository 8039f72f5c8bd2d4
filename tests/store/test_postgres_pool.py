"""PostgreSQL's pooled connections: a connection the server dropped is replaced before a
transaction uses it, and reads run without a transaction around them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from bot.domain import StepState
from bot.store import SqlStore

from .databases import _asyncpg_dsn, opened_store
from .factories import make_answer, make_received

NOW = 1_000.0


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[SqlStore]:
    async with opened_store(postgres_url) as opened:
        yield opened


async def _end_every_other_session(postgres_url: str) -> int:
    admin = await asyncpg.connect(_asyncpg_dsn(postgres_url))
    try:
        ended = await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return len(ended)
    finally:
        await admin.close()


async def test_a_click_after_the_server_dropped_every_pooled_connection_still_works(
    store: SqlStore, postgres_url: str, restart_takes: float
) -> None:
    assert await store.add_deliveries([make_received("s1")], NOW) == [True]
    # Several pooled connections, each used once, then all ended by the server.
    records = [await store.get("s1") for _ in range(3)]
    assert all(record is not None for record in records)
    assert await _end_every_other_session(postgres_url) >= 2
    await asyncio.sleep(restart_takes)

    # The read and the answer's transaction each find their connection dead and use a new one.
    record = await store.get("s1")
    assert record is not None
    assert record.step.step_id == "s1"
    result = await store.claim_answer("s1", make_answer(), NOW + 1)
    assert result.won
    assert result.record is not None
    assert result.record.state is StepState.SUBMITTED


async def test_a_connection_dropped_moments_after_use_fails_one_transaction_only(
    store: SqlStore, postgres_url: str
) -> None:
    """The price of not pinging a connection used within the last half second: one that
    the server ends in that window fails the next transaction on it (nothing of it is
    stored), and the pool then replaces every connection, so the one after works."""
    assert await store.add_deliveries([make_received("s1")], NOW) == [True]
    assert await store.get("s1") is not None
    assert await _end_every_other_session(postgres_url) >= 1

    with pytest.raises(DBAPIError) as failed:
        await store.claim_answer("s1", make_answer(), NOW + 1)
    assert failed.value.connection_invalidated

    result = await store.claim_answer("s1", make_answer(), NOW + 2)
    assert result.won


async def test_a_read_is_not_wrapped_in_a_transaction(store: SqlStore) -> None:
    def two_clocks(conn: Connection) -> tuple[object, object]:
        # now() is the transaction's start: inside one transaction both reads agree.
        first = conn.execute(text("SELECT now()")).scalar_one()
        conn.execute(text("SELECT pg_sleep(0.02)"))
        return first, conn.execute(text("SELECT now()")).scalar_one()

    first, second = await store._db.read(two_clocks)
    assert first != second

    first, second = await store._db.write(two_clocks)
    assert first == second  # a write is one transaction
