"""SQLite's store thread: one transaction at a time, requests' work before the worker's."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from bot.store.database import SqliteDatabase


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    db = SqliteDatabase(f"sqlite:///{tmp_path / 'order.db'}")
    yield db
    await db.close()


async def test_urgent_work_runs_before_background_work_queued_earlier(
    database: SqliteDatabase,
) -> None:
    release = threading.Event()
    ran: list[str] = []

    def blocker(_conn: Connection) -> None:
        release.wait(5)

    def note(name: str) -> object:
        return lambda _conn: ran.append(name)

    busy = asyncio.create_task(database.write(blocker))
    await asyncio.sleep(0.05)  # the thread is now inside `blocker`
    queued = [
        asyncio.create_task(database.write(note("worker-1"))),
        asyncio.create_task(database.read(note("worker-2"))),
        asyncio.create_task(database.write(note("webhook"), urgent=True)),
        asyncio.create_task(database.read(note("click"), urgent=True)),
    ]
    await asyncio.sleep(0.05)
    release.set()
    await asyncio.gather(busy, *queued)

    assert ran == ["webhook", "click", "worker-1", "worker-2"]


async def test_a_failing_transaction_rolls_back_and_raises_to_its_caller(
    database: SqliteDatabase,
) -> None:
    await database.write(lambda conn: conn.execute(text("CREATE TABLE t (x INTEGER)")))

    def insert_then_fail(conn: Connection) -> None:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        await database.write(insert_then_fail)
    count = await database.read(lambda conn: conn.execute(text("SELECT count(*) FROM t")).scalar())

    assert count == 0


async def test_a_caller_that_gives_up_does_not_stop_its_transaction_or_the_thread(
    database: SqliteDatabase,
) -> None:
    await database.write(lambda conn: conn.execute(text("CREATE TABLE t (x INTEGER)")))
    release = threading.Event()

    def slow_insert(conn: Connection) -> None:
        release.wait(5)
        conn.execute(text("INSERT INTO t VALUES (1)"))

    abandoned = asyncio.create_task(database.write(slow_insert))
    await asyncio.sleep(0.05)
    abandoned.cancel()
    release.set()
    count = await database.read(lambda conn: conn.execute(text("SELECT count(*) FROM t")).scalar())

    assert abandoned.cancelled()
    assert count == 1  # committed whole, as if the process had gone on


async def test_reads_do_not_take_the_write_lock_that_writes_take(
    database: SqliteDatabase, tmp_path: Path
) -> None:
    # One held connection serves both: each transaction must still begin as its kind asks.
    await database.write(lambda conn: conn.execute(text("CREATE TABLE t (x INTEGER)")))
    seen: list[str] = []

    def try_to_write_elsewhere(_conn: Connection) -> None:
        other = sqlite3.connect(tmp_path / "order.db", timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            seen.append("free")
        except sqlite3.OperationalError:
            seen.append("held")
        finally:
            other.close()

    await database.read(try_to_write_elsewhere)
    await database.write(try_to_write_elsewhere)
    await database.read(try_to_write_elsewhere)

    assert seen == ["free", "held", "free"]


async def test_a_connection_lost_mid_transaction_is_replaced_for_the_next(
    database: SqliteDatabase,
) -> None:
    await database.write(lambda conn: conn.execute(text("CREATE TABLE t (x INTEGER)")))

    def lose_connection(conn: Connection) -> None:
        conn.invalidate()
        raise RuntimeError("disk went away")

    with pytest.raises(RuntimeError, match="disk went away"):
        await database.write(lose_connection)
    await asyncio.wait_for(
        database.write(lambda conn: conn.execute(text("INSERT INTO t VALUES (1)"))), 5
    )

    count = await database.read(lambda conn: conn.execute(text("SELECT count(*) FROM t")).scalar())
    assert count == 1


async def test_nothing_read_only_work_does_is_kept(database: SqliteDatabase) -> None:
    await database.write(lambda conn: conn.execute(text("CREATE TABLE t (x INTEGER)")))

    await database.read(lambda conn: conn.execute(text("INSERT INTO t VALUES (1)")))

    count = await database.read(lambda conn: conn.execute(text("SELECT count(*) FROM t")).scalar())
    assert count == 0


async def test_work_asked_of_a_closed_store_fails_at_once_instead_of_waiting_forever(
    tmp_path: Path,
) -> None:
    db = SqliteDatabase(f"sqlite:///{tmp_path / 'closed.db'}")
    await db.close()

    with pytest.raises(RuntimeError, match="the store is closed"):
        await asyncio.wait_for(db.read(lambda conn: conn.execute(text("select 1"))), 2.0)
