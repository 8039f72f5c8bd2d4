"""Nothing is acknowledged before it is stored: while the test holds SQLite's write lock no
webhook or answer can be stored, so the bot must not have answered Slack or Intercom yet.

(Once a 2xx is out, the sender forgets; a crash between the two would lose the work.)
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import TypeVar

from .conftest import Fakes
from .driver import hitl_delivery, step_id_of
from .in_process import YES_FORM, instances, one_posted_step

T = TypeVar("T")

# Longer than any ack takes, well inside the store's 5 s busy timeout.
HELD = 0.4
# The worker polls rarely here, so only the request under test waits for the lock.
QUIET = {"hitl_poll_interval": 30.0}


@asynccontextmanager
async def write_locked(sqlite_url: str) -> AsyncIterator[None]:
    """Holds the database's write lock, as a long transaction of another process would."""
    path = sqlite_url.removeprefix("sqlite:///")
    conn = sqlite3.connect(path, timeout=5, isolation_level=None, check_same_thread=False)
    try:
        await asyncio.to_thread(conn.execute, "BEGIN IMMEDIATE")
        try:
            yield
        finally:
            await asyncio.to_thread(conn.execute, "ROLLBACK")
    finally:
        conn.close()


async def _answered_while_locked(sqlite_url: str, request: Awaitable[T]) -> tuple[bool, T]:
    """Sends `request` while the lock is held; whether it was answered before release."""
    async with write_locked(sqlite_url):
        task = asyncio.ensure_future(request)
        await asyncio.sleep(HELD)
        early = task.done()
    return early, await task


async def test_webhook_is_acknowledged_only_once_its_step_is_stored(
    fakes: Fakes, sqlite_url: str
) -> None:
    payload = hitl_delivery(fakes.intercom)
    async with instances(sqlite_url, fakes, 1, **QUIET) as (stack,):
        early, answer = await _answered_while_locked(sqlite_url, stack.send_webhook(payload))
        stored = await stack.store.get(step_id_of(payload))

    assert not early
    assert answer.status == 200
    assert stored is not None


async def test_click_answer_is_acknowledged_only_once_it_is_stored(
    fakes: Fakes, sqlite_url: str
) -> None:
    async with one_posted_step(sqlite_url, fakes, **QUIET) as (stack, step_id):
        early, answer = await _answered_while_locked(
            sqlite_url, stack.click(step_id, "hitl.answer.yes")
        )
        stored = await stack.store.get(step_id)

    assert not early
    assert answer.status == 200
    assert stored is not None
    assert stored.answer is not None


async def test_form_answer_is_acknowledged_only_once_it_is_stored(
    fakes: Fakes, sqlite_url: str
) -> None:
    async with one_posted_step(sqlite_url, fakes, **QUIET) as (stack, step_id):
        view = await stack.open_form(step_id)
        early, answer = await _answered_while_locked(sqlite_url, stack.submit(view, YES_FORM))
        stored = await stack.store.get(step_id)

    assert not early
    assert answer.status == 200
    assert stored is not None
    assert stored.answer is not None
