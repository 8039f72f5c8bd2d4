"""Waiting for and reading what the bot did: its jobs in the database, its Slack messages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp

from bot.domain import StepRecord, StepState
from bot.store import QueuedJob, SqlStore
from bot.testing.slack import FakeSlack

from .driver import hitl_delivery, send_webhook, step_id_of
from .server import BotProcess

if TYPE_CHECKING:
    from .conftest import Fakes

T = TypeVar("T")


async def wait_until(
    probe: Callable[[], Awaitable[T | None]],
    what: str,
    *,
    timeout: float = 10.0,  # noqa: ASYNC109 - a deadline for the wait
) -> T:
    """Polls `probe` until it returns something other than None (or False)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def observe(database_url: str) -> AsyncIterator[SqlStore]:
    """The bot's database, read from the test (the bot has migrated it)."""
    store = SqlStore.connect(database_url)
    try:
        yield store
    finally:
        await store.close()


async def wait_leased(store: SqlStore, step_id: str, kind: str) -> QueuedJob:
    """The step's `kind` job once a worker holds it."""

    async def probe() -> QueuedJob | None:
        for job in await store.list_jobs(step_id):
            if job.kind == kind and job.locked_by is not None:
                return job
        return None

    return await wait_until(probe, f"a worker to take the {kind} job of {step_id}")


async def wait_state(
    store: SqlStore,
    step_id: str,
    *states: StepState,
    timeout: float = 10.0,  # noqa: ASYNC109
) -> StepRecord:
    async def probe() -> StepRecord | None:
        record = await store.get(step_id)
        return record if record is not None and record.state in states else None

    return await wait_until(probe, f"{step_id} to be {states}", timeout=timeout)


async def wait_jobs_done(store: SqlStore, step_id: str, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Until only jobs not yet due (the expiry) are left for the step."""

    async def probe() -> bool:
        now = time.time()
        return all(job.run_at > now for job in await store.list_jobs(step_id))

    await wait_until(probe, f"the jobs of {step_id} to finish", timeout=timeout)


def messages_for(slack: FakeSlack, step_id: str) -> list[dict[str, Any]]:
    """The channel messages carrying this step's metadata, as they stand now."""
    return [
        m
        for m in slack.posted()
        if ((m.get("metadata") or {}).get("event_payload") or {}).get("step_id") == step_id
    ]


def live_buttons(message: dict[str, Any]) -> list[str]:
    """The action_ids of the buttons on a message that would answer its step."""
    found: list[str] = []
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            action_id = str(element.get("action_id") or "")
            if action_id.startswith(("hitl.open", "hitl.answer")):
                found.append(action_id)
        accessory = block.get("accessory") or {}
        if str(accessory.get("action_id") or "").startswith(("hitl.open", "hitl.answer")):
            found.append(str(accessory["action_id"]))
    return found


def text_of(message: dict[str, Any]) -> str:
    return f"{message.get('text')} {message.get('blocks')}"


async def wait_posted(database_url: str, step_id: str) -> StepRecord:
    """Until the bot has posted the step and stored where (so its jobs come in order)."""
    async with observe(database_url) as db:
        return await wait_state(db, step_id, StepState.POSTED)


async def start_with_posted_step(
    fakes: Fakes, bot: BotProcess, session: aiohttp.ClientSession, database_url: str
) -> str:
    """Starts `bot`, sends it a new step, waits until its message is posted; the step id."""
    await bot.start()
    payload = hitl_delivery(fakes.intercom)
    step_id = step_id_of(payload)
    assert await send_webhook(session, bot.url, payload) == 200
    await wait_posted(database_url, step_id)
    return step_id
