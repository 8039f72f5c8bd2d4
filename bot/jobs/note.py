"""The note job: Intercom's internal note on the conversation saying who answered in Slack."""

from __future__ import annotations

import logging

from bot.domain import StepState
from bot.intercom.client import IntercomClient, note_body_text
from bot.jobs.common import ids, record_of
from bot.slack.form import attribute_label
from bot.slack.messenger import SlackPermanent, SlackRetryable
from bot.slack.threads import SlackThreads
from bot.store import Job, SqlStore

log = logging.getLogger(__name__)


class AddAuditNote:
    def __init__(
        self,
        store: SqlStore,
        intercom: IntercomClient,
        threads: SlackThreads,
        admin_id: str | None,
    ) -> None:
        """`admin_id`: who the note is written as; None (unset since) writes none."""
        self._store = store
        self._intercom = intercom
        self._threads = threads
        self._admin_id = admin_id

    async def __call__(self, job: Job) -> None:
        record = await record_of(job, self._store)
        if (
            self._admin_id is None
            or record is None
            or record.step.test
            or record.state != StepState.ANSWERED
            or record.answer is None
        ):
            return
        answer = record.answer
        name = answer.user_id
        try:
            name = await self._threads.real_name(answer.user_id) or answer.user_id
        except (SlackRetryable, SlackPermanent) as exc:
            # The id alone still says who answered; not worth holding the note back.
            log.warning(
                "could not look up who answered; the note names their Slack id only",
                extra=ids(record) | {"reason": exc.reason},
            )
        labels = {a.identifier: attribute_label(a) for a in record.step.attributes}
        values = [(labels.get(v.identifier, v.identifier), v.display) for v in answer.values]
        body = note_body_text(name, answer.user_id, values, answer.comment)
        await self._intercom.add_note(record.step, self._admin_id, body)
        log.info("audit note added", extra=ids(record))
