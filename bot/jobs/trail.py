"""The trail job: a reply in the step's thread saying how it settled, or what just happened
to it (the job's detail: a take-over, an answer taken back)."""

from __future__ import annotations

from bot.jobs.services import Services
from bot.slack.trail import event_text, trail_text
from bot.store import Job


async def reply_in_thread(s: Services, job: Job) -> None:
    record = await s.record_of(job)
    if record is None or record.message_ts is None or record.channel_id is None:
        return
    text = event_text(job.detail) if job.detail else trail_text(record)
    if text is not None:
        await s.threads.reply(record.channel_id, record.message_ts, text)
