"""Working a step from Slack: "I'm on it", Release, Take over, and Undo.

A claim is a compare-and-set in the store, like an answer: two claims racing, one wins
and the other is told who has it. Whoever else tries to answer a claimed step is told
privately who is on it and offered Take over (bot/slack/answering.py sends that note).
Undo takes an answer back while it waits out its window; racing the delivery, it either
cancels it or is told it was sent, never both (bot/store/working.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import StepRecord
from bot.lifecycle import Lifecycle
from bot.routing import Router
from bot.slack import ids
from bot.slack.access import NOT_ALLOWED
from bot.slack.follow_ups import FollowUps
from bot.slack.form import build_form_view
from bot.slack.kit import button, section
from bot.slack.mentions import mention
from bot.slack.notices import unanswerable_note, why_closed
from bot.slack.replies import action_value, tell, user_id_of
from bot.slack.text import slack_time
from bot.store import SqlStore, UndoOutcome

log = logging.getLogger(__name__)

# What the person who clicked is told (privately). `{…}` fields are safe mrkdwn.
CLAIMED = "👀 You're on it until {until}. Answer it, or Release it if you can't."
ALREADY_CLAIMED = "👀 {who} is on this step (since {since}). You can take it over."
TAKE_OVER_BUTTON = "Take over"
TOOK_OVER = "🔁 You took this step over from {who}."
RELEASED = "You let go of this step; anyone can take it now."
NOT_YOUR_CLAIM = "Only {who} can release this step (or take it over with Answer)."
NOBODY_ON_IT = "Nobody is on this step."
UNDO_OUTCOMES = {
    UndoOutcome.UNDONE: "↩️ Your answer was taken back; the step is open again.",
    UndoOutcome.ALREADY_SENT: "It had already gone to Fin: it can't be taken back any more.",
    UndoOutcome.NOT_YOURS: "Only {who} can take their answer back.",
}


def claimed_note(record: StepRecord) -> dict[str, Any]:
    """The private note telling someone who is on the step, with Take over."""
    assert record.claimed_by is not None
    text = ALREADY_CLAIMED.format(
        who=mention(record.claimed_by), since=slack_time(record.claimed_at or 0.0)
    )
    take_over = button(TAKE_OVER_BUTTON, ids.TAKEOVER, record.step.step_id, "primary")
    return {
        "text": text,
        "blocks": [
            section(ids.block("claimed"), text),
            {"type": "actions", "block_id": ids.block("claimed.actions"), "elements": [take_over]},
        ],
    }


async def tell_claimed(respond: AsyncRespond, record: StepRecord) -> None:
    if respond.response_url is None:
        return
    note = claimed_note(record)
    await respond(
        text=note["text"], blocks=note["blocks"], response_type="ephemeral", replace_original=False
    )


@dataclass(frozen=True)
class Working:
    store: SqlStore
    router: Router
    lifecycle: Lifecycle
    follow_ups: FollowUps
    wake_worker: Callable[[], None]
    clock: Callable[[], float]

    async def claim(
        self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        self.follow_ups.run(self._claim(body, respond, client, take_over=False), "claim")

    async def take_over(
        self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        self.follow_ups.run(self._claim(body, respond, client, take_over=True), "take-over")

    async def _claim(
        self,
        body: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        *,
        take_over: bool,
    ) -> None:
        record = await self.store.get(action_value(body))
        user_id = user_id_of(body)
        if record is None or not record.state.is_open:
            await tell(respond, why_closed(record))
            return
        if not record.step.answerable:
            await tell(respond, unanswerable_note(record.step))
            return
        if not await self.router.access_for(record.step).allows(user_id, client):
            await tell(respond, NOT_ALLOWED)
            return
        now = self.clock()
        until = now + self.lifecycle.claim_seconds
        result = await self.store.claim_step(
            record.step.step_id,
            user_id,
            now,
            until,
            take_over=take_over,
            effects=lambda previous: self.lifecycle.claimed(
                record.step, user_id, now, took_over_from=previous
            ),
        )
        current = result.record
        if not result.won:
            if current is not None and current.claimed_now(now):
                await tell_claimed(respond, current)
            else:
                await tell(respond, why_closed(current))
            return
        self.wake_worker()
        log.info(
            "step claimed",
            extra={"step_id": record.step.step_id, "user_id": user_id, "took_over": take_over},
        )
        if take_over and "trigger_id" in body:
            # They took it over to answer it: the form, straight away.
            await client.views_open(
                trigger_id=body["trigger_id"], view=build_form_view(record.step)
            )
            if result.previous is not None:
                await tell(respond, TOOK_OVER.format(who=mention(result.previous)))
        else:
            await tell(respond, CLAIMED.format(until=slack_time(until)))

    async def release(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        self.follow_ups.run(self._release(body, respond), "release")

    async def _release(self, body: dict[str, Any], respond: AsyncRespond) -> None:
        step_id, user_id = action_value(body), user_id_of(body)
        released = await self.store.release_claim(
            step_id, user_id, self.lifecycle.released(self.clock())
        )
        if released:
            self.wake_worker()
            await tell(respond, RELEASED)
            return
        record = await self.store.get(step_id)
        holder = record.claimed_by if record and record.claimed_now(self.clock()) else None
        await tell(respond, NOT_YOUR_CLAIM.format(who=mention(holder)) if holder else NOBODY_ON_IT)

    async def undo(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """Acked once the store decided: the answer is taken back, or it was already sent."""
        step_id, user_id = action_value(body), user_id_of(body)
        now = self.clock()
        outcome = await self.store.undo_answer(
            step_id, user_id, self.lifecycle.undone(user_id, now)
        )
        await ack()
        if outcome is UndoOutcome.UNDONE:
            self.wake_worker()
            log.info("answer taken back", extra={"step_id": step_id, "user_id": user_id})
        if outcome is UndoOutcome.NOT_WAITING:
            text = why_closed(await self.store.get(step_id))
        else:
            record = await self.store.get(step_id)
            answerer = record.answer.user_id if record and record.answer else "someone"
            text = UNDO_OUTCOMES[outcome].format(who=mention(answerer))
        self.follow_ups.run(tell(respond, text), "undo-note")
