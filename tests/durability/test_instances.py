"""Several bot processes on one PostgreSQL database: any may take any work, and when one
dies mid-job another finishes it once its lease runs out."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from bot.domain import JobKind, StepState
from bot.testing.intercom import Reply

from .conftest import BotFactory, Fakes
from .driver import click, hitl_delivery, send_webhook, step_id_of
from .helpers import (
    live_buttons,
    messages_for,
    observe,
    wait_jobs_done,
    wait_leased,
    wait_posted,
    wait_state,
)
from .server import POLL_SECONDS, TEST_LEASE_SECONDS


def _pid_of(owner: str) -> int:
    """The process id in a lease owner's name (`host-pid-random`)."""
    return int(owner.rsplit("-", 2)[1])


async def test_delivery_held_by_a_killed_instance_is_completed_by_another(
    fakes: Fakes,
    bots: BotFactory,
    session: aiohttp.ClientSession,
    postgres_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    instances = [bots(postgres_url), bots(postgres_url)]
    await asyncio.gather(*(bot.start() for bot in instances))
    payload = hitl_delivery(fakes.intercom)
    step_id = step_id_of(payload)
    fakes.intercom.script(step_id, Reply(503, delay=30))
    assert await send_webhook(session, instances[0].url, payload) == 200
    await wait_posted(postgres_url, step_id)

    assert await click(session, instances[1].url, step_id) == 200
    async with observe(postgres_url) as db:
        held = await wait_leased(db, step_id, JobKind.DELIVER)
        assert held.locked_by is not None
        (holder,) = [bot for bot in instances if bot.pid == _pid_of(held.locked_by)]
        (survivor,) = [bot for bot in instances if bot is not holder]
        await asyncio.sleep(0.2)  # the callback is in flight
        await holder.kill()
        killed_at = time.monotonic()

        (accepted,) = await fakes.intercom.wait_for_callbacks(1, status=200, timeout=10)
        takeover = accepted.at - killed_at
        await wait_state(db, step_id, StepState.ANSWERED)
        await wait_jobs_done(db, step_id)

    with capsys.disabled():
        print(
            f"\n[takeover] lease {TEST_LEASE_SECONDS}s, poll {POLL_SECONDS}s: the surviving "
            f"instance delivered {takeover:.2f}s after the holder was killed"
        )
    assert survivor.running
    assert takeover < TEST_LEASE_SECONDS + POLL_SECONDS + 1.0
    assert len(fakes.intercom.accepted) == 1
    (message,) = messages_for(fakes.slack, step_id)
    assert live_buttons(message) == []
