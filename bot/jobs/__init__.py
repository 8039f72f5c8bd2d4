"""The durable jobs and what each does to a step, one module each, registered here with
its retry rule (see bot/worker.py); which job follows which transition is bot/lifecycle.py.

Every handler is safe to run again: a job whose instance died mid-way is taken up by
another, so each one first checks what is already done.

Adding a kind: a `JobKind` in bot/domain.py, its line in bot/lifecycle.py, a handler
module here (an `async def (services, job)`), and its entry in `tasks()` below.
"""

from __future__ import annotations

import logging
from functools import partial

from bot.domain import JobKind
from bot.jobs.common import log_giving_up
from bot.jobs.deliver import deliver_answer, give_up_delivering
from bot.jobs.escalate import escalate
from bot.jobs.expire import expire_due_steps, expire_step
from bot.jobs.lapse import show_lapsed_claim
from bot.jobs.note import add_audit_note
from bot.jobs.post import post_step
from bot.jobs.refresh import refresh_message
from bot.jobs.remind import remind_thread
from bot.jobs.services import Services
from bot.jobs.trail import reply_in_thread
from bot.worker import RetryRule, Sweep, Task

log = logging.getLogger(__name__)


def tasks(services: Services, *, give_up_after: float) -> dict[str, Task]:
    """Every job kind's task. `give_up_after`: how long any job is retried at most."""
    s = services
    # Work on the step itself (its message, its answer) ends when the step expires.
    while_open = RetryRule(give_up_after, until_step_expires=True)
    # News about how a step ended (its trail, its note) is worth sending after expiry too.
    as_news = RetryRule(give_up_after)
    registry = {
        JobKind.POST: Task(
            partial(post_step, s), while_open, log_giving_up(log, "giving up on a Slack job")
        ),
        JobKind.DELIVER: Task(
            partial(deliver_answer, s), while_open, partial(give_up_delivering, s)
        ),
        JobKind.REFRESH: Task(
            partial(refresh_message, s),
            while_open,
            log_giving_up(log, "could not update the Slack message; giving up"),
        ),
        JobKind.EXPIRE: Task(partial(expire_step, s)),
        JobKind.TRAIL: Task(
            partial(reply_in_thread, s),
            as_news,
            log_giving_up(log, "giving up replying in the step's thread"),
        ),
        JobKind.REMIND: Task(
            partial(remind_thread, s),
            while_open,
            log_giving_up(log, "could not post a reminder; no more reminders for this step"),
        ),
        JobKind.LAPSE: Task(
            partial(show_lapsed_claim, s),
            while_open,
            log_giving_up(log, "could not show that a claim ran out; giving up"),
        ),
        JobKind.ESCALATE: Task(
            partial(escalate, s),
            while_open,
            log_giving_up(log, "could not send the escalation; giving up"),
        ),
        JobKind.NOTE: Task(
            partial(add_audit_note, s),
            as_news,
            log_giving_up(log, "giving up adding the audit note"),
        ),
    }
    return {kind.value: task for kind, task in registry.items()}


def sweeps(services: Services) -> list[Sweep]:
    """What the worker runs once per poll, beside the jobs: expiring the steps now due."""
    return [partial(expire_due_steps, services)]
