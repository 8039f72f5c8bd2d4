"""The expire job: an unanswered step settled as expired once its `expires_at` passes."""

from __future__ import annotations

from bot.domain import StepState
from bot.jobs.common import record_of
from bot.jobs.settling import Settler
from bot.store import Job, SqlStore

_OPEN = (StepState.RECEIVED, StepState.POSTED)


class ExpireStep:
    def __init__(self, store: SqlStore, settler: Settler) -> None:
        self._store = store
        self._settler = settler

    async def __call__(self, job: Job) -> None:
        record = await record_of(job, self._store)
        if record is None or not record.state.is_open:
            return
        await self._settler.settle(record, StepState.EXPIRED, None, from_states=_OPEN)
