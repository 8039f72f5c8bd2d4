"""`python -m bot send-test`: queues a test step for the running bot to post to its channel.

The step is written to the database with its post job, like a webhook's step; whichever
instance is serving picks the job up within `HITL_POLL_INTERVAL`. Its answer is shown in
Slack but never sent to Intercom.
"""

from __future__ import annotations

import asyncio
import time

from bot.samples import test_step
from bot.settings import Settings, load_settings_or_report
from bot.store import SqlStore


async def send_test(settings: Settings) -> str:
    """Stores a test step with its post job; returns its step id."""
    store = await SqlStore.open(settings.database_url)
    try:
        now = time.time()
        step = test_step(now)
        await store.add_steps([step], now)
    finally:
        await store.close()
    return step.step_id


def run_send_test() -> int:
    settings = load_settings_or_report()
    if settings is None:
        return 2
    step_id = asyncio.run(send_test(settings))
    print(
        f"queued test step {step_id}; the running bot posts it to {settings.slack_channel_id} "
        "(its answer is not sent to Intercom)"
    )
    return 0
