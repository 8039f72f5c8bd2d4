"""The remind job: an unanswered step's thread reminded of it.

A step with an expiry escalates with its deadline: at the first fraction of its life the
thread mentions the route's people; at the second its escalation people get a direct
message (the escalate job); at the last call the thread says when it expires and the
message says it soon will. A step without one is reminded every `HITL_REMIND_AFTER`. While
someone is on the step, reminders wait for their claim to end, but never the last call.
"""

from __future__ import annotations

import logging

from bot.domain import JobKind, StepRecord
from bot.jobs.common import ids
from bot.jobs.services import Services
from bot.lifecycle import MAX_REMINDERS, Effects, FollowUp, Stage
from bot.slack.trail import last_call_text, reminder_text
from bot.store import Job

log = logging.getLogger(__name__)


async def remind_thread(s: Services, job: Job) -> None:
    record = await s.record_of(job)
    if (
        record is None
        or not record.state.is_open
        or record.channel_id is None
        or record.message_ts is None
    ):
        return
    now = s.clock()
    times = s.lifecycle.escalation_times(record.step, record.received_at)
    if times is not None and record.reminders_sent < Stage.LAST_CALL and now >= times[2]:
        await _last_call(s, record, now)
    elif record.claimed_now(now):
        await s.store.write_if_open(record.step.step_id, s.lifecycle.paused(record, now))
    elif times is not None:
        await _escalate(s, record, now, times)
    elif record.reminders_sent < MAX_REMINDERS:
        await _remind(s, record, now)


async def _remind(s: Services, record: StepRecord, now: float) -> None:
    text = reminder_text(now - record.received_at, s.router.mention_for(record.step))
    await _tell_thread(s, record, text)
    await s.store.reminder_sent(record.step.step_id, s.lifecycle.reminded(record, now))
    log.info("reminder posted", extra=ids(record) | {"reminder": record.reminders_sent + 1})


async def _escalate(
    s: Services, record: StepRecord, now: float, times: tuple[float, float, float]
) -> None:
    """The latest escalation stage whose time has come and that the step has not had yet
    (a claim may have held the mention past the DM's time: then the DM goes alone)."""
    mention_at, dm_at, _ = times
    due = Stage.ESCALATED if now >= dm_at else Stage.MENTIONED if now >= mention_at else 0
    if due <= record.reminders_sent:
        # Early (a claim ended before the next stage): come back when it is due.
        effects = s.lifecycle.escalated_to(record, record.reminders_sent, now)
        await s.store.write_if_open(record.step.step_id, _reminder_only(effects))
        return
    if due == Stage.MENTIONED:
        text = reminder_text(now - record.received_at, s.router.mention_for(record.step))
        await _tell_thread(s, record, text)
    effects = s.lifecycle.escalated_to(record, due, now)
    await s.store.reminder_sent(record.step.step_id, effects, stage=due)
    log.info("escalation stage reached", extra=ids(record) | {"stage": due})


def _reminder_only(effects: Effects) -> Effects:
    return Effects(tuple(f for f in effects.jobs if f.kind is JobKind.REMIND))


async def _last_call(s: Services, record: StepRecord, now: float) -> None:
    assert record.step.expires_at is not None  # only steps with an expiry get a last call
    text = last_call_text(record.step.expires_at, s.router.mention_for(record.step))
    await _tell_thread(s, record, text)
    # The message itself says the step expires soon from now on.
    refresh = Effects((FollowUp(JobKind.REFRESH, now),))
    await s.store.reminder_sent(record.step.step_id, refresh, stage=Stage.LAST_CALL)
    log.info("last call posted", extra=ids(record))


async def _tell_thread(s: Services, record: StepRecord, text: str) -> None:
    if record.channel_id is not None and record.message_ts is not None:
        await s.threads.reply(record.channel_id, record.message_ts, text)
