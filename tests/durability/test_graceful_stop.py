"""SIGTERM: the bot stops taking work, lets the job in flight finish, exits 0, and what it
did not start is done at the next start."""

from __future__ import annotations

import asyncio
import signal
import time

import aiohttp

from bot.domain import JobKind, StepState
from bot.testing.intercom import Reply

from .conftest import BotFactory, Fakes
from .driver import click, hitl_delivery, step_id_of
from .helpers import (
    live_buttons,
    messages_for,
    observe,
    start_with_posted_step,
    text_of,
    wait_jobs_done,
    wait_leased,
    wait_state,
)
from .in_process import instances
from .server import BotProcess

SLOW_CALLBACK = 0.6


async def _stop_during_a_delivery(
    fakes: Fakes, bot: BotProcess, session: aiohttp.ClientSession, database_url: str
) -> tuple[str, int, float]:
    """Sends SIGTERM while a callback is in flight; returns the step, exit code and time."""
    step_id = await start_with_posted_step(fakes, bot, session, database_url)
    fakes.intercom.script(step_id, Reply(200, delay=SLOW_CALLBACK))
    assert await click(session, bot.url, step_id) == 200
    async with observe(database_url) as db:
        await wait_leased(db, step_id, JobKind.DELIVER)
    await asyncio.sleep(0.2)
    started = time.monotonic()
    code = await bot.terminate()
    return step_id, code, time.monotonic() - started


async def test_sigterm_lets_an_inflight_delivery_finish_and_exits_zero(
    fakes: Fakes, bots: BotFactory, session: aiohttp.ClientSession, sqlite_url: str
) -> None:
    step_id, code, took = await _stop_during_a_delivery(
        fakes, bots(sqlite_url), session, sqlite_url
    )

    assert code == 0
    assert took < SLOW_CALLBACK + 5
    (accepted,) = fakes.intercom.accepted
    assert accepted.body["step_id"] == step_id
    async with observe(sqlite_url) as db:
        record = await db.get(step_id)
        assert record is not None
        assert record.state == StepState.ANSWERED
        assert all(job.locked_by is None for job in await db.list_jobs(step_id))


async def test_jobs_left_at_a_stop_resume_at_the_next_start(fakes: Fakes, sqlite_url: str) -> None:
    """The delivery in flight finishes; the message update it causes waits for the next run."""
    payload = hitl_delivery(fakes.intercom)
    step_id = step_id_of(payload)
    fakes.intercom.script(step_id, Reply(200, delay=SLOW_CALLBACK))
    async with instances(sqlite_url, fakes, 1) as (before,):
        await before.send_webhook(payload)
        await wait_state(before.store, step_id, StepState.POSTED)
        await before.click(step_id, "hitl.answer.yes")
        await wait_leased(before.store, step_id, JobKind.DELIVER)
    # Stopped as on SIGTERM: the app's cleanup stops the worker.
    (accepted,) = fakes.intercom.accepted
    (stale,) = messages_for(fakes.slack, step_id)
    stale_text = text_of(stale)  # the fake updates the message in place later

    async with instances(sqlite_url, fakes, 1) as (after,):
        left = [job.kind for job in await after.store.list_jobs(step_id)]
        await wait_jobs_done(after.store, step_id)

    assert accepted.body["step_id"] == step_id
    assert "Answered by" not in stale_text
    assert JobKind.REFRESH in left
    (message,) = messages_for(fakes.slack, step_id)
    assert live_buttons(message) == []
    assert "Answered by" in text_of(message)


async def test_healthz_reports_draining_after_sigterm_so_a_load_balancer_stops_sending(
    bots: BotFactory, session: aiohttp.ClientSession, sqlite_url: str
) -> None:
    bot = bots(sqlite_url, HITL_DRAIN_SECONDS="2")
    await bot.start()
    async with session.get(f"{bot.url}/healthz") as response:
        assert response.status == 200
    assert bot.process is not None
    bot.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 1.5
    draining = None
    while draining is None and time.monotonic() < deadline:
        async with session.get(f"{bot.url}/healthz") as response:
            if response.status == 503:
                draining = await response.json()
        await asyncio.sleep(0.05)
    assert draining == {"status": "draining"}
    assert await asyncio.wait_for(bot.process.wait(), 20) == 0
