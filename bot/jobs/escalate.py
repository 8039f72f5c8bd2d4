"""The escalate job: the route's escalation people (`escalate_to`, else `HITL_ESCALATE_TO`)
get a direct message with the question and a link to the step; the thread says who.

In two steps, so a retry never messages anyone twice: the first job finds who (a user
group's members are read then) and writes one job per person plus the thread's record
(bot/lifecycle.py `escalating`); each of those sends one DM.
"""

from __future__ import annotations

import json
import logging

from bot.jobs.common import ids
from bot.jobs.services import Services
from bot.slack.trail import escalation_dm
from bot.store import Job

log = logging.getLogger(__name__)


async def escalate(s: Services, job: Job) -> None:
    record = await s.record_of(job)
    if record is None or not record.state.is_open or record.message_ts is None:
        return
    to = _dm_to(job.detail)
    if to is not None:
        await s.threads.direct_message(to, escalation_dm(record))
        log.info("escalation sent", extra=ids(record) | {"user_id": to})
        return
    users, group = s.router.escalate_to_for(record.step)
    if group is not None:
        users = tuple(await s.threads.group_members(group))
    if not users:
        log.info("nobody to escalate to (escalate_to is unset)", extra=ids(record))
        return
    effects = s.lifecycle.escalating(users, group, s.clock())
    await s.store.write_if_open(record.step.step_id, effects)
    log.info("escalating", extra=ids(record) | {"to": len(users)})


def _dm_to(detail: str | None) -> str | None:
    """Whom this job messages: set on the jobs the first one writes, one per person."""
    try:
        about = json.loads(detail) if detail else None
    except ValueError:
        return None
    if isinstance(about, dict) and about.get("event") == "dm" and isinstance(about.get("to"), str):
        return str(about["to"])
    return None
