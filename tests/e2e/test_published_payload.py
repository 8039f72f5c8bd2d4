"""Intercom's own example delivery, byte for byte, end to end: webhook → message → form →
answer → callback → updated message.

The example's timestamps are from November 2023, so the bot runs on a clock set back to
when Intercom sent it; its callback_url is on api.intercom.io, whose requests the stack
sends to the fake Intercom on loopback.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from bot.samples import load_sample, sample_bytes
from bot.testing.local_stack import INTERCOM_CLIENT_SECRET, LocalStack
from bot.testing.signing import sign_intercom

from .conftest import ProductionOriginsStack
from .helpers import (
    all_text,
    select_state,
    wait_posted,
    wait_updated,
    yes_no_state,
)
from .test_submission import callback_validator

EXAMPLE = load_sample("documented_example")
ITEM = EXAMPLE["data"]["item"]
STEP_ID = ITEM["step_id"]
INBOX_LINK = ITEM["conversation_url"]


@pytest.fixture
async def as_in_2023(sqlite_url: str) -> AsyncIterator[LocalStack]:
    offset = time.time() - EXAMPLE["created_at"]
    stack = ProductionOriginsStack(sqlite_url, clock=lambda: time.time() - offset)
    async with stack:
        yield stack


async def _deliver(stack: LocalStack) -> dict[str, object]:
    body = sample_bytes("documented_example")
    answer = await stack.send_webhook(body, signature=sign_intercom(body, INTERCOM_CLIENT_SECRET))
    assert answer.status == 200, answer.body
    return await wait_posted(stack, STEP_ID)


async def test_the_message_says_what_a_teammate_needs_to_decide(as_in_2023: LocalStack) -> None:
    posted = await _deliver(as_in_2023)
    blocks = posted["blocks"]
    assert isinstance(blocks, list)

    assert blocks[0]["text"]["text"] == "🔴 Priority · Refund Request"
    assert blocks[1]["text"]["text"] == (
        "*Fin asks:* Should we approve the refund for this customer?"
    )
    text = all_text({"blocks": blocks})
    assert "Hi, I'd like a refund for my recent order #12345." in text
    assert "*Jane Doe* (customer)" in text
    assert "Assigned in Intercom to *Customer Support*" in text
    assert f"<{INBOX_LINK}|Conversation 215473853299345>" in text
    assert "Expires <!date^1700086400^" in text


async def test_the_form_shows_every_recent_message_and_the_answer_reaches_intercom(
    as_in_2023: LocalStack,
) -> None:
    await _deliver(as_in_2023)

    view = await as_in_2023.open_form(STEP_ID)
    recent = [b["text"]["text"] for b in view["blocks"] if b["block_id"].startswith("hitl.recent.")]
    submitted = await as_in_2023.submit(view, yes_no_state(0, True) | select_state(1, 0))
    (callback,) = await as_in_2023.intercom.wait_for_callbacks(1)
    updated = await wait_updated(as_in_2023, STEP_ID, "Answered by")

    assert recent[0] == (
        "*Jane Doe* (customer) · <!date^1699999800^{date_short_pretty} at {time}|"
        "2023-11-14 22:10 UTC>\n>Hi, I'd like a refund for my recent order #12345."
    )
    assert recent[1].startswith("*Fin* · <!date^1699999900^")
    assert submitted.status == 200
    assert submitted.body is None
    assert callback.conversation_id == ITEM["conversation_id"]
    assert callback.headers["Host"] == "api.intercom.io"
    assert callback.body == {
        "step_id": STEP_ID,
        "attribute_values": [
            {"identifier": ITEM["attributes_to_collect"][0]["identifier"], "value": True},
            {
                "identifier": ITEM["attributes_to_collect"][1]["identifier"],
                "value": "85f00ba7-558c-4b02-a397-6f5c3659941c",
            },
        ],
    }
    assert callback_validator().is_valid(callback.body)
    assert "Defective Product" in all_text(updated)
