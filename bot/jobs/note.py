"""The note job: Intercom's internal note on the conversation saying who answered in Slack."""

from __future__ import annotations

import logging

from bot.domain import StepState
from bot.intercom.client import note_body_text
from bot.jobs.common import ids
from bot.jobs.services import Services
from bot.slack.form import attribute_label
from bot.slack.messenger import SlackPermanent, SlackRetryable
from bot.store import Job

log = logging.getLogger(__name__)


async def add_audit_note(s: Services, job: Job) -> None:
    record = await s.record_of(job)
    answer = record.answer if record is not None else None
    if (
        s.admin_id is None  # unset since the job was written
        or record is None
        or answer is None
        or record.step.test
        or record.state != StepState.ANSWERED
    ):
        return
    name = answer.user_id
    try:
        name = await s.threads.real_name(answer.user_id) or answer.user_id
    except (SlackRetryable, SlackPermanent) as exc:
        # The id alone still says who answered; not worth holding the note back.
        log.warning(
            "could not look up who answered; the note names their Slack id only",
            extra=ids(record) | {"reason": exc.reason},
        )
    labels = {a.identifier: attribute_label(a) for a in record.step.attributes}
    values = [(labels.get(v.identifier, v.identifier), v.display) for v in answer.values]
    body = note_body_text(name, answer.user_id, values, answer.comment)
    await s.intercom.add_note(record.step, s.admin_id, body)
    log.info("audit note added", extra=ids(record))
