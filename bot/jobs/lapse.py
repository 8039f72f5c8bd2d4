"""The lapse job: when a claim runs out unanswered, the message says so (reminders resume
by themselves: they only waited while the claim held)."""

from __future__ import annotations

from bot.jobs.services import Services
from bot.store import Job


async def show_lapsed_claim(s: Services, job: Job) -> None:
    record = await s.record_of(job)
    if (
        record is not None
        and record.state.is_open
        and record.message_ts is not None
        and record.claim_lapsed(s.clock())
    ):
        await s.messenger.update_step(record)
