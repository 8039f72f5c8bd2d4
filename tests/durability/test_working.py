"""Working a step where it can go wrong: claims racing across instances on one database,
an Undo racing the delivery it would cancel, and a `kill -9` inside the undo window."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import aiohttp

from bot.domain import JobKind, StepState
from bot.slack import ids
from bot.slack.working import UNDO_OUTCOMES
from bot.store import UndoOutcome
from bot.testing.local_stack import LocalStack

from .conftest import BotFactory, Fakes
from .driver import click, hitl_delivery, send_webhook, step_id_of
from .helpers import observe, start_with_posted_step, wait_jobs_done, wait_state, wait_until
from .in_process import instances, one_posted_step

UNDONE = UNDO_OUTCOMES[UndoOutcome.UNDONE]
ALREADY_SENT = UNDO_OUTCOMES[UndoOutcome.ALREADY_SENT]


async def click_and_read(stack: LocalStack, step_id: str, action_id: str, user_id: str) -> str:
    """Clicks as `user_id` on `stack`; the text of the private answer the clicker got."""
    key = f"{action_id}-{user_id}-{time.monotonic_ns()}"
    answer = await stack.click(step_id, action_id, user_id=user_id, response_key=key)
    assert answer.status == 200, answer.body
    (reply,) = await stack.slack.wait_for_response(key)
    return str(reply["text"])


def callbacks_for(fakes: Fakes, step_id: str) -> list[Any]:
    return [c for c in fakes.intercom.callbacks if c.body.get("step_id") == step_id]


# --- Claims ------------------------------------------------------------------------------------


async def test_claim_release_and_undo_hold_on_either_database(
    fakes: Fakes, database_url: str
) -> None:
    async with one_posted_step(database_url, fakes, hitl_undo_seconds=5.0) as (stack, step_id):
        assert (await click_and_read(stack, step_id, ids.CLAIM, "U0ALICE")).startswith("👀 You")
        assert "U0ALICE" in await click_and_read(stack, step_id, ids.CLAIM, "U0BOB")
        await click_and_read(stack, step_id, ids.RELEASE, "U0ALICE")
        assert (await click_and_read(stack, step_id, ids.CLAIM, "U0BOB")).startswith("👀 You")

        await stack.click(step_id, ids.YES, user_id="U0BOB")
        await wait_state(stack.store, step_id, StepState.SUBMITTED)
        assert await click_and_read(stack, step_id, ids.UNDO, "U0BOB") == UNDONE
        record = await wait_state(stack.store, step_id, StepState.POSTED)

    assert record.claimed_by is None  # answering ended Bob's claim; Undo does not restore it
    assert callbacks_for(fakes, step_id) == []


async def test_claims_racing_on_two_instances_leave_one_owner_and_tell_the_rest_who(
    fakes: Fakes, postgres_url: str
) -> None:
    payload = hitl_delivery(fakes.intercom)
    step_id = step_id_of(payload)
    people = [f"U0PERSON{n}" for n in range(6)]
    async with instances(postgres_url, fakes, 2) as stacks:
        await stacks[0].send_webhook(payload)
        await wait_state(stacks[0].store, step_id, StepState.POSTED)
        replies = await asyncio.gather(
            *(
                click_and_read(stacks[n % 2], step_id, ids.CLAIM, person)
                for n, person in enumerate(people)
            )
        )
        record = await stacks[1].store.get(step_id)

    winners = [p for p, text in zip(people, replies, strict=True) if text.startswith("👀 You")]
    assert len(winners) == 1, replies
    assert record is not None
    assert record.claimed_by == winners[0]
    told = [text for text in replies if not text.startswith("👀 You")]
    assert len(told) == 5
    assert all(f"<@{winners[0]}> is on this step" in text for text in told)


# --- Undo against the delivery -----------------------------------------------------------------


async def test_undo_racing_the_delivery_either_cancels_it_or_is_told_it_went(
    fakes: Fakes, postgres_url: str
) -> None:
    """The answer is given on one instance and taken back on the other, around the end of
    the window, many times: each Undo is told exactly what happened to the callback."""
    window = 0.3
    outcomes: list[str] = []
    async with instances(postgres_url, fakes, 2, hitl_undo_seconds=window) as (first, second):
        for round_ in range(12):
            payload = hitl_delivery(fakes.intercom)
            step_id = step_id_of(payload)
            await first.send_webhook(payload)
            await wait_state(first.store, step_id, StepState.POSTED)

            assert (await first.click(step_id, ids.YES, user_id="U0ALICE")).status == 200
            # From well inside the window to well past its end (and the worker's poll).
            await asyncio.sleep(window * (0.5 + round_ / 8))
            reply = await click_and_read(second, step_id, ids.UNDO, "U0ALICE")
            outcomes.append(reply)

            if reply == UNDONE:
                await wait_state(second.store, step_id, StepState.POSTED)
                await asyncio.sleep(window + 0.3)  # long enough for a stray delivery to fire
                assert callbacks_for(fakes, step_id) == [], f"round {round_}: undone yet sent"
                jobs = await first.store.list_jobs(step_id)
                assert JobKind.DELIVER not in [job.kind for job in jobs]
            else:
                assert reply == ALREADY_SENT, reply
                await wait_state(second.store, step_id, StepState.ANSWERED)
                await wait_jobs_done(second.store, step_id)
                assert len(callbacks_for(fakes, step_id)) == 1, f"round {round_}"

    # The sweep crosses the window's end: early Undos cancel, late ones are told it went.
    assert outcomes[0] == UNDONE
    assert outcomes[-1] == ALREADY_SENT


async def test_a_kill_inside_the_undo_window_still_sends_the_answer_exactly_once(
    fakes: Fakes, bots: BotFactory, session: aiohttp.ClientSession, database_url: str
) -> None:
    first = bots(database_url, HITL_UNDO_SECONDS="2")
    step_id = await start_with_posted_step(fakes, first, session, database_url)
    assert await click(session, first.url, step_id) == 200
    async with observe(database_url) as db:
        await wait_state(db, step_id, StepState.SUBMITTED)
        await first.kill()  # inside the window: the callback is a job not yet due
        assert fakes.intercom.callbacks == []
        (deliver,) = [j for j in await db.list_jobs(step_id) if j.kind == JobKind.DELIVER]
        assert deliver.run_at > time.time()
        assert deliver.attempts == 0

        await bots(database_url, HITL_UNDO_SECONDS="2").start()
        await wait_state(db, step_id, StepState.ANSWERED, timeout=15.0)
        await wait_jobs_done(db, step_id)

    (callback,) = fakes.intercom.callbacks
    assert callback.body["step_id"] == step_id
    assert callback.body["attribute_values"][0]["value"] is True


async def test_many_kills_around_the_window_never_lose_or_double_an_answer(
    fakes: Fakes, bots: BotFactory, session: aiohttp.ClientSession, sqlite_url: str
) -> None:
    rng = random.Random(13)
    bot = bots(sqlite_url, HITL_UNDO_SECONDS="0.5")
    await bot.start()
    answered: list[str] = []
    for _ in range(4):
        payload = hitl_delivery(fakes.intercom)
        step_id = step_id_of(payload)
        assert await send_webhook(session, bot.url, payload) == 200
        async with observe(sqlite_url) as db:
            await wait_state(db, step_id, StepState.POSTED)
        assert await click(session, bot.url, step_id) == 200
        answered.append(step_id)
        await asyncio.sleep(rng.uniform(0.0, 0.8))  # inside, at or past the window's end
        await bot.kill()
        bot = bots(sqlite_url, HITL_UNDO_SECONDS="0.5")
        await bot.start()

    settled = (StepState.ANSWERED, StepState.FULFILLED_ELSEWHERE)
    async with observe(sqlite_url) as db:

        async def all_settled() -> bool:
            states = [(await db.get(s)).state for s in answered]  # type: ignore[union-attr]
            return all(state in settled for state in states)

        await wait_until(all_settled, "every answer delivered", timeout=15.0)
        records = [await db.get(s) for s in answered]
    # Intercom took each answer exactly once.
    assert sorted(c.body["step_id"] for c in fakes.intercom.accepted) == sorted(answered)
    # A kill between Intercom's 200 and the bot's record of it leaves the next instance
    # a 409 for its retry: the step then says an earlier attempt of ours may have landed,
    # never that someone else answered.
    for record in records:
        assert record is not None
        if record.state is StepState.FULFILLED_ELSEWHERE:
            assert "an earlier attempt to send this one may have reached it" in str(
                record.outcome_detail
            )
