"""Settling a step: the state, the jobs the lifecycle says follow, the count and the log."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from bot.domain import StepRecord, StepState
from bot.jobs.common import ids
from bot.lifecycle import Lifecycle
from bot.metrics import Metrics
from bot.store import SqlStore

log = logging.getLogger(__name__)


class Settler:
    def __init__(
        self,
        store: SqlStore,
        lifecycle: Lifecycle,
        metrics: Metrics,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._lifecycle = lifecycle
        self._metrics = metrics
        self._clock = clock

    async def settle(
        self,
        record: StepRecord,
        state: StepState,
        detail: str | None,
        *,
        from_states: Sequence[StepState] = (StepState.SUBMITTED,),
    ) -> None:
        """Settles the step if it is still in one of `from_states` (else nothing)."""
        now = self._clock()
        changed = await self._store.settle(
            record.step.step_id,
            state,
            detail,
            now,
            from_states=from_states,
            effects=self._lifecycle.settled(record.step, state, now),
        )
        if not changed:
            return
        if StepState.SUBMITTED in from_states:
            self._metrics.answers.labels(state.value).inc()
        level = logging.WARNING if state == StepState.FAILED else logging.INFO
        log.log(level, "step settled", extra=ids(record) | {"state": state.value, "detail": detail})
