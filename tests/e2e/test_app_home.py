"""The App Home tab: open steps to answer, newest first, and the viewer's recent answers."""

from __future__ import annotations

from bot.testing.local_stack import LocalStack
from tests.transports import over_both_transports

from .helpers import (
    all_text,
    click_in_home,
    fresh_payload,
    item_of,
    open_home,
    send_and_wait_posted,
    step_id_of,
    wait_updated,
)


def _answer_buttons(view: dict[str, object]) -> list[tuple[str, str]]:
    blocks = view["blocks"]
    assert isinstance(blocks, list)
    return [
        (b["accessory"]["action_id"], b["accessory"]["value"])
        for b in blocks
        if isinstance(b, dict) and "accessory" in b
    ]


@over_both_transports
async def test_home_lists_pending_steps_newest_first_with_answer_buttons(
    stack: LocalStack,
) -> None:
    older, newer = fresh_payload(stack), fresh_payload(stack, "all_types")
    for payload in (older, newer):
        await send_and_wait_posted(stack, payload)

    answer = await open_home(stack, "U0ALICE")
    (published,) = await stack.slack.wait_for("views.publish")

    assert answer.status == 200
    assert published["user_id"] == "U0ALICE"
    view = published["view"]
    assert view["type"] == "home"
    buttons = _answer_buttons(view)
    assert [value for _, value in buttons] == [step_id_of(newer), step_id_of(older)]
    assert all(action.startswith("hitl.open") for action, _ in buttons)


@over_both_transports
async def test_home_shows_the_steps_the_viewer_answered(stack: LocalStack) -> None:
    mine = fresh_payload(stack, "single_boolean", conversation_id="900000000000001")
    theirs = fresh_payload(stack, "single_boolean", conversation_id="900000000000002")
    for payload, user in ((mine, "U0ALICE"), (theirs, "U0BOB")):
        await send_and_wait_posted(stack, payload)
        await stack.click(step_id_of(payload), "hitl.answer.yes", user_id=user)
        await wait_updated(stack, step_id_of(payload), "Answered by")

    await open_home(stack, "U0ALICE")
    (published,) = await stack.slack.wait_for("views.publish")

    text = all_text(published["view"])
    assert "Answered by you recently" in text
    assert item_of(mine)["conversation_id"] in text
    assert item_of(theirs)["conversation_id"] not in text
    assert _answer_buttons(published["view"]) == []


@over_both_transports
async def test_answer_button_in_home_opens_the_form(stack: LocalStack) -> None:
    payload = fresh_payload(stack)
    await send_and_wait_posted(stack, payload)

    await click_in_home(stack, step_id_of(payload), "hitl.open.home")
    (opened,) = await stack.slack.wait_for("views.open")

    assert opened["view"]["callback_id"] == "hitl.submit"


@over_both_transports
async def test_home_click_on_a_settled_step_explains_in_a_modal(stack: LocalStack) -> None:
    """A Home tab click has no response_url, so the reason comes as a small modal."""
    payload = fresh_payload(stack, "single_boolean")
    step_id = step_id_of(payload)
    await send_and_wait_posted(stack, payload)
    await stack.click(step_id, "hitl.answer.no", user_id="U0ALICE")
    await wait_updated(stack, step_id, "Answered by")

    await click_in_home(stack, step_id, "hitl.open.home", user_id="U0BOB")
    (opened,) = await stack.slack.wait_for("views.open")

    assert "Already answered by <@U0ALICE>" in all_text(opened["view"])
