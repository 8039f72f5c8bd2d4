"""Job handlers run alone: a real store, the fake Slack and Intercom on loopback, and the
clients the handlers take; no app, no worker."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import JobKind, Step
from bot.intercom.client import IntercomClient
from bot.jobs.services import Services
from bot.lifecycle import Lifecycle
from bot.metrics import Metrics
from bot.routing import Router
from bot.slack.access import AnswerAccess
from bot.slack.messenger import SlackMessenger
from bot.slack.threads import SlackThreads
from bot.store import Job, SqlStore
from bot.testing.intercom import FakeIntercom
from bot.testing.slack import FakeSlack
from tests.store.factories import make_step

Handler = Callable[[Services, Job], Awaitable[None]]
TOKEN = "xoxb-jobs-test-token"
INTERCOM_TOKEN = "jobs-intercom-token"
CHANNEL = "C0JOBS"


@dataclass
class Kit:
    services: Services
    slack: FakeSlack
    intercom: FakeIntercom

    @property
    def store(self) -> SqlStore:
        return self.services.store

    def step(self, **fields: object) -> Step:
        """A step whose callback is the fake Intercom's."""
        step = make_step(**fields)  # type: ignore[arg-type]
        url = self.intercom.callback_url(step.conversation_id)
        return step.model_copy(update={"callback_url": url})

    async def job(self, step_id: str, kind: JobKind) -> Job:
        """The step's job of `kind`, claimed as a worker would; every job before it (and
        any an earlier call claimed) is finished first."""
        await self.store.release_jobs("test")
        while claimed := await self.store.claim_jobs("test", time.time() + 10**6, 30, 10):
            for job in claimed:
                if job.step_id == step_id and job.kind == kind:
                    return job
                await self.store.finish_job(job, "test")
        raise AssertionError(f"no {kind} job for {step_id}")

    async def run(self, handler: Handler, step_id: str, kind: JobKind) -> Job:
        """Claims the step's job of `kind`, runs `handler` on it and finishes it."""
        job = await self.job(step_id, kind)
        await handler(self.services, job)
        await self.store.finish_job(job, "test")
        return job


@pytest.fixture
async def kit(tmp_path: object) -> AsyncIterator[Kit]:
    store = await SqlStore.open(f"sqlite:///{tmp_path}/jobs.db")
    async with (
        FakeSlack(token=TOKEN) as slack,
        FakeIntercom(access_token=INTERCOM_TOKEN) as intercom,
        aiohttp.ClientSession() as session,
        httpx.AsyncClient(timeout=5) as http,
    ):
        web = AsyncWebClient(token=TOKEN, base_url=slack.base_url, session=session)
        web.retry_handlers = []
        metrics = Metrics()
        lifecycle = Lifecycle(remind_after=60, audit_notes=True)
        router = Router(
            (),
            default_channel=CHANNEL,
            default_mention="<@U0LEAD>",
            default_access=AnswerAccess(),
        )
        yield Kit(
            services=Services(
                store=store,
                messenger=SlackMessenger(web, metrics=metrics),
                threads=SlackThreads(web, metrics=metrics),
                intercom=IntercomClient(http, INTERCOM_TOKEN, metrics=metrics),
                router=router,
                lifecycle=lifecycle,
                metrics=metrics,
                clock=time.time,
                admin_id="991",
            ),
            slack=slack,
            intercom=intercom,
        )
    await store.close()
