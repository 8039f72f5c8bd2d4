"""What Intercom's answer does to the channel message, retries, and races between teammates."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.testing.intercom import Reply
from bot.testing.local_stack import INTERCOM_TOKEN, LocalStack

from .helpers import (
    EXPIRY_WAIT,
    all_text,
    assert_no_buttons,
    current_message,
    expiring_payload,
    fresh_payload,
    refund_state,
    send_and_wait_posted,
    step_id_of,
    wait_updated,
)


async def answer_refund(
    stack: LocalStack, *replies: Reply, user_id: str = "U0ALICE"
) -> dict[str, Any]:
    """Posts the refund step, scripts Intercom's `replies`, and submits a valid answer."""
    payload = fresh_payload(stack)
    step_id = step_id_of(payload)
    stack.intercom.script(step_id, *replies)
    await send_and_wait_posted(stack, payload)
    view = await stack.open_form(step_id)
    submitted = await stack.submit(view, refund_state(approve=True, reason=1), user_id=user_id)
    assert submitted.status == 200
    assert submitted.body is None, submitted.body
    return payload


async def test_accepted_answer_shows_who_answered_and_what(stack: LocalStack) -> None:
    payload = await answer_refund(stack)

    update = await wait_updated(stack, step_id_of(payload), "Answered by")

    text = all_text(update)
    assert "Answered by <@U0ALICE>" in text
    assert "Yes" in text
    assert "Wrong item sent" in text  # the option's label, not its id
    assert "0b6f3f0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b" not in text
    assert "Sorry!" in text
    assert_no_buttons(update)


async def test_message_says_the_answer_is_on_its_way_while_delivery_is_retried(
    stack: LocalStack,
) -> None:
    payload = await answer_refund(stack, Reply.unavailable())

    sending = await wait_updated(stack, step_id_of(payload), "Sending")
    await wait_updated(stack, step_id_of(payload), "Answered by")

    assert "<@U0ALICE>" in all_text(sending)
    assert_no_buttons(sending)


OUTCOMES = {
    "expired-404": (Reply.expired(), "expired"),
    "fulfilled-elsewhere-409": (Reply.conflict(), "answered elsewhere"),
    "token-rejected-401": (Reply.unauthorized(), "Not delivered"),
    "forbidden-403": (Reply.forbidden(), "Not delivered"),
}


@pytest.mark.parametrize(("reply", "wording"), OUTCOMES.values(), ids=OUTCOMES)
async def test_final_intercom_answer_is_shown_and_buttons_removed(
    stack: LocalStack, reply: Reply, wording: str
) -> None:
    payload = await answer_refund(stack, reply)

    update = await wait_updated(stack, step_id_of(payload), wording)

    assert "Answered by" not in all_text(update)
    assert_no_buttons(update)
    assert_no_buttons(current_message(stack, step_id_of(payload)))
    assert len(stack.intercom.callbacks) == 1


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply.unauthorized(), "access token"),
        (Reply.forbidden(), "Admin does not have access to this conversation"),
    ],
    ids=["401", "403"],
)
async def test_refused_answer_gives_a_plain_reason_without_secrets(
    stack: LocalStack, reply: Reply, reason: str
) -> None:
    payload = await answer_refund(stack, reply)

    update = await wait_updated(stack, step_id_of(payload), "Not delivered")

    assert reason in all_text(update)
    assert INTERCOM_TOKEN not in str(update)


@pytest.mark.parametrize(
    "first",
    [Reply.unavailable(), Reply.rate_limited(retry_after=1), Reply(500), Reply(drop=True)],
    ids=["503", "429-retry-after-1", "500", "connection-dropped"],
)
async def test_passing_failure_is_retried_until_answered(stack: LocalStack, first: Reply) -> None:
    payload = await answer_refund(stack, first)

    await wait_updated(stack, step_id_of(payload), "Answered by")

    statuses = [c.status for c in stack.intercom.callbacks]
    assert statuses == [first.status if not first.drop else 0, 200]
    assert len(stack.intercom.accepted) == 1


async def test_rate_limited_retry_waits_for_retry_after(stack: LocalStack) -> None:
    await answer_refund(stack, Reply.rate_limited(retry_after=1))

    first, second = await stack.intercom.wait_for_callbacks(2)

    assert second.at - first.at >= 0.9


# --- Races and late clicks ------------------------------------------------------------------


