"""The deliver job: the claimed answer sent to the step's callback, and how Intercom took it."""

from __future__ import annotations

import logging

from bot.domain import StepState
from bot.errors import BotError
from bot.intercom.client import CallbackOutcome, CallbackResult, IntercomClient
from bot.jobs.common import job_ids, record_of
from bot.jobs.settling import Settler
from bot.store import Job, SqlStore

log = logging.getLogger(__name__)

TEST_SINK_DETAIL = "test — not sent to Intercom"


class DeliverAnswer:
    def __init__(self, store: SqlStore, intercom: IntercomClient, settler: Settler) -> None:
        self._store = store
        self._intercom = intercom
        self._settler = settler

    async def __call__(self, job: Job) -> None:
        record = await record_of(job, self._store)
        if record is None or record.state != StepState.SUBMITTED or record.answer is None:
            return
        if record.step.test:
            # A test step's answer goes to this local sink: nothing leaves the bot.
            await self._settler.settle(record, StepState.ANSWERED, TEST_SINK_DETAIL)
            return
        if not record.step.answerable:
            # Never reached through Slack (the listeners refuse such answers); the URL
            # the bot would not call stays uncalled whatever wrote this job.
            detail = f"not sent: {record.step.unanswerable}"
            await self._settler.settle(record, StepState.FAILED, detail)
            return
        result = await self._intercom.send_answer(record.step, record.answer.values)
        await self._settler.settle(
            record, *outcome_state(result, maybe_sent_before=job.attempts > 0)
        )

    async def give_up(self, job: Job, error: BotError) -> None:
        """Still failing when the step can no longer be answered: say so on the step."""
        log.error("giving up delivering the answer", extra=job_ids(job) | {"reason": error.reason})
        record = await record_of(job, self._store)
        if record is not None:
            detail = f"Gave up after {job.attempts + 1} attempts: {error.reason}"
            await self._settler.settle(record, StepState.FAILED, detail)


def outcome_state(
    result: CallbackResult, *, maybe_sent_before: bool
) -> tuple[StepState, str | None]:
    """What Intercom's answer to the callback makes of the step."""
    if result.outcome == CallbackOutcome.ACCEPTED:
        return StepState.ANSWERED, None
    if result.outcome == CallbackOutcome.EXPIRED:
        return StepState.EXPIRED, "Intercom says this step expired before the answer arrived."
    if result.outcome == CallbackOutcome.ALREADY_ANSWERED:
        if maybe_sent_before:
            # Our earlier attempt may have landed before its reply was lost: say so.
            return (
                StepState.FULFILLED_ELSEWHERE,
                "Intercom already has an answer for this step; an earlier attempt to send "
                "this one may have reached it. Check the conversation.",
            )
        return StepState.FULFILLED_ELSEWHERE, None
    return StepState.FAILED, result.detail
