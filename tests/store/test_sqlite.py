"""SQLite specifics: writes take the lock up front, reads never wait for another writer."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from bot.lifecycle import NOTHING
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


async def _plans_of(path: Path, store: SqlStore, work: Any) -> str:
    """The query plans (EXPLAIN QUERY PLAN) of the SELECTs `work()` runs on `store`."""
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        await work()
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    explain = sqlite3.connect(path)
    try:
        return "\n".join(
            " ".join(str(row[-1]) for row in explain.execute(f"EXPLAIN QUERY PLAN {sql}", params))
            for sql, params in statements
        )
    finally:
        explain.close()


async def test_the_worker_and_precedent_read_their_partial_indexes(tmp_path: Path) -> None:
    """Thousands of open steps of one procedure must not be walked per post: the precedent
    read, the posts due and the expiry sweep each use an index holding only their rows."""
    path = tmp_path / "store.db"
    store = await SqlStore.open(f"sqlite:///{path}")
    try:
        steps = [make_step(expires_at=5_000) for _ in range(200)]
        await store.add_steps(steps, 1.0)
        precedent = await _plans_of(
            path, store, lambda: store.answered_before(steps[0].procedure_name or "", 20)
        )
        claim = await _plans_of(path, store, lambda: store.claim_jobs("a", 2.0, 30.0, 4))
        sweep = await _plans_of(path, store, lambda: store.expire_due(6_000, lambda r: NOTHING))
    finally:
        await store.close()

    assert "USING INDEX ix_steps_procedure_settled" in precedent
    assert "USING INDEX ix_steps_post_at" in claim
    assert "USING INDEX ix_steps_open_expiry" in sweep
    assert "SCAN steps" not in precedent + claim + sweep
