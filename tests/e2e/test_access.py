"""Who may answer: SLACK_ALLOWED_USERS and SLACK_ALLOWED_USERGROUP, enforced on the server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.domain import StepState
from bot.testing.local_stack import LocalStack, Transport
from tests.transports import over_both_transports

from .helpers import all_text, post_new_step, refund_state

NOT_ALLOWED = "can't answer this"


@pytest.fixture
async def alice_only(sqlite_url: str, transport: Transport) -> AsyncIterator[LocalStack]:
    overrides = {"slack_allowed_users": "U0ALICE"}
    async with LocalStack(sqlite_url, settings_overrides=overrides, transport=transport) as s:
        yield s


@pytest.fixture
async def team_only(sqlite_url: str, transport: Transport) -> AsyncIterator[LocalStack]:
    async with LocalStack(
        sqlite_url, settings_overrides={"slack_allowed_usergroup": "S0TEAM"}, transport=transport
    ) as running:
        running.slack.usergroups["S0TEAM"] = ["U0ALICE", "U0CAROL"]
        yield running


@over_both_transports
async def test_someone_not_allowed_clicking_answer_is_told_privately_and_gets_no_form(
    alice_only: LocalStack,
) -> None:
    step_id = await post_new_step(alice_only)

    await alice_only.click(step_id, "hitl.open", user_id="U0BOB", response_key="bob")
    (note,) = await alice_only.slack.wait_for_response("bob")

    assert NOT_ALLOWED in note["text"]
    assert note["response_type"] == "ephemeral"
    assert alice_only.slack.calls_to("views.open") == []


@over_both_transports
async def test_an_allowed_user_gets_the_form(alice_only: LocalStack) -> None:
    step_id = await post_new_step(alice_only)

    view = await alice_only.open_form(step_id, user_id="U0ALICE")

    assert view["callback_id"] == "hitl.submit"


@over_both_transports
async def test_a_submission_from_someone_not_allowed_is_refused_on_the_server(
    alice_only: LocalStack,
) -> None:
    """A form opened by Alice but submitted as Bob (a forged or shared view) sends nothing."""
    step_id = await post_new_step(alice_only)
    view = await alice_only.open_form(step_id, user_id="U0ALICE")

    answer = await alice_only.submit(view, refund_state(), user_id="U0BOB")

    assert answer.body["response_action"] == "update"
    assert NOT_ALLOWED in all_text(answer.body["view"])
    record = await alice_only.store.get(step_id)
    assert record is not None
    assert record.state == StepState.POSTED
    assert alice_only.intercom.callbacks == []


@over_both_transports
async def test_a_yes_click_from_someone_not_allowed_is_refused(alice_only: LocalStack) -> None:
    step_id = await post_new_step(alice_only, "single_boolean")

    await alice_only.click(step_id, "hitl.answer.yes", user_id="U0BOB", response_key="bob-yes")
    (note,) = await alice_only.slack.wait_for_response("bob-yes")

    assert NOT_ALLOWED in note["text"]
    record = await alice_only.store.get(step_id)
    assert record is not None
    assert record.state == StepState.POSTED
    assert record.answer is None


@over_both_transports
async def test_a_member_of_the_allowed_usergroup_may_answer(team_only: LocalStack) -> None:
    step_id = await post_new_step(team_only, "single_boolean")

    await team_only.click(step_id, "hitl.answer.no", user_id="U0CAROL")
    (callback,) = await team_only.intercom.wait_for_callbacks(1)

    assert callback.body["attribute_values"][0]["value"] is False


@over_both_transports
async def test_someone_outside_the_allowed_usergroup_gets_no_form(team_only: LocalStack) -> None:
    step_id = await post_new_step(team_only)

    await team_only.click(step_id, "hitl.open", user_id="U0BOB", response_key="bob")
    (note,) = await team_only.slack.wait_for_response("bob")

    assert NOT_ALLOWED in note["text"]
    assert team_only.slack.calls_to("views.open") == []


@over_both_transports
async def test_usergroup_members_are_read_once_and_cached(team_only: LocalStack) -> None:
    step_id = await post_new_step(team_only)

    await team_only.open_form(step_id, user_id="U0ALICE")
    await team_only.open_form(step_id, user_id="U0CAROL")
    await team_only.click(step_id, "hitl.open", user_id="U0BOB", response_key="bob")
    await team_only.slack.wait_for_response("bob")

    lookups = team_only.slack.calls_to("usergroups.users.list")
    assert [c["usergroup"] for c in lookups] == ["S0TEAM"]
