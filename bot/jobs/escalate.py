"""The escalate job: the route's escalation people (`escalate_to`, else `HITL_ESCALATE_TO`)
get a direct message with the question and a link to the step; the thread says who."""

from __future__ import annotations

import logging

from bot.jobs.common import ids
from bot.jobs.services import Services
from bot.slack.mentions import mention
from bot.slack.trail import escalated_text, escalation_dm
from bot.store import Job

log = logging.getLogger(__name__)


async def escalate(s: Services, job: Job) -> None:
    record = await s.record_of(job)
    if record is None or not record.state.is_open or record.message_ts is None:
        return
    users, group = s.router.escalate_to_for(record.step)
    if group is not None:
        users = tuple(await s.threads.group_members(group))
    if not users:
        log.info("nobody to escalate to (escalate_to is unset)", extra=ids(record))
        return
    text = escalation_dm(record)
    for user_id in users:
        await s.threads.direct_message(user_id, text)
    whom = f"<!subteam^{group}>" if group else ", ".join(mention(u) for u in users)
    if record.channel_id is not None:
        fraction = s.lifecycle.escalation[1]
        await s.threads.reply(record.channel_id, record.message_ts, escalated_text(whom, fraction))
    log.info("escalated", extra=ids(record) | {"to": len(users)})
