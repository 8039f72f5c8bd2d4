"""The post job: the step's request message in its route's channel, posted once, with how
earlier answers to its procedure went."""

from __future__ import annotations

import logging

from bot.domain import Precedent, StepRecord
from bot.jobs.common import ids
from bot.jobs.services import Services
from bot.precedent import LOOKBACK, precedent
from bot.slack.messenger import PostedMessage, SlackPermanent
from bot.store import Job

log = logging.getLogger(__name__)


async def post_step(s: Services, job: Job) -> None:
    record = await s.record_of(job)
    if record is None or record.message_ts is not None or record.state.is_settled:
        return  # posted already, or settled before it could be (nothing to act on)
    channel = s.router.channel_for(record.step)
    posted = await _earlier_post(s, job, channel, record.step.step_id)
    history = await _history(s, record)
    if posted is None:
        posted = await s.messenger.post_step(
            record.model_copy(update={"precedent": history}), channel
        )
    await s.store.mark_posted(
        record.step.step_id,
        posted.channel_id,
        posted.ts,
        posted.permalink,
        effects=s.lifecycle.posted(record.step, record.received_at, s.clock()),
        precedent=history,
    )
    log.info("step posted", extra=ids(record) | {"channel_id": posted.channel_id})


async def _history(s: Services, record: StepRecord) -> tuple[Precedent, ...]:
    """How the latest answers to the same procedure went: one query, tests left out."""
    name = record.step.procedure_name
    if not name or record.step.test:
        return ()
    return precedent(record.step, await s.store.answered_before(name, LOOKBACK))


async def _earlier_post(s: Services, job: Job, channel: str, step_id: str) -> PostedMessage | None:
    """The message an earlier attempt posted, if it did.

    An attempt can post and then die (or lose Slack's reply) before the store learns the
    message's ts; posting again would show the step twice.
    """
    if job.attempts == 0:
        return None
    try:
        found = await s.messenger.find_step_message(channel, step_id)
    except SlackPermanent as exc:
        # Better a rare duplicate than a step nobody sees.
        log.warning(
            "could not look for an earlier post of the step (is channels:history granted?); "
            "posting it, which may show it twice",
            extra={"step_id": step_id, "reason": exc.reason},
        )
        return None
    if found is not None:
        log.warning(
            "step was already posted by an earlier attempt; keeping that message",
            extra={"step_id": step_id, "message_ts": found.ts},
        )
    return found
