"""The app factory: wires settings, store, clients, Bolt and the worker into one aiohttp app."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import httpx
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import StepState
from bot.intake import StepIntake
from bot.intercom.client import IntercomClient
from bot.intercom.webhook import MAX_BODY_BYTES
from bot.jobs import StepJobs
from bot.listener import install as install_listener_limits
from bot.metrics import CONTENT_TYPE_LATEST, Metrics
from bot.redact import Redactor
from bot.routes import IntercomWebhook, SlackEvents
from bot.routing import Router, load_routes
from bot.settings import Settings, remind_mention
from bot.slack.access import AnswerAccess
from bot.slack.edge import Installation, Workspace
from bot.slack.listeners import Interactions
from bot.slack.messenger import SlackMessenger
from bot.slack.threads import SlackThreads
from bot.store import SqlStore
from bot.worker import Worker

log = logging.getLogger(__name__)

STORE = web.AppKey("store", SqlStore)
WORKER = web.AppKey("worker", Worker)
BOLT = web.AppKey("bolt", AsyncApp)
METRICS = web.AppKey("metrics", Metrics)
# Set when a stop was asked for: /healthz answers 503 so a load balancer stops sending work.
DRAINING = web.AppKey("draining", list[bool])

# Both peers answer in well under this; a job must finish well inside its lease.
HTTP_TIMEOUT_SECONDS = 10.0
# At a stop, how long an ephemeral note or a form being opened may still take.
FOLLOW_UP_GRACE_SECONDS = 5.0


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], float] = time.time,
    intercom_transport: httpx.AsyncBaseTransport | None = None,
) -> web.Application:
    """`intercom_transport` replaces how Intercom is reached (tests route its real API hosts
    to a loopback fake with it); None is the network."""
    metrics = Metrics()
    store = SqlStore.connect(settings.database_url)
    http = httpx.AsyncClient(
        timeout=HTTP_TIMEOUT_SECONDS, follow_redirects=False, transport=intercom_transport
    )
    token = settings.slack_bot_token.get_secret_value()
    # Jobs use a client with no retry handlers so a 429 returns at once and the job
    # itself waits out Retry-After; the listeners' client retries dropped connections.
    jobs_slack = AsyncWebClient(
        token=token, base_url=settings.slack_api_url, timeout=int(HTTP_TIMEOUT_SECONDS)
    )
    jobs_slack.retry_handlers = []
    # No token here: Bolt gives each listener a client with the token from `authorize`.
    listeners_slack = AsyncWebClient(
        base_url=settings.slack_api_url,
        timeout=int(HTTP_TIMEOUT_SECONDS),
        retry_handlers=[AsyncConnectionErrorRetryHandler(max_retry_count=1)],
    )

    default_mention = (
        remind_mention(settings.hitl_remind_mention) if settings.hitl_remind_mention else None
    )
    router = Router(
        load_routes(settings.hitl_routes_file) if settings.hitl_routes_file else (),
        default_channel=settings.slack_channel_id,
        default_mention=default_mention,
        default_access=AnswerAccess(settings.slack_allowed_users, settings.slack_allowed_usergroup),
    )
    redactor = Redactor(settings.secret_values())
    messenger = SlackMessenger(jobs_slack, metrics=metrics, clock=clock, redactor=redactor)
    # The worker's transactions give way to those of requests waiting for an answer.
    background_store = store.background()
    step_jobs = StepJobs(
        background_store,
        messenger,
        IntercomClient(
            http,
            settings.intercom_access_token.get_secret_value(),
            metrics=metrics,
            redactor=redactor,
        ),
        channel_id=settings.slack_channel_id,
        give_up_after=settings.hitl_give_up_after,
        find_posted=messenger.find_step_message,
        clock=clock,
        metrics=metrics,
        threads=SlackThreads(jobs_slack, metrics=metrics, redactor=redactor),
        remind_after=settings.hitl_remind_after,
        remind_mention=default_mention,
        admin_id=settings.intercom_admin_id,
        router=router,
    )
    intake = StepIntake(store, clock=clock)
    worker = Worker(
        background_store,
        step_jobs.handlers(),
        owner=_instance_name(),
        poll_interval=settings.hitl_poll_interval,
        lease=settings.hitl_job_lease,
        clock=clock,
        yield_to=intake.quiet,
    )

    async def authorize(**_: Any) -> AuthorizeResult:
        # One workspace, one bot token: no need for Bolt's auth.test round trip.
        return AuthorizeResult(enterprise_id=None, team_id=None, bot_token=token)

    bolt = AsyncApp(
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        client=listeners_slack,
        authorize=authorize,
        # Verified before Bolt sees a request (bot/slack/edge.py), on the raw bytes.
        request_verification_enabled=False,
        logger=logging.getLogger("bot.slack.bolt"),
        # Answer Slack as soon as a listener returns instead of polling for its ack every
        # 10 ms; listeners hand what follows the ack to tasks (see bot/slack/listeners.py).
        process_before_response=True,
    )
    interactions = Interactions(store, worker.wake, clock=clock, metrics=metrics, router=router)
    interactions.register(bolt)
    webhook = IntercomWebhook(
        intake,
        worker.wake,
        client_secret=settings.intercom_client_secret.get_secret_value(),
        allowed_origins=settings.intercom_api_origins,
        metrics=metrics,
        body_timeout=settings.hitl_body_timeout,
    )

    async def installed_workspace() -> Installation:
        auth = await jobs_slack.auth_test()
        return str(auth["team_id"]), auth.get("enterprise_id") or None

    slack_events = SlackEvents(
        bolt,
        Workspace(installed_workspace),
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        body_timeout=settings.hitl_body_timeout,
    )

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    install_listener_limits(app)
    app[STORE] = store
    app[WORKER] = worker
    app[BOLT] = bolt
    app[METRICS] = metrics
    app[DRAINING] = [False]

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        await store.migrate()
        worker.start()
        try:
            yield
        finally:
            # Follow-ups of clicks still running use the store and Slack's session.
            await interactions.stop(FOLLOW_UP_GRACE_SECONDS)
            await worker.stop()
            await http.aclose()
            await store.close()

    async def slack_http(_app: web.Application) -> AsyncIterator[None]:
        # One pooled session for every Slack call (slack_sdk otherwise opens a session,
        # and a connection, per call). Closed last: the worker's jobs use it until they stop.
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT_SECONDS))
        jobs_slack.session = session
        listeners_slack.session = session  # Bolt's per-request clients take it from here
        try:
            yield
        finally:
            await session.close()

    async def webhook_intake(_app: web.Application) -> AsyncIterator[None]:
        # Started after the store is migrated; stopped (after committing what is queued)
        # before the worker and the store.
        intake.start()
        try:
            yield
        finally:
            await intake.stop()

    app.cleanup_ctx.append(slack_http)
    app.cleanup_ctx.append(lifecycle)
    app.cleanup_ctx.append(webhook_intake)
    app.router.add_post("/intercom/webhook", webhook.handle)
    app.router.add_post("/slack/events", slack_events.handle)

    async def healthz(_request: web.Request) -> web.Response:
        if app[DRAINING][0]:
            return web.json_response({"status": "draining"}, status=503)
        return web.json_response({"status": "ok"})

    app.router.add_get("/healthz", healthz)

    async def metrics_page(_request: web.Request) -> web.Response:
        # Gauges about stored steps are read at scrape time: any instance reports the truth.
        counts = await store.state_counts()
        for state in StepState:
            metrics.steps.labels(state.value).set(counts.get(state, 0))
        metrics.pending.set(counts.get(StepState.RECEIVED, 0) + counts.get(StepState.POSTED, 0))
        oldest = await store.oldest_open_received_at()
        metrics.oldest_pending_age.set(max(0.0, clock() - oldest) if oldest is not None else 0.0)
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/metrics", metrics_page)
    return app


def _instance_name() -> str:
    """Names this process in job leases, so logs show which instance held a job."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
