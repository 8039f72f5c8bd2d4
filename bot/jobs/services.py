"""What job handlers act with: one bundle, built once by the app; each handler uses the
few parts it needs, and tests build it from the fakes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.domain import StepRecord
from bot.intercom.client import IntercomClient
from bot.lifecycle import Lifecycle
from bot.metrics import Metrics
from bot.routing import Router
from bot.slack.messenger import SlackMessenger
from bot.slack.threads import SlackThreads
from bot.store import Job, SqlStore


@dataclass(frozen=True)
class Services:
    store: SqlStore
    messenger: SlackMessenger
    threads: SlackThreads
    intercom: IntercomClient
    router: Router
    lifecycle: Lifecycle
    metrics: Metrics
    clock: Callable[[], float]
    # The Intercom admin audit notes are written as (INTERCOM_ADMIN_ID); None: no notes.
    admin_id: str | None = None

    async def record_of(self, job: Job) -> StepRecord | None:
        """The step as it stood when the job was claimed (read in the claim's
        transaction); only a job built by hand, in a test, comes without it."""
        return job.record if job.record is not None else await self.store.get(job.step_id)
