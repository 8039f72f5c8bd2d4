"""Bolt listeners: the buttons, the form, its type-ahead options and the `/hitl` command.

Each listener acks within Slack's 3 seconds; anything slow or failure-prone is left to
durable jobs, which the worker is woken for.

Bolt runs with `process_before_response=True`: it answers Slack the moment a listener
returns. (Otherwise it runs the listener as a task and polls for the ack every 10 ms, which
added 10 ms to every click, submission and `/hitl`.) So a listener does what the answer
needs, acks, and hands anything after that (opening the form, an ephemeral note) to
`_after_ack`, which runs it as a tracked task.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import Answer, AnswerValue, StepRecord
from bot.metrics import Metrics
from bot.routing import Router
from bot.samples import test_step
from bot.slack.access import NOT_ALLOWED, AnswerAccess
from bot.slack.blocks import home_view, pending_list, stats_message
from bot.slack.form import (
    FormTooLarge,
    boolean_answer,
    build_form_view,
    comment_of,
    options_for_query,
    parse_submission,
)
from bot.slack.notices import closed_view, notice_view, unanswerable_note, why_closed
from bot.slack.visibility import PendingVisibility
from bot.stats import STATS_WINDOW_SECONDS, procedure_stats
from bot.store import SqlStore

log = logging.getLogger(__name__)

OPEN_ACTION = re.compile(r"^hitl\.open")
YES_ACTION = "hitl.answer.yes"
NO_ACTION = "hitl.answer.no"
SUBMIT_CALLBACK = "hitl.submit"
OPTIONS_ACTION = re.compile(r"^hitl\.options\.(\d+)$")
HITL_HELP = (
    "*/hitl* lists the Fin steps waiting for a teammate, newest first, with a link to each.\n"
    "*/hitl stats* shows, per procedure over the last 7 days, how many steps were answered "
    "and expired, and the median and 90th-percentile time to answer.\n"
    "*/hitl test* posts a test step to the channel; its answer is not sent to Intercom.\n"
    "*/hitl help* shows this text.\n"
    "Answer a step with its *Answer* button (or *Yes* / *No*) on the channel message."
)
# /hitl shows this many steps; the rest are counted, not listed (Block Kit caps a message).
PENDING_SHOWN = 20
TEST_QUEUED = (
    "🧪 A test step is on its way to the channel. Answer it there: the answer is shown "
    "but not sent to Intercom."
)
# `/hitl test` posts at most this many test steps per person per window: a typo'd loop of
# slash commands must not fill the channel.
TESTS_PER_WINDOW = 3
TEST_WINDOW_SECONDS = 60.0
TEST_LIMITED = (
    "You have posted {count} test steps in the last minute; the next one can go in {seconds} s."
)
# The Home tab lists this many open steps and this many of the viewer's answers.
HOME_PENDING_SHOWN = 20
HOME_MINE_SHOWN = 10


class Interactions:
    def __init__(
        self,
        store: SqlStore,
        wake_worker: Callable[[], None],
        *,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
        access: AnswerAccess | None = None,
        router: Router | None = None,
    ) -> None:
        self._metrics = metrics or Metrics()
        self._access = access or AnswerAccess()
        self._router = router
        self._store = store
        self._wake_worker = wake_worker
        self._clock = clock
        self._follow_ups: set[asyncio.Task[None]] = set()
        self._test_limit = PerUserLimit(TESTS_PER_WINDOW, TEST_WINDOW_SECONDS)
        self._visibility = PendingVisibility(
            store,
            router
            or Router((), default_channel="", default_mention=None, default_access=self._access),
        )

    def _after_ack(self, work: Coroutine[Any, Any, None], what: str) -> None:
        """Runs `work` after the listener returns, i.e. after Slack has its answer."""
        task = asyncio.create_task(work, name=f"slack-{what}")
        self._follow_ups.add(task)
        task.add_done_callback(self._follow_up_done)

    def _follow_up_done(self, task: asyncio.Task[None]) -> None:
        self._follow_ups.discard(task)
        if task.cancelled() or (exc := task.exception()) is None:
            return
        if isinstance(exc, SlackApiError):
            # Slack refused the call (an expired trigger_id, say): news, not a bug.
            error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
            log.warning(
                "slack follow-up refused by Slack",
                extra={"follow_up": task.get_name(), "error": error or exc.response.status_code},
            )
            return
        log.error("slack follow-up failed", exc_info=exc, extra={"follow_up": task.get_name()})

    async def stop(self, grace: float) -> None:
        """Lets follow-ups still running (single Slack calls) finish within `grace` seconds,
        then cancels the rest: nothing in them is durable state."""
        if not self._follow_ups:
            return
        _, late = await asyncio.wait(set(self._follow_ups), timeout=grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    def _access_for(self, record: StepRecord | None) -> AnswerAccess:
        """Who may answer this step: its route's answerers, else the global setting."""
        if self._router is None:
            return self._access
        return self._router.access_for(record.step if record else None)

    def register(self, app: AsyncApp) -> None:
        app.action(OPEN_ACTION)(self.open_form)
        app.action(YES_ACTION)(self.answer_yes)
        app.action(NO_ACTION)(self.answer_no)
        app.view(SUBMIT_CALLBACK)(self.submit_form)
        app.options(OPTIONS_ACTION)(self.list_options)
        app.command("/hitl")(self.list_pending)
        app.event("app_home_opened")(self.publish_home)

    async def open_form(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        self._after_ack(self._open_form(body, client, respond), "open-form")

    async def _open_form(
        self, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        record = await self._store.get(_action_value(body))
        if record is None or not record.state.is_open:
            await self._tell_clicker(body, client, respond, why_closed(record))
            return
        if not record.step.answerable:
            await self._tell_clicker(body, client, respond, unanswerable_note(record.step))
            return
        if not await self._access_for(record).allows(_user_id(body), client):
            await self._tell_clicker(body, client, respond, NOT_ALLOWED)
            return
        try:
            view = build_form_view(record.step)
        except FormTooLarge:
            await _tell(
                respond,
                "This step asks for more than a Slack form can hold; answer it in Intercom.",
            )
            return
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    async def answer_yes(
        self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await self._answer_boolean(ack, body, respond, client, True)

    async def answer_no(
        self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await self._answer_boolean(ack, body, respond, client, False)

    async def _answer_boolean(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        value: bool,
    ) -> None:
        record = await self._store.get(_action_value(body))
        if record is None or not record.state.is_open or not record.step.single_boolean:
            await ack()
            self._after_ack(_tell(respond, why_closed(record)), "closed-note")
            return
        if not record.step.answerable:
            await ack()
            self._after_ack(_tell(respond, unanswerable_note(record.step)), "closed-note")
            return
        if not await self._access_for(record).allows(_user_id(body), client):
            await ack()
            self._after_ack(_tell(respond, NOT_ALLOWED), "not-allowed-note")
            return
        # Claimed before the ack: once Slack has its answer the click is not sent again,
        # so an answer acknowledged before it is stored could be lost.
        won, current = await self._claim(record, boolean_answer(record.step, value), body)
        await ack()
        if not won:
            self._after_ack(_tell(respond, why_closed(current)), "closed-note")

    async def submit_form(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        view = body.get("view") or {}
        record = await self._store.get(_step_id_of_view(view))
        if record is None or not record.state.is_open:
            await ack(response_action="update", view=closed_view(record))
            return
        if not record.step.answerable:
            await ack(response_action="update", view=notice_view(unanswerable_note(record.step)))
            return
        # Never trust that the form was only shown to someone allowed: check again here.
        if not await self._access_for(record).allows(_user_id(body), client):
            await ack(response_action="update", view=notice_view(NOT_ALLOWED))
            return
        state_values = (view.get("state") or {}).get("values") or {}
        values, errors = parse_submission(record.step, state_values)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        won, current = await self._claim(record, values, body, comment_of(state_values))
        if won:
            await ack()
        else:
            await ack(response_action="update", view=closed_view(current))

    async def list_options(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        match = OPTIONS_ACTION.match(str(body.get("action_id", "")))
        record = await self._store.get(_step_id_of_view(body.get("view") or {}))
        if match is None or record is None:
            await ack(options=[])
            return
        index = int(match.group(1))
        attributes = record.step.attributes
        if index >= len(attributes):
            await ack(options=[])
            return
        await ack(options=options_for_query(attributes[index], str(body.get("value") or "")))

    async def list_pending(
        self, ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient
    ) -> None:
        text = str(command.get("text") or "").strip().lower()
        if text == "test":
            await ack(response_type="ephemeral", text=await self._send_test(command, client))
            return
        if text == "help":
            await ack(response_type="ephemeral", text=HITL_HELP)
            return
        if text == "stats":
            settled = await self._store.settled_since(self._clock() - STATS_WINDOW_SECONDS)
            stats = stats_message(procedure_stats(settled))
            await ack(response_type="ephemeral", text=stats["text"], blocks=stats["blocks"])
            return
        user_id = str(command.get("user_id") or "")
        pending = await self._visibility.for_viewer(user_id, client, PENDING_SHOWN)
        message = pending_list(
            pending.records,
            total=pending.total,
            for_others=pending.for_others,
            permalinks={r.step.step_id: r.permalink for r in pending.records if r.permalink},
            now=self._clock(),
        )
        await ack(response_type="ephemeral", text=message["text"], blocks=message["blocks"])

    async def _send_test(self, command: dict[str, Any], client: AsyncWebClient) -> str:
        """Queues a test step for the channel; says what happens (mrkdwn)."""
        user_id = str(command.get("user_id") or "")
        if not await self._access_for(None).allows(user_id, client):
            return NOT_ALLOWED
        wait = self._test_limit.wait(user_id, self._clock())
        if wait > 0:
            return TEST_LIMITED.format(count=TESTS_PER_WINDOW, seconds=max(1, round(wait)))
        step = test_step(self._clock())
        await self._store.add_steps([step], self._clock())
        self._wake_worker()
        log.info("test step queued", extra={"step_id": step.step_id, "user_id": user_id})
        return TEST_QUEUED

    async def publish_home(self, event: dict[str, Any], client: AsyncWebClient) -> None:
        """Publishes the viewer's Home tab: open steps to answer, and their recent answers.

        Bolt acks an event when its listener returns: the work runs after that."""
        if event.get("tab", "home") != "home":
            return
        user_id = str(event.get("user") or "")
        if not user_id:
            return
        self._after_ack(self._publish_home(user_id, client), "home")

    async def _publish_home(self, user_id: str, client: AsyncWebClient) -> None:
        pending = await self._visibility.for_viewer(user_id, client, HOME_PENDING_SHOWN)
        mine = await self._store.answered_by(user_id, HOME_MINE_SHOWN)
        view = home_view(
            pending.records,
            pending_total=pending.total,
            for_others=pending.for_others,
            mine=mine,
            now=self._clock(),
        )
        await client.views_publish(user_id=user_id, view=view)

    async def _tell_clicker(
        self, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond, text: str
    ) -> None:
        """An ephemeral note, or a small modal when the click came from the Home tab
        (which has no response_url to answer)."""
        if body.get("response_url"):
            await _tell(respond, text)
        else:
            await client.views_open(trigger_id=body["trigger_id"], view=notice_view(text))

    async def _claim(
        self,
        record: StepRecord,
        values: tuple[AnswerValue, ...],
        body: dict[str, Any],
        comment: str | None = None,
    ) -> tuple[bool, StepRecord | None]:
        now = self._clock()
        answer = Answer(user_id=_user_id(body), values=values, submitted_at=now, comment=comment)
        result = await self._store.claim_answer(record.step.step_id, answer, now)
        if result.won:
            self._wake_worker()
            self._metrics.time_to_answer.observe(max(0.0, now - record.received_at))
            log.info(
                "answer claimed",
                extra={
                    "step_id": record.step.step_id,
                    "conversation_id": record.step.conversation_id,
                    "user_id": answer.user_id,
                },
            )
        return result.won, result.record


class PerUserLimit:
    """At most `count` uses per person in any `window` seconds (this instance's memory)."""

    def __init__(self, count: int, window: float) -> None:
        self._count = count
        self._window = window
        self._uses: dict[str, deque[float]] = {}

    def wait(self, user_id: str, now: float) -> float:
        """0 (and the use counted) if `user_id` may go now; else seconds until they may."""
        uses = self._uses.setdefault(user_id, deque())
        while uses and uses[0] <= now - self._window:
            uses.popleft()
        if len(uses) >= self._count:
            return uses[0] + self._window - now
        uses.append(now)
        if len(self._uses) > 10_000:  # forget people who stopped
            self._uses = {u: q for u, q in self._uses.items() if q and q[-1] > now - self._window}
        return 0.0


async def _tell(respond: AsyncRespond, text: str) -> None:
    """An ephemeral note to the person who clicked; the channel message stays as it is."""
    if respond.response_url is None:
        # Clicks from Slack's own UI carry one; a request without it gets its ack only.
        log.info("no response_url to send a note to; the ack is the whole answer")
        return
    await respond(text=text, response_type="ephemeral", replace_original=False)


def _action_value(body: dict[str, Any]) -> str:
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value") or "")


def _step_id_of_view(view: dict[str, Any]) -> str:
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
    except json.JSONDecodeError:
        return ""
    return str(metadata.get("step_id") or "") if isinstance(metadata, dict) else ""


def _user_id(body: dict[str, Any]) -> str:
    user = body.get("user") or {}
    return str(user.get("id") or "unknown")
