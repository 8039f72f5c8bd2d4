"""`/hitl`: the pending steps, listed privately to whoever asks."""

from __future__ import annotations

import time

from bot.domain import Attribute, Step
from bot.testing.local_stack import LocalStack
from tests.transports import over_both_transports

from .helpers import (
    EXPIRY_WAIT,
    all_text,
    expiring_payload,
    fresh_payload,
    item_of,
    refund_state,
    send_and_wait_posted,
    step_id_of,
    wait_stored_permalink,
    wait_updated,
)


@over_both_transports
async def test_nothing_pending_says_so(stack: LocalStack) -> None:
    answer = await stack.command()

    assert answer.status == 200
    assert answer.body["response_type"] == "ephemeral"
    assert "Nothing pending" in all_text(answer.body)


@over_both_transports
async def test_pending_step_is_listed_with_procedure_conversation_age_and_link(
    stack: LocalStack,
) -> None:
    payload = fresh_payload(stack)
    await send_and_wait_posted(stack, payload)
    permalink = await wait_stored_permalink(stack, step_id_of(payload))

    answer = await stack.command()

    text = all_text(answer.body)
    assert answer.body["response_type"] == "ephemeral"
    assert "1 step waiting" in text
    assert "Refund over $40" in text
    assert item_of(payload)["conversation_id"] in text
    assert "under 1 min" in text
    assert f"<{permalink}|" in text


@over_both_transports
async def test_every_pending_step_is_listed(stack: LocalStack) -> None:
    payloads = [fresh_payload(stack), fresh_payload(stack, "all_types")]
    for payload in payloads:
        await send_and_wait_posted(stack, payload)

    text = all_text((await stack.command()).body)

    assert "2 steps waiting" in text
    for payload in payloads:
        assert item_of(payload)["conversation_id"] in text


@over_both_transports
async def test_answered_step_is_no_longer_listed(stack: LocalStack) -> None:
    answered, waiting = fresh_payload(stack), fresh_payload(stack, "all_types")
    for payload in (answered, waiting):
        await send_and_wait_posted(stack, payload)
    view = await stack.open_form(step_id_of(answered))
    await stack.submit(view, refund_state())

    text = all_text((await stack.command()).body)

    assert "1 step waiting" in text
    assert item_of(answered)["conversation_id"] not in text
    assert item_of(waiting)["conversation_id"] in text


def many_steps(count: int) -> list[Step]:
    return [
        Step(
            step_id=f"bulk-step-{i}",
            conversation_id=f"{900000000 + i}",
            callback_url=f"https://api.intercom.io/procedures/{900000000 + i}/collect_agent_input",
            procedure_name=f"Bulk procedure {i}",
            attributes=(Attribute(identifier="x", data_type="boolean", name="Approve"),),
        )
        for i in range(count)
    ]


async def test_over_a_thousand_pending_steps_fit_one_answer(stack: LocalStack) -> None:
    """At most 50 blocks, and it says how many are not shown; the time is printed, not judged."""
    count = 1_200
    await stack.store.add_steps(many_steps(count), time.time() - 120)

    started = time.perf_counter()
    answer = await stack.command()
    elapsed = time.perf_counter() - started
    print(f"/hitl with {count} pending steps answered in {elapsed * 1000:.0f} ms")

    assert answer.status == 200
    blocks = answer.body["blocks"]
    assert len(blocks) <= 50
    text = all_text(answer.body)
    assert f"{count} steps waiting" in text
    listed = sum(1 for b in blocks if "Bulk procedure" in all_text(b))
    assert f"{count - listed} more" in text


@over_both_transports
async def test_hitl_help_explains_the_command(stack: LocalStack) -> None:
    answer = await stack.command("help")
    assert answer.status == 200
    assert answer.body["response_type"] == "ephemeral"
    assert "/hitl help" in answer.body["text"]


async def test_stats_show_answered_expired_and_time_to_answer_per_procedure(
    stack: LocalStack,
) -> None:
    expiring = expiring_payload(stack, "single_boolean")
    await send_and_wait_posted(stack, expiring)
    answered = fresh_payload(stack, "single_boolean")
    await send_and_wait_posted(stack, answered)
    await stack.click(step_id_of(answered), "hitl.answer.yes", user_id="U0ALICE")
    await wait_updated(stack, step_id_of(answered), "Answered by")
    await wait_updated(stack, step_id_of(expiring), "Expired", timeout=EXPIRY_WAIT)

    answer = await stack.command("stats")

    text = all_text(answer.body)
    assert answer.body["response_type"] == "ephemeral"
    assert item_of(answered)["procedure_name"] in text
    assert "1 answered · 1 expired" in text
    assert "median 0 s, p90 0 s" in text
