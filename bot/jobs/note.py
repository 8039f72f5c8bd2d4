"""The note job: Intercom's internal note on the conversation saying who answered in Slack."""

from __future__ import annotations

import json
import logging

from bot.domain import StepRecord, StepState
from bot.intercom.client import claim_note_text, note_body_text
from bot.jobs.common import ids
from bot.jobs.services import Services
from bot.slack.form import attribute_label
from bot.slack.messenger import SlackPermanent, SlackRetryable
from bot.store import Job

log = logging.getLogger(__name__)


async def add_audit_note(s: Services, job: Job) -> None:
    """The answer's note ("Answered in Slack by …"), or a claim's (the job's detail)."""
    record = await s.record_of(job)
    if s.admin_id is None or record is None or record.step.test:
        return  # no admin to write as (unset since the job was written), or a test step
    claimer = claimed_by(job.detail)
    if claimer is not None:
        name = await _name(s, record, claimer)
        await s.intercom.add_note(record.step, s.admin_id, claim_note_text(name))
        log.info("claim note added", extra=ids(record))
        return
    answer = record.answer
    if answer is None or record.state != StepState.ANSWERED:
        return
    name = await _name(s, record, answer.user_id)
    labels = {a.identifier: attribute_label(a) for a in record.step.attributes}
    values = [(labels.get(v.identifier, v.identifier), v.display) for v in answer.values]
    body = note_body_text(name, answer.user_id, values, answer.comment)
    await s.intercom.add_note(record.step, s.admin_id, body)
    log.info("audit note added", extra=ids(record))


def claimed_by(detail: str | None) -> str | None:
    """Who the note says is on the step, when the job is a claim's."""
    try:
        about = json.loads(detail) if detail else None
    except ValueError:
        return None
    if isinstance(about, dict) and about.get("event") == "claimed":
        return str(about.get("by") or "") or None
    return None


async def _name(s: Services, record: StepRecord, user_id: str) -> str:
    try:
        return await s.threads.real_name(user_id) or user_id
    except (SlackRetryable, SlackPermanent) as exc:
        # The id alone still says who; not worth holding the note back.
        log.warning(
            "could not look up a Slack user's name; the note names their id only",
            extra=ids(record) | {"reason": exc.reason},
        )
        return user_id
