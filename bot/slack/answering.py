"""Answering a step from Slack: the Answer button opens the form, one click answers a lone
yes/no, the form's submission is checked and claimed, and type-ahead options are served.

Every answer is claimed in the store (compare-and-set, with the jobs that deliver it)
before Slack gets its ack: once Slack has its answer the click is not sent again, so an
answer acknowledged before it is stored could be lost. Who may answer is checked here, on
the server, whatever the client was shown.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import Answer, AnswerValue, StepRecord
from bot.lifecycle import Lifecycle
from bot.metrics import Metrics
from bot.routing import Router
from bot.slack import form, ids
from bot.slack.access import NOT_ALLOWED
from bot.slack.follow_ups import FollowUps
from bot.slack.notices import closed_view, notice_view, unanswerable_note, why_closed
from bot.slack.replies import action_value, tell, tell_clicker, user_id_of
from bot.slack.working import claimed_note, tell_claimed
from bot.store import SqlStore

log = logging.getLogger(__name__)

FORM_TOO_LARGE = "This step asks for more than a Slack form can hold; answer it in Intercom."


@dataclass(frozen=True)
class Answering:
    store: SqlStore
    router: Router
    lifecycle: Lifecycle
    follow_ups: FollowUps
    wake_worker: Callable[[], None]
    clock: Callable[[], float]
    metrics: Metrics

    async def open_form(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        self.follow_ups.run(self._open_form(body, client, respond), "open-form")

    async def _open_form(
        self, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        record = await self.store.get(action_value(body))
        if record is None or not record.state.is_open:
            await tell_clicker(body, client, respond, why_closed(record))
            return
        if not record.step.answerable:
            await tell_clicker(body, client, respond, unanswerable_note(record.step))
            return
        if not await self.router.access_for(record.step).allows(user_id_of(body), client):
            await tell_clicker(body, client, respond, NOT_ALLOWED)
            return
        if self._someone_else_on(record, body):
            if body.get("response_url"):
                await tell_claimed(respond, record)
            else:  # from the Home tab: no response_url, so a small modal
                await tell_clicker(body, client, respond, claimed_note(record)["text"])
            return
        try:
            view = form.build_form_view(record.step)
        except form.FormTooLarge:
            await tell(respond, FORM_TOO_LARGE)
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
        record = await self.store.get(action_value(body))
        refusal = None
        if record is None or not record.state.is_open or not record.step.single_boolean:
            refusal = why_closed(record)
        elif not record.step.answerable:
            refusal = unanswerable_note(record.step)
        elif not await self.router.access_for(record.step).allows(user_id_of(body), client):
            refusal = NOT_ALLOWED
        elif self._someone_else_on(record, body):
            await ack()
            self.follow_ups.run(tell_claimed(respond, record), "claimed-note")
            return
        if refusal is not None or record is None:
            await ack()
            self.follow_ups.run(tell(respond, refusal or why_closed(record)), "refusal")
            return
        won, current = await self._claim(record, form.boolean_answer(record.step, value), body)
        await ack()
        if not won:
            self.follow_ups.run(tell(respond, why_closed(current)), "closed-note")

    async def submit_form(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        view = body.get("view") or {}
        record = await self.store.get(ids.step_id_of_view(view) or "")
        if record is None or not record.state.is_open:
            await ack(response_action="update", view=closed_view(record))
            return
        if not record.step.answerable:
            await ack(response_action="update", view=notice_view(unanswerable_note(record.step)))
            return
        # Never trust that the form was only shown to someone allowed: check again here.
        if not await self.router.access_for(record.step).allows(user_id_of(body), client):
            await ack(response_action="update", view=notice_view(NOT_ALLOWED))
            return
        state_values = (view.get("state") or {}).get("values") or {}
        values, errors = form.parse_submission(record.step, state_values)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        won, current = await self._claim(record, values, body, form.comment_of(state_values))
        if won:
            await ack()
        elif current is not None and current.state.is_open:
            # Someone else said "I'm on it" while this form was open.
            await ack(response_action="update", view=notice_view(claimed_note(current)["text"]))
        else:
            await ack(response_action="update", view=closed_view(current))

    async def list_options(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        record = await self.store.get(ids.step_id_of_view(body.get("view") or {}) or "")
        attribute = (
            form.options_attribute(record.step, str(body.get("action_id") or ""))
            if record
            else None
        )
        if attribute is None:
            await ack(options=[])
            return
        await ack(options=form.options_for_query(attribute, str(body.get("value") or "")))

    def _someone_else_on(self, record: StepRecord, body: dict[str, Any]) -> bool:
        """Whether another teammate's "I'm on it" holds (they answer, or it is taken over)."""
        return record.claimed_now(self.clock()) and record.claimed_by != user_id_of(body)

    async def _claim(
        self,
        record: StepRecord,
        values: tuple[AnswerValue, ...],
        body: dict[str, Any],
        comment: str | None = None,
    ) -> tuple[bool, StepRecord | None]:
        now = self.clock()
        answer = Answer(user_id=user_id_of(body), values=values, submitted_at=now, comment=comment)
        result = await self.store.claim_answer(
            record.step.step_id,
            answer,
            now,
            self.lifecycle.answer_claimed(record.step, now),
            send_at=self.lifecycle.send_at(record.step, now),
        )
        if result.won:
            self.wake_worker()
            self.metrics.time_to_answer.observe(max(0.0, now - record.received_at))
            log.info(
                "answer claimed",
                extra={
                    "step_id": record.step.step_id,
                    "conversation_id": record.step.conversation_id,
                    "user_id": answer.user_id,
                },
            )
        return result.won, result.record
