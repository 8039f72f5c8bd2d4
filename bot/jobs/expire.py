"""The expire job: an unanswered step settled as expired once its `expires_at` passes."""

from __future__ import annotations

from bot.domain import StepState
from bot.jobs.services import Services
from bot.jobs.settling import settle
from bot.store import Job

_OPEN = (StepState.RECEIVED, StepState.POSTED)


async def expire_step(s: Services, job: Job) -> None:
    record = await s.record_of(job)
    if record is not None and record.state.is_open:
        await settle(s, record, StepState.EXPIRED, None, from_states=_OPEN)
