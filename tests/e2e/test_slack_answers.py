"""Slack gets its HTTP answer as soon as a listener has what the answer needs: Bolt runs
with process_before_response, and what follows an ack (opening the form, an ephemeral
note, the Home tab) runs as a follow-up task that the answer does not wait for."""

from __future__ import annotations

import asyncio

from bot.testing.local_stack import LocalStack

from .helpers import fresh_payload, send_and_wait_posted, step_id_of

SLOW_SLACK = 4.0  # seconds a Slack call is held: far beyond any answer's own time


async def test_click_is_answered_without_waiting_for_the_form_to_open(stack: LocalStack) -> None:
    payload = fresh_payload(stack)
    await send_and_wait_posted(stack, payload)
    stack.slack.fail_next("views.open", delay=SLOW_SLACK)

    answer = await asyncio.wait_for(stack.click(step_id_of(payload), "hitl.open"), SLOW_SLACK / 2)
    opened = await stack.slack.wait_for("views.open", timeout=SLOW_SLACK * 2)

    assert answer.status == 200
    assert opened[-1]["view"]["private_metadata"]


async def test_home_tab_event_is_answered_without_waiting_for_the_publish(
    stack: LocalStack,
) -> None:
    stack.slack.fail_next("views.publish", delay=SLOW_SLACK)

    answer = await asyncio.wait_for(stack.open_home(), SLOW_SLACK / 2)
    published = await stack.slack.wait_for("views.publish", timeout=SLOW_SLACK * 2)

    assert answer.status == 200
    assert published[-1]["user_id"] == "U0ALICE"
