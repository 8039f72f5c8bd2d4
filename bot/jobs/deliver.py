"""The deliver job: the claimed answer sent to the step's callback, and how Intercom took it."""

from __future__ import annotations

import logging

from bot.domain import StepState
from bot.errors import BotError
from bot.intercom.client import CallbackOutcome, CallbackResult
from bot.jobs.services import Services
from bot.jobs.settling import settle
from bot.store import Job

log = logging.getLogger(__name__)

TEST_SINK_DETAIL = "test — not sent to Intercom"


async def deliver_answer(s: Services, job: Job) -> None:
    record = await s.record_of(job)
    if record is None or record.state != StepState.SUBMITTED or record.answer is None:
        return
    if record.step.test:
        # A test step's answer goes to this local sink: nothing leaves the bot.
        await settle(s, record, StepState.ANSWERED, TEST_SINK_DETAIL)
        return
    if not record.step.answerable:
        # Never reached through Slack (the listeners refuse such answers); the URL the bot
        # would not call stays uncalled whatever wrote this job.
        await settle(s, record, StepState.FAILED, f"not sent: {record.step.unanswerable}")
        return
    result = await s.intercom.send_answer(record.step, record.answer.values)
    await settle(s, record, *outcome_state(result, maybe_sent_before=job.attempts > 0))


async def give_up_delivering(s: Services, job: Job, error: BotError) -> None:
    """Still failing when the step can no longer be answered: say so on the step."""
    log.error("giving up delivering the answer", extra=job.log_fields() | {"reason": error.reason})
    record = await s.record_of(job)
    if record is not None:
        detail = f"Gave up after {job.attempts + 1} attempts: {error.reason}"
        await settle(s, record, StepState.FAILED, detail)


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
