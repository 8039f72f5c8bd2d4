"""The refresh job: the step's channel message brought in line with its state."""

from __future__ import annotations

from bot.jobs.common import record_of
from bot.slack.messenger import SlackMessenger
from bot.store import Job, SqlStore


class RefreshMessage:
    def __init__(self, store: SqlStore, messenger: SlackMessenger) -> None:
        self._store = store
        self._messenger = messenger

    async def __call__(self, job: Job) -> None:
        record = await record_of(job, self._store)
        if record is None or record.message_ts is None:
            return  # the post job renders the latest state when it runs
        await self._messenger.update_step(record)
