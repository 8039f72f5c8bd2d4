"""Working a step, through HTTP against the fakes: "I'm on it" (claim, release, race, take
over, running out, the Intercom note) and the undo window. Races across instances and
crashes inside the window are in tests/durability/test_working.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.domain import JobKind, StepState
from bot.slack import ids
from bot.slack.notices import why_closed
from bot.testing.local_stack import LocalStack

from .helpers import (
    action_ids,
    current_message,
    dumps,
    post_new_step,
    wait_thread_reply,
    wait_until,
    wait_updated,
)


@pytest.fixture
def working(sqlite_url: str) -> Callable[..., LocalStack]:
    def make(**overrides: Any) -> LocalStack:
        return LocalStack(sqlite_url, settings_overrides=overrides)

    return make


async def click_and_read(
    stack: LocalStack, step_id: str, action_id: str, user_id: str
) -> dict[str, Any]:
    """Clicks a button as `user_id` and returns the private answer the clicker got."""
    key = f"{action_id}-{user_id}-{time.monotonic_ns()}"
    answer = await stack.click(step_id, action_id, user_id=user_id, response_key=key)
    assert answer.status == 200, answer.body
    (reply,) = await stack.slack.wait_for_response(key)
    return reply


async def claimed_message(stack: LocalStack, step_id: str, user_id: str) -> dict[str, Any]:
    return await wait_updated(stack, step_id, f"<@{user_id}> is on it since")


# --- I'm on it ---------------------------------------------------------------------------------


async def test_a_claim_shows_who_is_on_it_and_since_when(stack: LocalStack) -> None:
    step_id = await post_new_step(stack, "single_boolean")

    reply = await click_and_read(stack, step_id, ids.CLAIM, "U0ALICE")
    update = await claimed_message(stack, step_id, "U0ALICE")

    assert reply["text"].startswith("👀 You're on it until <!date^")
    assert reply["response_type"] == "ephemeral"
    assert action_ids(update) == [ids.YES, ids.NO, ids.OPEN, ids.RELEASE]
    record = await stack.store.get(step_id)
    assert record is not None
    assert record.claimed_by == "U0ALICE"
    assert record.claim_until == pytest.approx(record.claimed_at + 15 * 60)  # type: ignore[operator]


async def test_only_the_claimer_can_release_and_release_frees_the_step(stack: LocalStack) -> None:
    step_id = await post_new_step(stack, "single_boolean")
    await click_and_read(stack, step_id, ids.CLAIM, "U0ALICE")
    await claimed_message(stack, step_id, "U0ALICE")

    refused = await click_and_read(stack, step_id, ids.RELEASE, "U0BOB")
    released = await click_and_read(stack, step_id, ids.RELEASE, "U0ALICE")

    assert refused["text"] == "Only <@U0ALICE> can release this step (or take it over with Answer)."
    assert released["text"] == "You let go of this step; anyone can take it now."

    async def freed() -> bool:
        return ids.CLAIM in action_ids(current_message(stack, step_id))

    await wait_until(freed, what="the message to offer I'm on it again")
    assert "is on it" not in dumps(current_message(stack, step_id))
    assert JobKind.LAPSE not in [j.kind for j in await stack.store.list_jobs(step_id)]


async def test_two_claims_racing_one_wins_and_the_other_is_told_who(stack: LocalStack) -> None:
    step_id = await post_new_step(stack, "single_boolean")

    replies = await asyncio.gather(
        click_and_read(stack, step_id, ids.CLAIM, "U0ALICE"),
        click_and_read(stack, step_id, ids.CLAIM, "U0BOB"),
    )

    record = await stack.store.get(step_id)
    assert record is not None
    assert record.claimed_by in ("U0ALICE", "U0BOB")
    won, lost = replies if record.claimed_by == "U0ALICE" else replies[::-1]
    assert won["text"].startswith("👀 You're on it until")
    assert lost["text"].startswith(f"👀 <@{record.claimed_by}> is on this step (since <!date^")
    assert [e["action_id"] for b in lost["blocks"] for e in b.get("elements", [])] == [ids.TAKEOVER]


async def test_answering_a_step_someone_is_on_is_refused_privately_with_take_over(
    stack: LocalStack,
) -> None:
    step_id = await post_new_step(stack, "single_boolean")
    await click_and_read(stack, step_id, ids.CLAIM, "U0ALICE")

    opened = await click_and_read(stack, step_id, ids.OPEN, "U0BOB")
    clicked_yes = await click_and_read(stack, step_id, ids.YES, "U0BOB")
    await asyncio.sleep(0.3)

    for reply in (opened, clicked_yes):
        assert reply["text"].startswith("👀 <@U0ALICE> is on this step")
        assert ids.TAKEOVER in dumps(reply["blocks"])
    assert stack.slack.calls_to("views.open") == []
    assert stack.intercom.callbacks == []
    record = await stack.store.get(step_id)
    assert record is not None
    assert record.state is StepState.POSTED


async def test_the_claimer_answers_with_one_click_and_the_claim_ends(stack: LocalStack) -> None:
    step_id = await post_new_step(stack, "single_boolean")
    await click_and_read(stack, step_id, ids.CLAIM, "U0ALICE")

    await stack.click(step_id, ids.YES, user_id="U0ALICE")
    await stack.intercom.wait_for_callbacks(1)
    await wait_updated(stack, step_id, "Answered by")

    record = await stack.store.get(step_id)
    assert record is not None
    assert record.state is StepState.ANSWERED
    assert record.claimed_by is None

    async def no_jobs_left() -> bool:
        return not await stack.store.list_jobs(step_id)

    await wait_until(no_jobs_left, what="the step's jobs (the lapse dropped, the rest done)")


async def test_take_over_opens_the_form_and_the_message_and_thread_record_it(
    stack: LocalStack,
) -> None:
    step_id = await post_new_step(stack, "single_boolean")
    await click_and_read(stack, step_id, ids.CLAIM, "U0ALICE")
    await claimed_message(stack, step_id, "U0ALICE")

    reply = await click_and_read(stack, step_id, ids.TAKEOVER, "U0BOB")

    assert reply["text"] == "🔁 You took this step over from <@U0ALICE>."
    (opened,) = await stack.slack.wait_for("views.open")
    assert ids.step_id_of_view(opened["view"]) == step_id
    await claimed_message(stack, step_id, "U0BOB")
    (trail,) = await wait_thread_reply(stack, step_id, "took over")
    assert trail["text"] == "🔁 <@U0BOB> took over from <@U0ALICE>."
    record = await stack.store.get(step_id)
    assert record is not None
    assert record.claimed_by == "U0BOB"


async def test_a_claim_that_runs_out_says_so_and_reminders_resume(
    working: Callable[..., LocalStack],
) -> None:
    # A 0.6 s claim; reminders every 0.3 s (a step without an expiry).
    async with working(hitl_claim_minutes=0.01, hitl_remind_after=0.3) as stack:
        step_id = await post_new_step(stack, "single_boolean", expires_at=None)
        await click_and_read(stack, step_id, ids.CLAIM, "U0ALICE")
        record = await stack.store.get(step_id)
        assert record is not None
        assert record.claim_until is not None
        claim_left = record.claim_until - time.time()
        claimed_until = time.monotonic() + claim_left

        lapsed = await wait_updated(stack, step_id, "claim ran out")
        (reminder,) = await wait_thread_reply(stack, step_id, "Still waiting")

    assert "⌛ <@U0ALICE>'s claim ran out" in dumps(lapsed)
    assert ids.CLAIM in action_ids(lapsed)
    reminded_at = next(
        c.at
        for c in stack.slack.calls
        if c.params.get("thread_ts") and c.method.endswith("Message")
    )
    # The reminder due at 0.3 s waited for the claim to end.
    assert reminded_at >= claimed_until - 0.05
    assert reminder["text"].startswith("⏰ Still waiting")


async def test_a_claim_adds_an_internal_note_in_intercom(
    working: Callable[..., LocalStack],
) -> None:
    async with working(intercom_admin_id="814860") as stack:
        stack.slack.users["U0ALICE"] = {"real_name": "Alice <b>Archer</b>"}
        step_id = await post_new_step(stack, "single_boolean")
        await click_and_read(stack, step_id, ids.CLAIM, "U0ALICE")

        (note,) = await stack.intercom.wait_for_notes(1)

    assert note.body["message_type"] == "note"
    assert note.body["admin_id"] == "814860"
    assert note.body["body"] == "Alice &lt;b&gt;Archer&lt;/b&gt; is looking at this from Slack."


async def test_claiming_a_settled_step_is_told_why(stack: LocalStack) -> None:
    step_id = await post_new_step(stack, "single_boolean")
    await stack.click(step_id, ids.YES, user_id="U0ALICE")
    await wait_updated(stack, step_id, "Answered by")

    reply = await click_and_read(stack, step_id, ids.CLAIM, "U0BOB")

    record = await stack.store.get(step_id)
    assert reply["text"] == why_closed(record)
    assert record is not None
    assert record.claimed_by is None


# --- The undo window ---------------------------------------------------------------------------


@pytest.fixture
async def undoable(sqlite_url: str) -> AsyncIterator[LocalStack]:
    async with LocalStack(sqlite_url, settings_overrides={"hitl_undo_seconds": 1.0}) as s:
        yield s


async def test_an_answer_waits_out_the_window_with_undo_then_goes(undoable: LocalStack) -> None:
    step_id = await post_new_step(undoable, "single_boolean")
    clicked = time.monotonic()

    await undoable.click(step_id, ids.YES, user_id="U0ALICE")
    waiting = await wait_updated(undoable, step_id, "goes to Fin")
    assert action_ids(waiting) == [ids.UNDO]
    assert "Yes" in dumps(waiting)
    assert undoable.intercom.callbacks == []

    (callback,) = await undoable.intercom.wait_for_callbacks(1)
    await wait_updated(undoable, step_id, "Answered by")

    assert time.monotonic() - clicked >= 1.0
    assert [v["value"] for v in callback.body["attribute_values"]] == [True]


async def test_undo_takes_the_answer_back_and_reopens_the_step_for_anyone(
    undoable: LocalStack,
) -> None:
    step_id = await post_new_step(undoable, "single_boolean")
    await undoable.click(step_id, ids.YES, user_id="U0ALICE")
    await wait_updated(undoable, step_id, "goes to Fin")

    refused = await click_and_read(undoable, step_id, ids.UNDO, "U0BOB")
    undone = await click_and_read(undoable, step_id, ids.UNDO, "U0ALICE")
    (trail,) = await wait_thread_reply(undoable, step_id, "took their answer back")

    assert refused["text"] == "Only <@U0ALICE> can take their answer back."
    assert undone["text"] == "↩️ Your answer was taken back; the step is open again."
    assert trail["text"].startswith("↩️ <@U0ALICE> took their answer back")

    async def reopened() -> bool:
        return ids.YES in action_ids(current_message(undoable, step_id))

    await wait_until(reopened, what="the message to offer Yes/No again")
    await asyncio.sleep(1.3)  # past the window: nothing goes
    assert undoable.intercom.callbacks == []
    record = await undoable.store.get(step_id)
    assert record is not None
    assert (record.state, record.answer, record.send_at) == (StepState.POSTED, None, None)
    assert JobKind.DELIVER not in [j.kind for j in await undoable.store.list_jobs(step_id)]

    # Anyone may answer it now, Bob included; his answer waits out its own window.
    await undoable.click(step_id, ids.NO, user_id="U0BOB")
    (callback,) = await undoable.intercom.wait_for_callbacks(1, timeout=5.0)
    assert [v["value"] for v in callback.body["attribute_values"]] == [False]


async def test_undo_after_the_answer_went_is_told_it_was_sent(undoable: LocalStack) -> None:
    step_id = await post_new_step(undoable, "single_boolean")
    await undoable.click(step_id, ids.YES, user_id="U0ALICE")
    await undoable.intercom.wait_for_callbacks(1)
    await wait_updated(undoable, step_id, "Answered by")

    reply = await click_and_read(undoable, step_id, ids.UNDO, "U0ALICE")

    assert reply["text"] == "It had already gone to Fin: it can't be taken back any more."
    assert len(undoable.intercom.callbacks) == 1


async def test_the_window_is_skipped_when_the_step_expires_too_soon(
    undoable: LocalStack,
) -> None:
    # 1.5 s left is less than twice the 1 s window: the answer goes at once.
    step_id = await post_new_step(undoable, "single_boolean", expires_at=int(time.time()) + 2)

    await undoable.click(step_id, ids.YES, user_id="U0ALICE")
    await undoable.intercom.wait_for_callbacks(1, timeout=0.9)

    assert "goes to Fin" not in "".join(dumps(p) for p in undoable.slack.calls_to("chat.update"))


# --- Precedent ---------------------------------------------------------------------------------


async def test_the_card_shows_how_earlier_answers_to_the_procedure_went(stack: LocalStack) -> None:
    """Answered through Slack, counted on the next card (the counts for lists, numbers and
    test steps: tests/jobs/test_precedent.py)."""
    first = await post_new_step(stack, "single_boolean")
    assert "precedent" not in dumps(current_message(stack, first))
    for step_id, action in (
        (first, ids.YES),
        (await post_new_step(stack, "single_boolean"), ids.NO),
    ):
        await stack.click(step_id, action, user_id="U0ALICE")
        await wait_updated(stack, step_id, "Answered by")

    third = await post_new_step(stack, "single_boolean")

    (precedent,) = [
        b for b in current_message(stack, third)["blocks"] if "precedent" in b["block_id"]
    ]
    assert precedent["text"]["text"].splitlines()[1].endswith(": Yes in 1 of the last 2")
