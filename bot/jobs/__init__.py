"""The durable jobs and what each does to a step, one module each, registered here with
its retry rule (see bot/worker.py); which job follows which transition is bot/lifecycle.py.

Every handler is safe to run again: a job whose instance died mid-way is taken up by
another, so each one first checks what is already done.

Adding a kind: a `JobKind` in bot/domain.py, its line in bot/lifecycle.py, a handler
module here, and its entry in `tasks()` below.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.domain import JobKind
from bot.intercom.client import IntercomClient
from bot.jobs.common import log_giving_up
from bot.jobs.deliver import DeliverAnswer
from bot.jobs.expire import ExpireStep
from bot.jobs.note import AddAuditNote
from bot.jobs.post import PostStep
from bot.jobs.refresh import RefreshMessage
from bot.jobs.remind import RemindThread
from bot.jobs.settling import Settler
from bot.jobs.trail import ReplyInThread
from bot.lifecycle import Lifecycle
from bot.metrics import Metrics
from bot.routing import Router
from bot.slack.messenger import SlackMessenger
from bot.slack.threads import SlackThreads
from bot.store import SqlStore
from bot.worker import RetryRule, Task

log = logging.getLogger(__name__)


def tasks(
    *,
    store: SqlStore,
    messenger: SlackMessenger,
    threads: SlackThreads,
    intercom: IntercomClient,
    router: Router,
    lifecycle: Lifecycle,
    metrics: Metrics,
    clock: Callable[[], float],
    give_up_after: float,
    admin_id: str | None,
) -> dict[str, Task]:
    """Every job kind's task. `give_up_after`: how long any job is retried at most."""
    settler = Settler(store, lifecycle, metrics, clock)
    # Work on the step itself (its message, its answer) ends when the step expires.
    while_open = RetryRule(give_up_after, until_step_expires=True)
    # News about how a step ended (its trail, its note) is worth sending after expiry too.
    as_news = RetryRule(give_up_after)
    deliver = DeliverAnswer(store, intercom, settler)
    registry = {
        JobKind.POST: Task(
            PostStep(store, messenger, router, lifecycle, clock),
            while_open,
            log_giving_up(log, "giving up on a Slack job"),
        ),
        JobKind.DELIVER: Task(deliver, while_open, deliver.give_up),
        JobKind.REFRESH: Task(
            RefreshMessage(store, messenger),
            while_open,
            log_giving_up(log, "could not update the Slack message; giving up"),
        ),
        JobKind.EXPIRE: Task(ExpireStep(store, settler)),
        JobKind.TRAIL: Task(
            ReplyInThread(store, threads),
            as_news,
            log_giving_up(log, "giving up replying in the step's thread"),
        ),
        JobKind.REMIND: Task(
            RemindThread(store, threads, router, lifecycle, clock),
            while_open,
            log_giving_up(log, "could not post a reminder; no more reminders for this step"),
        ),
        JobKind.NOTE: Task(
            AddAuditNote(store, intercom, threads, admin_id),
            as_news,
            log_giving_up(log, "giving up adding the audit note"),
        ),
    }
    return {kind.value: task for kind, task in registry.items()}
