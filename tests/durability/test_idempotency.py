"""A step arriving many times, at once, is one step with one message; the worker's own
retries never post or answer twice, and say so when they cannot know."""

from __future__ import annotations

import asyncio

from bot.domain import StepState
from bot.testing.intercom import Reply

from .conftest import Fakes
from .driver import hitl_delivery, step_id_of
from .helpers import messages_for, text_of, wait_jobs_done, wait_state
from .in_process import instances


async def test_same_step_delivered_many_times_at_once_posts_one_message(
    fakes: Fakes, database_url: str
) -> None:
    payload = hitl_delivery(fakes.intercom)
    step_id = step_id_of(payload)
    copies = []
    for n in range(12):
        copy = {**payload, "id": f"notif-{n % 3}"}  # some retried, some new notification ids
        copies.append(copy)
    async with instances(database_url, fakes, 1) as (stack,):
        answers = await asyncio.gather(*(stack.send_webhook(c) for c in copies))
        await wait_state(stack.store, step_id, StepState.POSTED)
        await wait_jobs_done(stack.store, step_id)

    assert {a.status for a in answers} == {200}
    assert sum(not a.body["duplicate"] for a in answers) == 1
    assert len(messages_for(fakes.slack, step_id)) == 1
    assert len(fakes.slack.calls_to("chat.postMessage")) == 1


async def test_steps_sent_to_two_instances_at_once_are_posted_once_each(
    fakes: Fakes, postgres_url: str
) -> None:
    """Intercom retries a delivery; behind a load balancer each copy may reach either."""
    payloads = [hitl_delivery(fakes.intercom) for _ in range(5)]
    async with instances(postgres_url, fakes, 2) as stacks:
        answers = await asyncio.gather(
            *(stack.send_webhook(p) for p in payloads for stack in stacks for _ in "ab")
        )
        for payload in payloads:
            await wait_state(stacks[0].store, step_id_of(payload), StepState.POSTED)
            await wait_jobs_done(stacks[0].store, step_id_of(payload))

    assert {a.status for a in answers} == {200}
    for payload in payloads:
        assert len(messages_for(fakes.slack, step_id_of(payload))) == 1


async def test_conflict_after_our_own_dropped_attempt_is_reported_as_maybe_ours(
    fakes: Fakes, sqlite_url: str
) -> None:
    """The first callback's connection drops (did it land?); the retry is answered 409."""
    payload = hitl_delivery(fakes.intercom)
    step_id = step_id_of(payload)
    fakes.intercom.script(step_id, Reply(drop=True), Reply.conflict())
    async with instances(sqlite_url, fakes, 1) as (stack,):
        await stack.send_webhook(payload)
        await wait_state(stack.store, step_id, StepState.POSTED)
        await stack.click(step_id, "hitl.answer.yes")
        record = await wait_state(stack.store, step_id, StepState.FULFILLED_ELSEWHERE)
        await wait_jobs_done(stack.store, step_id)

    assert [c.status for c in fakes.intercom.callbacks] == [0, 409]
    assert record.outcome_detail is not None
    assert "may have reached it" in record.outcome_detail
    (message,) = messages_for(fakes.slack, step_id)
    assert "may have reached it" in text_of(message)


async def test_conflict_on_a_first_attempt_is_reported_as_answered_elsewhere(
    fakes: Fakes, sqlite_url: str
) -> None:
    payload = hitl_delivery(fakes.intercom)
    step_id = step_id_of(payload)
    fakes.intercom.script(step_id, Reply.conflict())
    async with instances(sqlite_url, fakes, 1) as (stack,):
        await stack.send_webhook(payload)
        await wait_state(stack.store, step_id, StepState.POSTED)
        await stack.click(step_id, "hitl.answer.yes")
        record = await wait_state(stack.store, step_id, StepState.FULFILLED_ELSEWHERE)

    assert record.outcome_detail is None
