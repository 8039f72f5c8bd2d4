"""The form's optional comment: kept with the answer, shown to people, never sent to Fin."""

from __future__ import annotations

from typing import Any

from bot.testing.local_stack import LocalStack

from .helpers import (
    ESCAPED_TOKENS,
    NASTY,
    RAW_TOKENS,
    dumps,
    fresh_payload,
    refund_state,
    send_and_wait_posted,
    step_id_of,
    wait_thread_reply,
)

COMMENT = "Checked the order history first"


def with_comment(comment: str) -> dict[str, Any]:
    state = refund_state(approve=True, reason=1)
    state["hitl.comment"] = {"hitl.comment.value": {"type": "plain_text_input", "value": comment}}
    return state


async def answer_with_comment(stack: LocalStack, comment: str = COMMENT) -> str:
    payload = fresh_payload(stack)
    step_id = step_id_of(payload)
    await send_and_wait_posted(stack, payload)
    view = await stack.open_form(step_id)
    submitted = await stack.submit(view, with_comment(comment), user_id="U0ALICE")
    assert submitted.body is None, submitted.body
    return step_id


async def test_comment_is_stored_with_the_answer_and_never_sent_to_fin(stack: LocalStack) -> None:
    step_id = await answer_with_comment(stack)

    (callback,) = await stack.intercom.wait_for_callbacks(1)

    assert set(callback.body) == {"step_id", "attribute_values"}
    assert COMMENT not in dumps(callback.body)
    record = await stack.store.get(step_id)
    assert record is not None
    assert record.answer is not None
    assert record.answer.comment == COMMENT


async def test_comment_is_shown_in_the_thread_trail(stack: LocalStack) -> None:
    step_id = await answer_with_comment(stack)

    (reply,) = await wait_thread_reply(stack, step_id, "Answered by")

    assert COMMENT in reply["text"]


async def test_comment_in_the_thread_cannot_ping_or_forge_links(stack: LocalStack) -> None:
    step_id = await answer_with_comment(stack, NASTY)

    (reply,) = await wait_thread_reply(stack, step_id, "Answered by")

    assert not any(token in reply["text"] for token in RAW_TOKENS)
    assert all(token in reply["text"] for token in ESCAPED_TOKENS)


async def test_comment_is_in_the_audit_note(sqlite_url: str) -> None:
    async with LocalStack(sqlite_url, settings_overrides={"intercom_admin_id": "814860"}) as stack:
        await answer_with_comment(stack)

        (note,) = await stack.intercom.wait_for_notes(1)

    assert COMMENT in note.body["body"]
