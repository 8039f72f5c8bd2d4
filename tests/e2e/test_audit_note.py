"""INTERCOM_ADMIN_ID: after Intercom accepts an answer, an internal note says who answered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.testing.intercom import Reply
from bot.testing.local_stack import INTERCOM_TOKEN, LocalStack

from .helpers import fresh_payload, refund_state, send_and_wait_posted, step_id_of, wait_updated

ADMIN_ID = "814860"


@pytest.fixture
async def noting(sqlite_url: str) -> AsyncIterator[LocalStack]:
    async with LocalStack(sqlite_url, settings_overrides={"intercom_admin_id": ADMIN_ID}) as s:
        s.slack.users["U0ALICE"] = {"real_name": "Alice Archer"}
        yield s


async def answer_refund(stack: LocalStack, *replies: Reply) -> tuple[str, str]:
    """Answers a refund step as Alice; returns (step_id, conversation_id)."""
    payload = fresh_payload(stack)
    step_id = step_id_of(payload)
    stack.intercom.script(step_id, *replies)
    await send_and_wait_posted(stack, payload)
    view = await stack.open_form(step_id)
    submitted = await stack.submit(view, refund_state(approve=True, reason=1), user_id="U0ALICE")
    assert submitted.body is None, submitted.body
    return step_id, str(payload["data"]["item"]["conversation_id"])


async def test_accepted_answer_gets_an_internal_note_naming_who_answered(
    noting: LocalStack,
) -> None:
    _, conversation_id = await answer_refund(noting)

    (note,) = await noting.intercom.wait_for_notes(1)

    assert note.conversation_id == conversation_id
    assert note.status == 200
    assert note.body["message_type"] == "note"
    assert note.body["type"] == "admin"
    assert note.body["admin_id"] == ADMIN_ID
    assert note.body["body"].startswith("Answered in Slack by Alice Archer (U0ALICE): ")
    assert "Wrong item sent" in note.body["body"]
    assert note.headers["Authorization"] == f"Bearer {INTERCOM_TOKEN}"
    assert note.headers["Intercom-Version"] == "Preview"


async def test_note_is_retried_when_intercom_is_unavailable(noting: LocalStack) -> None:
    noting.intercom.script_notes(Reply.unavailable())

    await answer_refund(noting)
    first, second = await noting.intercom.wait_for_notes(2)

    assert (first.status, second.status) == (503, 200)


async def test_no_note_when_intercom_did_not_take_the_answer(noting: LocalStack) -> None:
    step_id, _ = await answer_refund(noting, Reply.conflict())

    await wait_updated(noting, step_id, "answered elsewhere")
    await asyncio.sleep(0.5)

    assert noting.intercom.notes == []


async def test_no_note_without_an_admin_id(stack: LocalStack) -> None:
    step_id, _ = await answer_refund(stack)

    await wait_updated(stack, step_id, "Answered by")
    await asyncio.sleep(0.5)

    assert stack.intercom.notes == []


async def test_note_names_the_slack_id_when_the_name_cannot_be_read(noting: LocalStack) -> None:
    noting.slack.fail_next("users.info", error="user_not_found")

    await answer_refund(noting)
    (note,) = await noting.intercom.wait_for_notes(1)

    assert note.body["body"].startswith("Answered in Slack by U0ALICE (U0ALICE): ")
