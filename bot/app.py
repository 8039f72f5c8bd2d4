"""The app factory: builds each part from the settings and wires them into one aiohttp app.

Nothing here decides anything: what a job does is bot/jobs/, when it runs is
bot/lifecycle.py, what a request gets is bot/routes.py.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot import jobs
from bot.domain import StepState
from bot.intake import StepIntake
from bot.intercom.client import IntercomClient
from bot.intercom.webhook import MAX_BODY_BYTES
from bot.jobs.services import Services
from bot.lifecycle import Lifecycle
from bot.metrics import CONTENT_TYPE_LATEST, Metrics
from bot.redact import Redactor
from bot.routes import IntercomWebhook, SlackEvents
from bot.routing import Router
from bot.settings import Settings
from bot.slack.access import AnswerAccess
from bot.slack.edge import Installation, Workspace
from bot.slack.listeners import Interactions
from bot.slack.mentions import remind_mention
from bot.slack.messenger import SlackMessenger
from bot.slack.threads import SlackThreads
from bot.socket_mode import PING_INTERVAL_SECONDS, SocketMode
from bot.store import SqlStore
from bot.worker import Worker

log = logging.getLogger(__name__)

# Both peers answer in well under this; a job must finish well inside its lease.
HTTP_TIMEOUT_SECONDS = 10.0
# At a stop, how long an ephemeral note or a form being opened may still take.
FOLLOW_UP_GRACE_SECONDS = 5.0


@dataclass
class Draining:
    """Set once a stop was asked for: /healthz answers 503 so a load balancer stops
    sending work before the listener closes."""

    started: bool = False


@dataclass(frozen=True)
class Clock:
    """The bot's time, for what handlers read off the app (the metrics' ages)."""

    now: Callable[[], float]


@dataclass(frozen=True)
class _Parts:
    """What the cleanup contexts start and stop, in this order (and back)."""

    slack_clients: tuple[AsyncWebClient, ...]
    http: httpx.AsyncClient
    store: SqlStore
    worker: Worker
    intake: StepIntake
    interactions: Interactions


STORE = web.AppKey("store", SqlStore)
WORKER = web.AppKey("worker", Worker)
BOLT = web.AppKey("bolt", AsyncApp)
METRICS = web.AppKey("metrics", Metrics)
DRAINING = web.AppKey("draining", Draining)
CLOCK = web.AppKey("clock", Clock)
SOCKET_MODE = web.AppKey("socket_mode", SocketMode)
_PARTS = web.AppKey("parts", _Parts)


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], float] = time.time,
    intercom_transport: httpx.AsyncBaseTransport | None = None,
    socket_ping_interval: float = PING_INTERVAL_SECONDS,
) -> web.Application:
    """`intercom_transport` replaces how Intercom is reached (tests route its real API hosts
    to a loopback fake with it); None is the network. `socket_ping_interval`: how soon a
    dead Socket Mode socket is noticed (tests shorten it)."""
    metrics = Metrics()
    redactor = Redactor(settings.secret_values())
    store = SqlStore.connect(settings.database_url)
    http = httpx.AsyncClient(
        timeout=HTTP_TIMEOUT_SECONDS, follow_redirects=False, transport=intercom_transport
    )
    jobs_slack, listeners_slack = _slack_clients(settings)
    router = _router(settings)
    messenger = SlackMessenger(jobs_slack, metrics=metrics, clock=clock, redactor=redactor)
    threads = SlackThreads(jobs_slack, metrics=metrics, redactor=redactor)
    intercom = IntercomClient(
        http, settings.intercom_access_token.get_secret_value(), metrics=metrics, redactor=redactor
    )
    lifecycle = Lifecycle(
        remind_after=settings.hitl_remind_after,
        audit_notes=settings.intercom_admin_id is not None,
        escalation=settings.hitl_escalation,
        claim_seconds=settings.hitl_claim_minutes * 60,
        undo_seconds=settings.hitl_undo_seconds,
    )
    # The worker's transactions give way to those of requests waiting for an answer.
    background = store.background()
    intake = StepIntake(store, clock=clock)
    services = Services(
        store=background,
        messenger=messenger,
        threads=threads,
        intercom=intercom,
        router=router,
        lifecycle=lifecycle,
        metrics=metrics,
        clock=clock,
        admin_id=settings.intercom_admin_id,
    )
    worker = Worker(
        background,
        jobs.tasks(services, give_up_after=settings.hitl_give_up_after),
        owner=_instance_name(),
        poll_interval=settings.hitl_poll_interval,
        lease=settings.hitl_job_lease,
        clock=clock,
        yield_to=intake.quiet,
        sweeps=jobs.sweeps(services),
    )
    interactions = Interactions(
        store, worker.wake, router=router, lifecycle=lifecycle, metrics=metrics, clock=clock
    )
    bolt = _bolt(settings, listeners_slack)
    interactions.register(bolt)

    async def installed_workspace() -> Installation:
        auth = await jobs_slack.auth_test()
        return str(auth["team_id"]), auth.get("enterprise_id") or None

    workspace = Workspace(installed_workspace)
    socket_mode = (
        SocketMode(
            bolt,
            workspace,
            app_token=settings.slack_app_token.get_secret_value(),
            web_client=listeners_slack,
            ping_interval=socket_ping_interval,
        )
        if settings.slack_app_token is not None
        else None
    )

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[STORE], app[WORKER], app[BOLT], app[METRICS] = store, worker, bolt, metrics
    app[DRAINING], app[CLOCK] = Draining(), Clock(clock)
    app[_PARTS] = _Parts((jobs_slack, listeners_slack), http, store, worker, intake, interactions)
    # Started in this order, stopped in the reverse one.
    app.cleanup_ctx.extend([_slack_session, _store_and_worker, _webhook_intake])
    if socket_mode is not None:
        app[SOCKET_MODE] = socket_mode
        app.cleanup_ctx.append(_socket_mode)

    webhook = IntercomWebhook(
        intake,
        worker.wake,
        client_secret=settings.intercom_client_secret.get_secret_value(),
        allowed_origins=settings.intercom_api_origins,
        metrics=metrics,
        body_timeout=settings.hitl_body_timeout,
    )
    app.router.add_post("/intercom/webhook", webhook.handle)
    if settings.slack_signing_secret is not None and socket_mode is None:
        # In Socket Mode Slack's requests come only over the socket: no Slack route is
        # served, whether or not a signing secret is set.
        slack_events = SlackEvents(
            bolt,
            workspace,
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            body_timeout=settings.hitl_body_timeout,
        )
        app.router.add_post("/slack/events", slack_events.handle)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics_page)
    return app


def _router(settings: Settings) -> Router:
    mention = settings.hitl_remind_mention
    return Router(
        settings.hitl_routes_file.routes if settings.hitl_routes_file else (),
        default_channel=settings.slack_channel_id,
        default_mention=remind_mention(mention) if mention else None,
        default_access=AnswerAccess(settings.slack_allowed_users, settings.slack_allowed_usergroup),
        default_escalate_to=settings.hitl_escalate_to,
    )


def _slack_clients(settings: Settings) -> tuple[AsyncWebClient, AsyncWebClient]:
    """The jobs' client and the listeners' (whose token Bolt adds per request)."""
    # Jobs use a client with no retry handlers so a 429 returns at once and the job
    # itself waits out Retry-After; the listeners' client retries dropped connections.
    jobs_slack = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=int(HTTP_TIMEOUT_SECONDS),
    )
    jobs_slack.retry_handlers = []
    listeners_slack = AsyncWebClient(
        base_url=settings.slack_api_url,
        timeout=int(HTTP_TIMEOUT_SECONDS),
        retry_handlers=[AsyncConnectionErrorRetryHandler(max_retry_count=1)],
    )
    return jobs_slack, listeners_slack


def _bolt(settings: Settings, client: AsyncWebClient) -> AsyncApp:
    token = settings.slack_bot_token.get_secret_value()

    async def authorize(**_: Any) -> AuthorizeResult:
        # One workspace, one bot token: no need for Bolt's auth.test round trip.
        return AuthorizeResult(enterprise_id=None, team_id=None, bot_token=token)

    secret = settings.slack_signing_secret
    return AsyncApp(
        # "" rather than None: None would make Bolt read SLACK_SIGNING_SECRET itself.
        signing_secret=secret.get_secret_value() if secret is not None else "",
        client=client,
        authorize=authorize,
        # Verified before Bolt sees a request (bot/slack/edge.py), on the raw bytes.
        request_verification_enabled=False,
        logger=logging.getLogger("bot.slack.bolt"),
        # Answer Slack as soon as a listener returns instead of polling for its ack every
        # 10 ms; listeners hand what follows the ack to tasks (see bot/slack/listeners.py).
        process_before_response=True,
    )


async def _slack_session(app: web.Application) -> AsyncIterator[None]:
    # One pooled session for every Slack call (slack_sdk otherwise opens a session, and a
    # connection, per call). Closed last: the worker's jobs use it until they stop.
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT_SECONDS))
    for client in app[_PARTS].slack_clients:
        client.session = session  # Bolt's per-request clients take it from the listeners'
    try:
        yield
    finally:
        await session.close()


async def _store_and_worker(app: web.Application) -> AsyncIterator[None]:
    parts = app[_PARTS]
    await parts.store.migrate()
    parts.worker.start()
    try:
        yield
    finally:
        # Follow-ups of clicks still running use the store and Slack's session.
        await parts.interactions.stop(FOLLOW_UP_GRACE_SECONDS)
        await parts.worker.stop()
        await parts.http.aclose()
        await parts.store.close()


async def _webhook_intake(app: web.Application) -> AsyncIterator[None]:
    # Started after the store is migrated; stopped (after committing what is queued)
    # before the worker and the store.
    intake = app[_PARTS].intake
    intake.start()
    try:
        yield
    finally:
        await intake.stop()


async def _socket_mode(app: web.Application) -> AsyncIterator[None]:
    # Started once the store, worker and intake run (its envelopes use them); stopped
    # first, letting envelopes being handled finish and acknowledge.
    socket_mode = app[SOCKET_MODE]
    await socket_mode.start()
    try:
        yield
    finally:
        await socket_mode.stop(FOLLOW_UP_GRACE_SECONDS)


async def _healthz(request: web.Request) -> web.Response:
    if request.app[DRAINING].started:
        return web.json_response({"status": "draining"}, status=503)
    return web.json_response({"status": "ok"})


async def _metrics_page(request: web.Request) -> web.Response:
    # Gauges about stored steps are read at scrape time: any instance reports the truth.
    store, metrics = request.app[STORE], request.app[METRICS]
    counts = await store.state_counts()
    for state in StepState:
        metrics.steps.labels(state.value).set(counts.get(state, 0))
    metrics.pending.set(counts.get(StepState.RECEIVED, 0) + counts.get(StepState.POSTED, 0))
    oldest = await store.oldest_open_received_at()
    now = request.app[CLOCK].now()
    metrics.oldest_pending_age.set(max(0.0, now - oldest) if oldest is not None else 0.0)
    return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def _instance_name() -> str:
    """Names this process in job leases, so logs show which instance held a job."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
