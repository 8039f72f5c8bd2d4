"""The trail job: a reply in the step's thread saying how it settled (one per settling)."""

from __future__ import annotations

from bot.jobs.common import record_of
from bot.slack.threads import SlackThreads
from bot.slack.trail import trail_text
from bot.store import Job, SqlStore


class ReplyInThread:
    def __init__(self, store: SqlStore, threads: SlackThreads) -> None:
        self._store = store
        self._threads = threads

    async def __call__(self, job: Job) -> None:
        record = await record_of(job, self._store)
        if record is None or record.message_ts is None or record.channel_id is None:
            return
        text = trail_text(record)
        if text is not None:
            await self._threads.reply(record.channel_id, record.message_ts, text)