async def test_two_teammates_submitting_at_once_send_one_answer(stack: LocalStack) -> None:
    payload = fresh_payload(stack)
    step_id = step_id_of(payload)
    await send_and_wait_posted(stack, payload)
    view = await stack.open_form(step_id)

    answers = await asyncio.gather(
        stack.submit(view, refund_state(reason=0), user_id="U0ALICE"),
        stack.submit(view, refund_state(reason=2), user_id="U0BOB"),
    )
    await wait_updated(stack, step_id, "Answered by")

    assert len(stack.intercom.callbacks) == 1
    record = await stack.store.get(step_id)
    assert record is not None
    assert record.answer is not None
    winner = record.answer.user_id
    won = [a for a in answers if a.body is None]
    lost = [a for a in answers if a.body is not None]
    assert len(won) == 1
    assert len(lost) == 1
    assert lost[0].body["response_action"] == "update"
    assert f"Already answered by <@{winner}>" in all_text(lost[0].body["view"])


async def test_yes_click_racing_a_form_submission_sends_one_answer(stack: LocalStack) -> None:
    payload = fresh_payload(stack, "single_boolean")
    step_id = step_id_of(payload)
    await send_and_wait_posted(stack, payload)
    view = await stack.open_form(step_id, user_id="U0ALICE")
    no = {"type": "radio_buttons", "selected_option": {"value": "false", "text": {}}}

    submitted, clicked = await asyncio.gather(
        stack.submit(view, {"hitl.attr.0": {"hitl.value.0": no}}, user_id="U0ALICE"),
        stack.click(step_id, "hitl.answer.yes", user_id="U0BOB", response_key="bob-yes"),
    )
    await wait_updated(stack, step_id, "Answered by")

    assert clicked.status == 200
    assert len(stack.intercom.callbacks) == 1
    sent = stack.intercom.callbacks[0].body["attribute_values"][0]["value"]
    if sent is True:  # Bob's click won: Alice's form says so
        assert submitted.body["response_action"] == "update"
        assert "Already answered by <@U0BOB>" in all_text(submitted.body["view"])
    else:  # Alice's form won: Bob hears it privately
        assert submitted.body is None
        (note,) = await stack.slack.wait_for_response("bob-yes")
        assert "Already answered by <@U0ALICE>" in note["text"]
        assert note["response_type"] == "ephemeral"
        assert note.get("replace_original") is False


@pytest.mark.parametrize("action", ["hitl.answer.yes", "hitl.answer.no", "hitl.open"])
async def test_click_on_a_settled_step_says_who_answered(stack: LocalStack, action: str) -> None:
    payload = fresh_payload(stack, "single_boolean")
    step_id = step_id_of(payload)
    await send_and_wait_posted(stack, payload)
    await stack.click(step_id, "hitl.answer.no", user_id="U0ALICE")
    await wait_updated(stack, step_id, "Answered by")

    await stack.click(step_id, action, user_id="U0BOB", response_key="late")
    (note,) = await stack.slack.wait_for_response("late")

    assert "Already answered by <@U0ALICE>" in note["text"]
    assert note["response_type"] == "ephemeral"
    assert len(stack.intercom.callbacks) == 1
    assert stack.slack.calls_to("views.open") == []


async def test_form_submitted_after_the_step_settled_is_told_who_answered(
    stack: LocalStack,
) -> None:
    payload = fresh_payload(stack)
    step_id = step_id_of(payload)
    await send_and_wait_posted(stack, payload)
    view = await stack.open_form(step_id, user_id="U0BOB")
    first = await stack.open_form(step_id, user_id="U0ALICE")
    await stack.submit(first, refund_state(), user_id="U0ALICE")
    await wait_updated(stack, step_id, "Answered by")

    late = await stack.submit(view, refund_state(), user_id="U0BOB")

    assert late.body["response_action"] == "update"
    assert "Already answered by <@U0ALICE>" in all_text(late.body["view"])
    assert len(stack.intercom.callbacks) == 1


async def test_unanswered_step_shows_expired_when_its_deadline_passes(stack: LocalStack) -> None:
    payload = expiring_payload(stack)
    step_id = step_id_of(payload)
    await send_and_wait_posted(stack, payload)

    update = await wait_updated(stack, step_id, "Expired", timeout=EXPIRY_WAIT)
    await stack.click(step_id, "hitl.open", user_id="U0BOB", response_key="too-late")
    (note,) = await stack.slack.wait_for_response("too-late")

    assert "Nothing was sent to Fin" in all_text(update)
    assert_no_buttons(update)
    assert "expired" in note["text"]
    assert stack.intercom.callbacks == []
    assert stack.slack.calls_to("views.open") == []
