"""Expiry: unanswered steps settled as expired once their `expires_at` passes.

A sweep, not a job per step (a webhook writes no job row for it): the worker runs
`expire_due_steps` once per poll, and the store settles every open step now past its
expiry, with the jobs settling brings, in one transaction. `expire_step` remains for
expire jobs an instance of an earlier version wrote.
"""

from __future__ import annotations

import logging

from bot.domain import StepRecord, StepState
from bot.jobs.common import ids
from bot.jobs.services import Services
from bot.jobs.settling import settle
from bot.lifecycle import Effects
from bot.store import Job

log = logging.getLogger(__name__)

_OPEN = (StepState.RECEIVED, StepState.POSTED)


async def expire_due_steps(s: Services) -> None:
    now = s.clock()

    def effects(record: StepRecord) -> Effects:
        return s.lifecycle.settled(record.step, StepState.EXPIRED, now)

    for record in await s.store.expire_due(now, effects):
        log.info("step settled", extra=ids(record) | {"state": StepState.EXPIRED.value})


async def expire_step(s: Services, job: Job) -> None:
    record = await s.record_of(job)
    if record is not None and record.state.is_open:
        await settle(s, record, StepState.EXPIRED, None, from_states=_OPEN)
