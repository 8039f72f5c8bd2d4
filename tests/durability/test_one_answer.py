"""One answer wins: people answering at once, a click racing a form, or answers reaching
different instances at once lead to exactly one callback."""

from __future__ import annotations

import asyncio

from bot.domain import StepState

from .conftest import Fakes
from .driver import hitl_delivery, step_id_of
from .helpers import wait_jobs_done, wait_state
from .in_process import YES_FORM, instances, one_posted_step


async def test_two_people_submitting_the_form_at_once_send_one_callback(
    fakes: Fakes, database_url: str
) -> None:
    async with one_posted_step(database_url, fakes) as (stack, step_id):
        view = await stack.open_form(step_id)
        answers = await asyncio.gather(
            stack.submit(view, YES_FORM, user_id="U0ALICE"),
            stack.submit(view, YES_FORM, user_id="U0BOB"),
        )
        record = await wait_state(stack.store, step_id, StepState.ANSWERED)
        await wait_jobs_done(stack.store, step_id)

    assert [a.status for a in answers] == [200, 200]
    # The loser's form is replaced by a "closed" view; the winner's simply closes.
    assert sorted(bool(a.body) for a in answers) == [False, True]
    assert len(fakes.intercom.callbacks) == 1
    assert record.answer is not None
    assert fakes.intercom.callbacks[0].body["step_id"] == step_id


async def test_a_click_racing_a_form_sends_one_callback(fakes: Fakes, database_url: str) -> None:
    async with one_posted_step(database_url, fakes) as (stack, step_id):
        view = await stack.open_form(step_id)
        await asyncio.gather(
            stack.submit(view, YES_FORM, user_id="U0ALICE"),
            stack.click(step_id, "hitl.answer.no", user_id="U0BOB"),
        )
        await wait_state(stack.store, step_id, StepState.ANSWERED)
        await wait_jobs_done(stack.store, step_id)

    assert len(fakes.intercom.callbacks) == 1


async def test_answers_reaching_two_instances_at_once_send_one_callback(
    fakes: Fakes, postgres_url: str
) -> None:
    payload = hitl_delivery(fakes.intercom)
    step_id = step_id_of(payload)
    async with instances(postgres_url, fakes, 2) as stacks:
        await stacks[0].send_webhook(payload)
        await wait_state(stacks[0].store, step_id, StepState.POSTED)
        await asyncio.gather(
            *(
                stack.click(step_id, action, user_id=f"U0{n}{action[-2:]}")
                for n, stack in enumerate(stacks)
                for action in ("hitl.answer.yes", "hitl.answer.no")
            )
        )
        await wait_state(stacks[1].store, step_id, StepState.ANSWERED)
        for stack in stacks:
            await wait_jobs_done(stack.store, step_id)

    assert len(fakes.intercom.callbacks) == 1
