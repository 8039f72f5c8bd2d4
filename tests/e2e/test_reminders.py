"""HITL_REMIND_AFTER: an unanswered step without an expiry is reminded in its thread, at
most three times (a step with one escalates by its deadline: test_escalation.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from itertools import pairwise
from typing import Any

import pytest

from bot.domain import JobKind
from bot.testing.local_stack import LocalStack

from .helpers import (
    post_new_step,
    thread_replies,
    wait_stored_permalink,
    wait_thread_reply,
    wait_updated,
)


@pytest.fixture
def reminding(sqlite_url: str) -> Callable[..., LocalStack]:
    def make(**overrides: Any) -> LocalStack:
        return LocalStack(sqlite_url, settings_overrides=overrides)

    return make


@pytest.fixture
async def every_half_second(sqlite_url: str) -> AsyncIterator[LocalStack]:
    overrides = {"hitl_remind_after": 0.4, "hitl_remind_mention": "<!subteam^S0TEAM>"}
    async with LocalStack(sqlite_url, settings_overrides=overrides) as running:
        yield running


async def test_unanswered_step_is_reminded_in_its_thread_with_the_mention(
    every_half_second: LocalStack,
) -> None:
    step_id = await post_new_step(every_half_second, expires_at=None)

    (reminder,) = await wait_thread_reply(every_half_second, step_id, "Still waiting")

    assert "<!subteam^S0TEAM>" in reminder["text"]


async def test_reminders_repeat_at_the_interval_and_stop_after_three(
    every_half_second: LocalStack,
) -> None:
    step_id = await post_new_step(every_half_second, expires_at=None)

    await wait_thread_reply(every_half_second, step_id, "Still waiting", count=3)
    await asyncio.sleep(1.0)

    assert len(thread_replies(every_half_second, step_id)) == 3
    times = [
        c.at
        for c in every_half_second.slack.calls
        if c.method == "chat.postMessage" and c.params.get("thread_ts")
    ]
    assert all(later - earlier >= 0.35 for earlier, later in pairwise(times))


async def test_answered_step_is_not_reminded(reminding: Callable[..., LocalStack]) -> None:
    async with reminding(hitl_remind_after=0.5) as stack:
        step_id = await post_new_step(stack, "single_boolean")
        await stack.click(step_id, "hitl.answer.yes", user_id="U0ALICE")
        await wait_updated(stack, step_id, "Answered by")

        await asyncio.sleep(1.0)

        assert [
            r["text"] for r in thread_replies(stack, step_id) if "Still waiting" in r["text"]
        ] == []
        assert [j.kind for j in await stack.store.list_jobs(step_id)] == []


async def test_user_ids_in_the_mention_are_mentioned_each(
    reminding: Callable[..., LocalStack],
) -> None:
    async with reminding(hitl_remind_after=0.3, hitl_remind_mention="U0ALICE,U0BOB") as stack:
        step_id = await post_new_step(stack, expires_at=None)

        (reminder,) = await wait_thread_reply(stack, step_id, "Still waiting")

    assert "<@U0ALICE> <@U0BOB>" in reminder["text"]


async def test_no_reminder_is_scheduled_when_reminders_are_off(stack: LocalStack) -> None:
    step_id = await post_new_step(stack, expires_at=None)
    await wait_stored_permalink(stack, step_id)  # stored with what follows the post

    kinds = [j.kind for j in await stack.store.list_jobs(step_id)]

    assert JobKind.REMIND not in kinds
