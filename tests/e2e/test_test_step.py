"""`/hitl test` and `python -m bot send-test`: a labelled test step whose answer goes nowhere."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.__main__ import main
from bot.domain import StepState
from bot.testing.local_stack import CHANNEL_ID, LocalStack, Transport
from tests.transports import over_both_transports

from .helpers import all_text, wait_thread_reply, wait_updated


@pytest.fixture
async def noting(sqlite_url: str, transport: Transport) -> AsyncIterator[LocalStack]:
    overrides = {"intercom_admin_id": "814860"}
    async with LocalStack(sqlite_url, settings_overrides=overrides, transport=transport) as s:
        yield s


async def wait_test_post(stack: LocalStack) -> dict[str, Any]:
    (post,) = await stack.slack.wait_for(
        "chat.postMessage", predicate=lambda p: "[TEST]" in str(p.get("text"))
    )
    return post


def step_id_of_post(post: dict[str, Any]) -> str:
    return str(post["metadata"]["event_payload"]["step_id"])


@over_both_transports
async def test_hitl_test_posts_a_clearly_labelled_test_step_to_the_channel(
    stack: LocalStack,
) -> None:
    answer = await stack.command("test")
    post = await wait_test_post(stack)

    assert answer.body["response_type"] == "ephemeral"
    assert "test step" in answer.body["text"]
    assert post["channel"] == CHANNEL_ID
    text = all_text(post)
    assert "[TEST] Close account" in text
    assert "This is a test step" in text
    assert "not sent to Intercom" in text


@over_both_transports
async def test_answer_to_a_test_step_is_not_sent_to_intercom(noting: LocalStack) -> None:
    await noting.command("test")
    step_id = step_id_of_post(await wait_test_post(noting))

    await noting.click(step_id, "hitl.answer.yes", user_id="U0ALICE")
    # The test step's card says "not sent to Intercom" from the start: wait for the answer.
    update = await wait_updated(noting, step_id, "Answered by <@U0ALICE>")
    await wait_thread_reply(noting, step_id, "Test answer by <@U0ALICE>")
    await asyncio.sleep(0.3)

    assert "not sent to Intercom" in all_text(update)
    record = await noting.store.get(step_id)
    assert record is not None
    assert record.state == StepState.ANSWERED
    assert record.outcome_detail == "test — not sent to Intercom"
    assert noting.intercom.callbacks == []
    assert noting.intercom.notes == []


async def test_send_test_queues_a_test_step_that_the_running_bot_posts(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert stack.settings is not None
    for name, value in stack.settings_values().items():
        monkeypatch.setenv(name.upper(), ",".join(value) if isinstance(value, list) else str(value))

    code = await asyncio.to_thread(main, ["send-test"])
    post = await wait_test_post(stack)

    assert code == 0
    assert post["channel"] == CHANNEL_ID
    assert step_id_of_post(post).startswith("test-")
