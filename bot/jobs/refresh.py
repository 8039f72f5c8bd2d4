"""The refresh job: the step's channel message brought in line with its state."""

from __future__ import annotations

from bot.jobs.services import Services
from bot.store import Job


async def refresh_message(s: Services, job: Job) -> None:
    record = await s.record_of(job)
    if record is not None and record.message_ts is not None:
        # Without a message yet, the post job renders the latest state when it runs.
        await s.messenger.update_step(record)
