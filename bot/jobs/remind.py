"""The remind job: a reply in an unanswered step's thread mentioning its route's people."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.jobs.common import ids, record_of
from bot.lifecycle import MAX_REMINDERS, Lifecycle
from bot.routing import Router
from bot.slack.threads import SlackThreads
from bot.slack.trail import reminder_text
from bot.store import Job, SqlStore

log = logging.getLogger(__name__)


class RemindThread:
    def __init__(
        self,
        store: SqlStore,
        threads: SlackThreads,
        router: Router,
        lifecycle: Lifecycle,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._threads = threads
        self._router = router
        self._lifecycle = lifecycle
        self._clock = clock

    async def __call__(self, job: Job) -> None:
        record = await record_of(job, self._store)
        if (
            record is None
            or not record.state.is_open
            or record.channel_id is None
            or record.message_ts is None
            or record.reminders_sent >= MAX_REMINDERS
        ):
            return
        now = self._clock()
        text = reminder_text(now - record.received_at, self._router.mention_for(record.step))
        await self._threads.reply(record.channel_id, record.message_ts, text)
        await self._store.reminder_sent(record.step.step_id, self._lifecycle.reminded(record, now))
        log.info("reminder posted", extra=ids(record) | {"reminder": record.reminders_sent + 1})
