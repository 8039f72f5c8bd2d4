"""Escalation timed to the step's deadline, through HTTP against the fakes.

The bot runs on a FastClock (200 bot seconds per real second), so a step that waits ten
minutes for Fin lives three real seconds: the mention at 50 %, the direct message at
80 %, the last call at 95 % (later than two minutes before the expiry here), then expiry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.domain import JobKind, StepState
from bot.slack import ids
from bot.testing.clock import FastClock
from bot.testing.local_stack import LocalStack

from .helpers import (
    current_message,
    dumps,
    post_new_step,
    thread_replies,
    wait_thread_reply,
    wait_until,
    wait_updated,
)

SPEED = 200.0
LIFE = 600  # bot seconds: 3 s on the wall
QUESTION_START = "Customer confirmed identity"  # the single_boolean sample's question


@pytest.fixture
def escalating(sqlite_url: str) -> Callable[..., tuple[LocalStack, FastClock]]:
    def make(**overrides: Any) -> tuple[LocalStack, FastClock]:
        clock = FastClock(SPEED)
        settings = {
            "hitl_remind_mention": "<!subteam^S0TEAM>",
            "hitl_escalate_to": "U0LEAD,U0BOSS",
            "hitl_poll_interval": 0.05,
            **overrides,
        }
        return LocalStack(sqlite_url, settings_overrides=settings, clock=clock), clock

    return make


async def post_expiring(stack: LocalStack, clock: FastClock) -> str:
    return await post_new_step(stack, "single_boolean", expires_at=int(clock() + LIFE))


def dms(stack: LocalStack) -> list[dict[str, Any]]:
    return [
        p for p in stack.slack.calls_to("chat.postMessage") if str(p["channel"]).startswith("D")
    ]


def bot_time_of(clock: FastClock, monotonic_at: float, now_monotonic: float) -> float:
    return clock() - (now_monotonic - monotonic_at) * clock.speed


async def test_each_stage_arrives_at_its_fraction_of_the_steps_life(
    escalating: Callable[..., tuple[LocalStack, FastClock]],
) -> None:
    stack, clock = escalating()
    async with stack:
        step_id = await post_expiring(stack, clock)
        record = await stack.store.get(step_id)
        assert record is not None
        assert record.step.expires_at is not None
        received = record.received_at
        # Its life as the bot sees it: from its arrival to the whole second Intercom gave.
        life = record.step.expires_at - received

        (mention,) = await wait_thread_reply(stack, step_id, "Still waiting")
        mentioned_at = clock()
        (escalated,) = await wait_thread_reply(stack, step_id, "Escalated to")
        escalated_at = clock()
        (last_call,) = await wait_thread_reply(stack, step_id, "Last call")
        last_call_at = clock()
        marked = await wait_updated(stack, step_id, "last call.")
        await wait_updated(stack, step_id, "Expired", timeout=10)
        await asyncio.sleep(0.5)

    # Each came at (or within a poll or two after) its fraction of the life.
    assert 0.5 * life <= mentioned_at - received < 0.5 * life + 60
    assert 0.8 * life <= escalated_at - received < 0.8 * life + 60
    assert 0.95 * life <= last_call_at - received < life
    assert "<!subteam^S0TEAM>" in mention["text"]
    assert escalated["text"] == (
        "📣 Escalated to <@U0LEAD>, <@U0BOSS>: still no answer at 80% of the time Fin waits."
    )
    assert last_call["text"].startswith("⏳ Last call: this step expires <!date^")
    assert "⏳ *Expires <!date^" in dumps(marked)
    # Stages only once each; nothing after the step settled.
    replies = [r["text"] for r in thread_replies(stack, step_id)]
    assert [r[:1] for r in replies] == ["⏰", "📣", "⏳", "⌛"]
    assert len(dms(stack)) == 2


async def test_a_dm_that_fails_is_retried_without_messaging_the_others_again(
    escalating: Callable[..., tuple[LocalStack, FastClock]],
) -> None:
    stack, clock = escalating()
    # The first DM goes through; opening the second fails once (Slack answers 503).
    stack.slack.fail_next("conversations.open", delay=0.01)
    stack.slack.fail_next("conversations.open", status=503)
    async with stack:
        step_id = await post_expiring(stack, clock)
        await wait_thread_reply(stack, step_id, "Escalated to")

        async def both_reached() -> bool:
            return len(dms(stack)) >= 2

        await wait_until(both_reached, what="both DMs")
        await asyncio.sleep(0.3)  # time for a stray repeat

    opened = [c.params["users"] for c in stack.slack.calls if c.method == "conversations.open"]
    assert sorted(opened) == ["U0BOSS", "U0BOSS", "U0LEAD"]  # the failed one, tried again
    assert sorted(p["channel"] for p in dms(stack)) == ["DU0BOSS", "DU0LEAD"]


async def test_the_dm_carries_the_question_the_deadline_and_a_link_to_the_message(
    escalating: Callable[..., tuple[LocalStack, FastClock]],
) -> None:
    stack, clock = escalating()
    async with stack:
        step_id = await post_expiring(stack, clock)
        await wait_thread_reply(stack, step_id, "Escalated to")
        record = await stack.store.get(step_id)

    assert record is not None
    assert record.permalink is not None
    opened = [c.params["users"] for c in stack.slack.calls if c.method == "conversations.open"]
    assert sorted(opened) == ["U0BOSS", "U0LEAD"]
    assert sorted(p["channel"] for p in dms(stack)) == ["DU0BOSS", "DU0LEAD"]
    text = dms(stack)[0]["text"]
    assert text.startswith("📣 A Fin step needs an answer soon: *Close account*\n")
    assert QUESTION_START in text
    assert f"It expires <!date^{record.step.expires_at}^" in text
    assert f"<{record.permalink}|open the step>" in text


async def test_a_user_group_is_messaged_member_by_member(
    escalating: Callable[..., tuple[LocalStack, FastClock]],
) -> None:
    stack, clock = escalating(hitl_escalate_to="S0LEADS")
    async with stack:
        stack.slack.usergroups["S0LEADS"] = ["U0ANN", "U0BEN"]
        step_id = await post_expiring(stack, clock)
        (escalated,) = await wait_thread_reply(stack, step_id, "Escalated to")

    assert escalated["text"].startswith("📣 Escalated to <!subteam^S0LEADS>:")
    assert sorted(p["channel"] for p in dms(stack)) == ["DU0ANN", "DU0BEN"]


async def test_a_routes_escalate_to_wins_over_the_global_setting(
    escalating: Callable[..., tuple[LocalStack, FastClock]], tmp_path: Path
) -> None:
    routes = tmp_path / "routes.yml"
    routes.write_text(
        'routes:\n  - procedure: "close account"\n    escalate_to: [U0OWNER]\n', encoding="utf-8"
    )
    stack, clock = escalating(hitl_routes_file=str(routes))
    async with stack:
        step_id = await post_expiring(stack, clock)
        await wait_thread_reply(stack, step_id, "Escalated to <@U0OWNER>")

    assert [p["channel"] for p in dms(stack)] == ["DU0OWNER"]


async def test_a_claim_holds_the_mention_and_the_dm_but_not_the_last_call(
    escalating: Callable[..., tuple[LocalStack, FastClock]],
) -> None:
    stack, clock = escalating()  # a claim lasts 15 bot minutes, longer than the step's life
    async with stack:
        step_id = await post_expiring(stack, clock)
        await stack.click(step_id, ids.CLAIM, user_id="U0ALICE")
        await wait_updated(stack, step_id, "is on it since")

        (last_call,) = await wait_thread_reply(stack, step_id, "Last call", timeout=10)
        await wait_updated(stack, step_id, "Expired", timeout=10)
        await asyncio.sleep(0.3)

    assert [r["text"][:1] for r in thread_replies(stack, step_id)] == ["⏳", "⌛"]
    assert dms(stack) == []
    assert last_call["text"].startswith("⏳ Last call")


async def test_a_claim_that_ends_early_lets_the_stages_it_held_go(
    escalating: Callable[..., tuple[LocalStack, FastClock]],
) -> None:
    # A one-bot-minute claim from the start: the mention (at 300 s) comes after it ends.
    stack, clock = escalating(hitl_claim_minutes=1)
    async with stack:
        step_id = await post_expiring(stack, clock)
        await stack.click(step_id, ids.CLAIM, user_id="U0ALICE")
        await wait_updated(stack, step_id, "claim ran out")
        await wait_thread_reply(stack, step_id, "Escalated to")

    assert [r["text"][:1] for r in thread_replies(stack, step_id)][:2] == ["⏰", "📣"]


async def test_nothing_fires_once_the_step_is_answered(
    escalating: Callable[..., tuple[LocalStack, FastClock]],
) -> None:
    stack, clock = escalating()
    async with stack:
        step_id = await post_expiring(stack, clock)
        await wait_thread_reply(stack, step_id, "Still waiting")
        await stack.click(step_id, ids.YES, user_id="U0ALICE")
        await stack.intercom.wait_for_callbacks(1)
        await wait_updated(stack, step_id, "Answered by")

        async def settled_and_quiet() -> bool:
            kinds = [j.kind for j in await stack.store.list_jobs(step_id)]
            return JobKind.REMIND not in kinds and JobKind.ESCALATE not in kinds

        await wait_until(settled_and_quiet, what="the reminders to be dropped")
        await asyncio.sleep(LIFE / SPEED)  # past every stage's time
        record = await stack.store.get(step_id)  # while the store is open

    assert record is not None
    assert record.state is StepState.ANSWERED
    assert [r["text"][:1] for r in thread_replies(stack, step_id)] == ["⏰", "✅"]
    assert dms(stack) == []
    assert "last call" not in dumps(current_message(stack, step_id))
