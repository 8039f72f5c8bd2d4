"""SQLite specifics: writes take the lock up front, reads never wait for another writer."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from bot.store import SqlStore

from .factories import make_step


async def test_reads_do_not_wait_for_another_processs_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = await SqlStore.open(f"sqlite:///{path}")
    step = make_step()
    await store.add_steps([step], 1.0)
    other = sqlite3.connect(path, isolation_level=None, timeout=5)
    try:
        other.execute("BEGIN IMMEDIATE")
        record = await asyncio.wait_for(store.get(step.step_id), 1.0)
        pending, total = await asyncio.wait_for(store.pending(10), 1.0)
        queued = await asyncio.wait_for(store.list_jobs(), 1.0)
        other.execute("ROLLBACK")
    finally:
        other.close()
        await store.close()
    assert record is not None
    assert total == 1
    assert len(pending) == 1
    assert len(queued) == 1


async def test_a_write_waits_for_another_processs_write_lock_then_succeeds(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    store = await SqlStore.open(f"sqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None, timeout=5, check_same_thread=False)
    try:
        other.execute("BEGIN IMMEDIATE")
        write = asyncio.ensure_future(store.add_steps([make_step()], 1.0))
        await asyncio.sleep(0.3)
        waited = not write.done()
        await asyncio.to_thread(other.execute, "ROLLBACK")
        assert await write == [True]
    finally:
        other.close()
        await store.close()
    assert waited
