"""The remind job: a reply in an unanswered step's thread mentioning its route's people."""

from __future__ import annotations

import logging

from bot.jobs.common import ids
from bot.jobs.services import Services
from bot.lifecycle import MAX_REMINDERS
from bot.slack.trail import reminder_text
from bot.store import Job

log = logging.getLogger(__name__)


async def remind_thread(s: Services, job: Job) -> None:
    record = await s.record_of(job)
    if (
        record is None
        or not record.state.is_open
        or record.channel_id is None
        or record.message_ts is None
        or record.reminders_sent >= MAX_REMINDERS
    ):
        return
    now = s.clock()
    text = reminder_text(now - record.received_at, s.router.mention_for(record.step))
    await s.threads.reply(record.channel_id, record.message_ts, text)
    await s.store.reminder_sent(record.step.step_id, s.lifecycle.reminded(record, now))
    log.info("reminder posted", extra=ids(record) | {"reminder": record.reminders_sent + 1})
