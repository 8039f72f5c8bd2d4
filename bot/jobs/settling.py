"""Settling a step: the state, the jobs the lifecycle says follow, the count and the log."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.domain import StepRecord, StepState
from bot.jobs.common import ids
from bot.jobs.services import Services

log = logging.getLogger(__name__)


async def settle(
    s: Services,
    record: StepRecord,
    state: StepState,
    detail: str | None,
    *,
    from_states: Sequence[StepState] = (StepState.SUBMITTED,),
) -> None:
    """Settles the step if it is still in one of `from_states` (else nothing)."""
    now = s.clock()
    changed = await s.store.settle(
        record.step.step_id,
        state,
        detail,
        now,
        from_states=from_states,
        effects=s.lifecycle.settled(record.step, state, now),
    )
    if not changed:
        return
    if StepState.SUBMITTED in from_states:
        s.metrics.answers.labels(state.value).inc()
    level = logging.WARNING if state == StepState.FAILED else logging.INFO
    log.log(level, "step settled", extra=ids(record) | {"state": state.value, "detail": detail})
