"""What job handlers share: the ids every log line carries, and saying why a job ended."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.domain import StepRecord
from bot.errors import BotError
from bot.store import Job


def ids(record: StepRecord) -> dict[str, str]:
    return {"step_id": record.step.step_id, "conversation_id": record.step.conversation_id}


def log_giving_up(log: logging.Logger, message: str) -> Callable[[Job, BotError], Awaitable[None]]:
    """A task's `give_up` that says `message`, with why, in one error line."""

    async def give_up(job: Job, error: BotError) -> None:
        log.error(message, extra=job.log_fields() | {"reason": error.reason})

    return give_up
