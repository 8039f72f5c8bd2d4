"""Bolt listeners: the buttons, the form, its type-ahead options and the `/hitl` command.

Each listener acks within Slack's 3 seconds; anything slow or failure-prone is left to
durable jobs, which the worker is woken for.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import Answer, AnswerValue, StepRecord
from bot.metrics import Metrics
from bot.slack.blocks import pending_list
from bot.slack.form import (
    FormTooLarge,
    boolean_answer,
    build_form_view,
    options_for_query,
    parse_submission,
)
from bot.slack.notices import closed_view, why_closed
from bot.store import SqlStore

log = logging.getLogger(__name__)

OPEN_ACTION = re.compile(r"^hitl\.open")
YES_ACTION = "hitl.answer.yes"
NO_ACTION = "hitl.answer.no"
SUBMIT_CALLBACK = "hitl.submit"
OPTIONS_ACTION = re.compile(r"^hitl\.options\.(\d+)$")
HITL_HELP = (
    "*/hitl* lists the Fin steps waiting for a teammate, newest first, with a link to each.\n"
    "*/hitl help* shows this text.\n"
    "Answer a step with its *Answer* button (or *Yes* / *No*) on the channel message."
)
# /hitl shows this many steps; the rest are counted, not listed (Block Kit caps a message).
PENDING_SHOWN = 20


class Interactions:
    def __init__(
        self,
        store: SqlStore,
        wake_worker: Callable[[], None],
        *,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics or Metrics()
        self._store = store
        self._wake_worker = wake_worker
        self._clock = clock

    def register(self, app: AsyncApp) -> None:
        app.action(OPEN_ACTION)(self.open_form)
        app.action(YES_ACTION)(self.answer_yes)
        app.action(NO_ACTION)(self.answer_no)
        app.view(SUBMIT_CALLBACK)(self.submit_form)
        app.options(OPTIONS_ACTION)(self.list_options)
        app.command("/hitl")(self.list_pending)

    async def open_form(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        record = await self._store.get(_action_value(body))
        if record is None or not record.state.is_open:
            await _tell(respond, why_closed(record))
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

    async def answer_yes(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await self._answer_boolean(ack, body, respond, True)

    async def answer_no(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await self._answer_boolean(ack, body, respond, False)

    async def _answer_boolean(
        self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, value: bool
    ) -> None:
        record = await self._store.get(_action_value(body))
        if record is None or not record.state.is_open or not record.step.single_boolean:
            await ack()
            await _tell(respond, why_closed(record))
            return
        # Claimed before the ack: Bolt answers Slack at ack() and runs the rest of a
        # listener in the background, so an answer acknowledged first could die with it.
        won, current = await self._claim(record, boolean_answer(record.step, value), body)
        await ack()
        if not won:
            await _tell(respond, why_closed(current))

    async def submit_form(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        view = body.get("view") or {}
        record = await self._store.get(_step_id_of_view(view))
        if record is None or not record.state.is_open:
            await ack(response_action="update", view=closed_view(record))
            return
        values, errors = parse_submission(record.step, view.get("state", {}).get("values", {}))
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        won, current = await self._claim(record, values, body)
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

    async def list_pending(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        if str(command.get("text") or "").strip().lower() == "help":
            await ack(response_type="ephemeral", text=HITL_HELP)
            return
        records, total = await self._store.pending(PENDING_SHOWN)
        message = pending_list(
            records,
            total=total,
            permalinks={r.step.step_id: r.permalink for r in records if r.permalink},
            now=self._clock(),
        )
        await ack(response_type="ephemeral", text=message["text"], blocks=message["blocks"])

    async def _claim(
        self, record: StepRecord, values: tuple[AnswerValue, ...], body: dict[str, Any]
    ) -> tuple[bool, StepRecord | None]:
        now = self._clock()
        answer = Answer(user_id=_user_id(body), values=values, submitted_at=now)
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


async def _tell(respond: AsyncRespond, text: str) -> None:
    """An ephemeral note to the person who clicked; the channel message stays as it is."""
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
