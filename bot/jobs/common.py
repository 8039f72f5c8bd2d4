"""What job handlers share: the step a job acts on, and the ids every log line carries."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.domain import StepRecord
from bot.errors import BotError
from bot.store import Job, SqlStore

GetStep = Callable[[str], Awaitable[StepRecord | None]]


async def record_of(job: Job, store: SqlStore) -> StepRecord | None:
    """The step as it stood when the job was claimed (read in the claim's transaction);
    only a job built by hand, in a test, comes without it."""
    return job.record if job.record is not None else await store.get(job.step_id)


def ids(record: StepRecord) -> dict[str, str]:
    return {"step_id": record.step.step_id, "conversation_id": record.step.conversation_id}


def job_ids(job: Job) -> dict[str, object]:
    return {
        "job_id": job.id,
        "job_kind": job.kind,
        "step_id": job.step_id,
        "conversation_id": job.conversation_id,
        "attempts": job.attempts + 1,
    }


def log_giving_up(log: logging.Logger, message: str) -> Callable[[Job, BotError], Awaitable[None]]:
    """A task's `give_up` that says `message`, with why, in one error line."""

    async def give_up(job: Job, error: BotError) -> None:
        log.error(message, extra=job_ids(job) | {"reason": error.reason})

    return give_up
