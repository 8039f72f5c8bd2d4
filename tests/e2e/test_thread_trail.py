"""Each way a step settles is also told, once, as a short reply in the step's thread."""

from __future__ import annotations

import asyncio

import pytest

from bot.testing.intercom import Reply
from bot.testing.local_stack import LocalStack

from .helpers import (
    EXPIRY_WAIT,
    expiring_payload,
    fresh_payload,
    refund_state,
    send_and_wait_posted,
    step_id_of,
    thread_replies,
    wait_thread_reply,
)


async def answer_refund(stack: LocalStack, *replies: Reply, comment: str | None = None) -> str:
    payload = fresh_payload(stack)
    step_id = step_id_of(payload)
    stack.intercom.script(step_id, *replies)
    await send_and_wait_posted(stack, payload)
    view = await stack.open_form(step_id)
    state = refund_state(approve=True, reason=1, note="Sorry!")
    if comment is not None:
        state["hitl.comment"] = {
            "hitl.comment.value": {"type": "plain_text_input", "value": comment}
        }
    submitted = await stack.submit(view, state, user_id="U0ALICE")
    assert submitted.body is None, submitted.body
    return step_id


async def test_answer_is_told_in_the_thread_with_who_and_what(stack: LocalStack) -> None:
    step_id = await answer_refund(stack)

    (reply,) = await wait_thread_reply(stack, step_id, "Answered by")

    assert "Answered by <@U0ALICE>" in reply["text"]
    assert "Wrong item sent" in reply["text"]
    assert "Sorry!" in reply["text"]


async def test_each_settling_is_told_once(stack: LocalStack) -> None:
    """Later refreshes of the message (and a click after the end) add no second reply."""
    step_id = await answer_refund(stack, Reply.unavailable())
    await wait_thread_reply(stack, step_id, "Answered by")

    await stack.click(step_id, "hitl.open", user_id="U0BOB", response_key="late")
    await stack.slack.wait_for_response("late")
    await asyncio.sleep(0.5)

    assert len(thread_replies(stack, step_id)) == 1


async def test_expiry_is_told_in_the_thread(stack: LocalStack) -> None:
    payload = expiring_payload(stack)
    step_id = step_id_of(payload)
    await send_and_wait_posted(stack, payload)

    (reply,) = await wait_thread_reply(stack, step_id, "Expired", timeout=EXPIRY_WAIT)

    assert "nobody answered" in reply["text"]


@pytest.mark.parametrize(
    ("reply", "wording"),
    [
        (Reply.forbidden(), "was not delivered to Fin: Intercom refused the answer (403)"),
        (Reply.conflict(), "Already answered elsewhere; <@U0ALICE>'s answer was not used"),
    ],
    ids=["delivery-failed-403", "fulfilled-elsewhere-409"],
)
async def test_delivery_outcome_is_told_in_the_thread(
    stack: LocalStack, reply: Reply, wording: str
) -> None:
    step_id = await answer_refund(stack, reply)

    (told,) = await wait_thread_reply(stack, step_id, wording)

    assert "<@U0ALICE>" in told["text"]


async def test_thread_reply_is_retried_when_slack_rate_limits_it(stack: LocalStack) -> None:
    payload = fresh_payload(stack)
    step_id = step_id_of(payload)
    await send_and_wait_posted(stack, payload)
    # The request message is posted; the next chat.postMessage is the thread reply.
    stack.slack.fail_next("chat.postMessage", status=429, retry_after=1)
    view = await stack.open_form(step_id)
    await stack.submit(view, refund_state(), user_id="U0ALICE")

    (reply,) = await wait_thread_reply(stack, step_id, "Answered by")

    assert "<@U0ALICE>" in reply["text"]
    attempts = stack.slack.calls_to("chat.postMessage", include_failed=True)
    assert len(attempts) == 3  # the request, the rate-limited reply, the reply
