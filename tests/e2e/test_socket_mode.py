"""Socket Mode end to end: Slack's requests over the bot's socket, acks inside 3 s, and
reconnects (Slack's `disconnect`, a dropped socket, an ack lost with its socket, an answer
Slack must retry) losing no interaction and handling none twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.app import SOCKET_MODE
from bot.slack import ids
from bot.socket_mode import SocketModeRefused
from bot.testing import slack_payloads
from bot.testing.local_stack import CHANNEL_ID, LocalStack
from bot.testing.slack_socket import FakeSocketMode

from .helpers import (
    message_ts,
    post_new_step,
    refund_state,
    wait_stored_permalink,
    wait_updated,
)

SLACK_ACK_DEADLINE_SECONDS = 3.0


@pytest.fixture
async def socket_stack(sqlite_url: str) -> AsyncIterator[LocalStack]:
    async with LocalStack(sqlite_url, transport="socket") as running:
        yield running


def socket_of(stack: LocalStack) -> FakeSocketMode:
    assert stack.socket is not None
    return stack.socket


def yes_click(stack: LocalStack, step_id: str) -> dict[str, Any]:
    return slack_payloads.block_actions(
        step_id,
        ids.YES,
        user_id="U0ALICE",
        channel_id=CHANNEL_ID,
        message_ts=message_ts(stack, step_id),
        response_url=stack.slack.response_url("yes"),
    )


async def yes_no_step(stack: LocalStack) -> str:
    """A posted step answered with one click (the single_boolean sample)."""
    return await post_new_step(stack, "single_boolean")


async def assert_answered_once(stack: LocalStack, step_id: str) -> None:
    await wait_updated(stack, step_id, "Answered by")
    await asyncio.sleep(0.3)  # room for a second callback, were one to come
    callbacks = [c for c in stack.intercom.callbacks if c.body.get("step_id") == step_id]
    assert len(callbacks) == 1, callbacks


# --- What arrives where --------------------------------------------------------------------


async def test_slacks_requests_come_over_the_socket_and_slack_events_is_not_served(
    socket_stack: LocalStack,
) -> None:
    socket = socket_of(socket_stack)
    step_id = await yes_no_step(socket_stack)

    answer = await socket_stack.click(step_id, ids.YES)
    await assert_answered_once(socket_stack, step_id)

    assert answer.status == 200
    assert [e.type for e in socket.envelopes.values()] == ["interactive"]
    assert len(socket.acks) == 1
    refused = await socket_stack.post_to_slack_events("payload=%7B%7D")
    assert refused.status == 404
    assert (await socket_stack.session.get(f"{socket_stack.url}/healthz")).status == 200
    assert (await socket_stack.session.get(f"{socket_stack.url}/metrics")).status == 200


async def test_every_kind_of_request_is_acked_inside_slacks_three_seconds(
    socket_stack: LocalStack,
) -> None:
    socket = socket_of(socket_stack)
    step_id = await post_new_step(socket_stack)

    view = await socket_stack.open_form(step_id)
    await socket_stack.submit(view, {})  # refused with errors, in the ack
    await socket_stack.submit(view, refund_state())
    await socket_stack.command("")
    await socket_stack.open_home()
    await wait_updated(socket_stack, step_id, "Answered by")

    kinds = {e.type for e in socket.envelopes.values()}
    assert kinds == {"interactive", "slash_commands", "events_api"}
    assert len(socket.acks) == len(socket.envelopes) == 5
    slowest = max(a.seconds for a in socket.acks)
    assert slowest < SLACK_ACK_DEADLINE_SECONDS, slowest


async def test_a_form_refused_with_errors_is_acked_with_them(socket_stack: LocalStack) -> None:
    step_id = await post_new_step(socket_stack)
    view = await socket_stack.open_form(step_id)

    envelope_id = await socket_of(socket_stack).send(
        "interactive", slack_payloads.view_submission(view, {}, user_id="U0ALICE")
    )
    ack = await socket_of(socket_stack).wait_ack(envelope_id)

    assert ack.payload is not None
    assert ack.payload["response_action"] == "errors"


# --- Reconnects -----------------------------------------------------------------------------


async def test_a_disconnect_envelope_loses_no_acknowledged_interaction(
    socket_stack: LocalStack,
) -> None:
    socket = socket_of(socket_stack)
    first, second = await yes_no_step(socket_stack), await yes_no_step(socket_stack)

    envelope_id = await socket.send("interactive", yes_click(socket_stack, first))
    await socket.disconnect()
    await socket.wait_connected(count=2)
    await socket.wait_ack(envelope_id)
    later = await socket.request("interactive", yes_click(socket_stack, second))

    await assert_answered_once(socket_stack, first)
    await assert_answered_once(socket_stack, second)
    assert later.connection == 2
    assert all(c.closed for c in socket.connections[:1])


@pytest.mark.parametrize("abrupt", [False, True], ids=["closed", "cut"])
async def test_a_dropped_socket_is_replaced_and_the_next_click_is_handled(
    socket_stack: LocalStack, abrupt: bool
) -> None:
    socket = socket_of(socket_stack)
    step_id = await yes_no_step(socket_stack)

    await socket.drop(abrupt=abrupt)
    await socket.wait_connected(count=2, timeout=10)
    ack = await socket.request("interactive", yes_click(socket_stack, step_id))

    await assert_answered_once(socket_stack, step_id)
    assert ack.connection == 2


async def test_a_click_whose_ack_was_lost_with_its_socket_is_redelivered_and_handled_once(
    socket_stack: LocalStack,
) -> None:
    socket = socket_of(socket_stack)
    step_id = await yes_no_step(socket_stack)
    socket.lose_next_acks(1)

    envelope_id = await socket.send("interactive", yes_click(socket_stack, step_id))
    ack = await socket.wait_ack(envelope_id, timeout=10)

    await assert_answered_once(socket_stack, step_id)
    assert socket.lost_acks == [envelope_id]
    assert socket.envelopes[envelope_id].attempts == 2
    assert ack.connection == 2
    assert socket_stack.app is not None
    assert len(socket_stack.app[SOCKET_MODE].recent) >= 1


async def test_a_submission_whose_ack_was_lost_is_answered_again_with_the_same_ack(
    socket_stack: LocalStack,
) -> None:
    """The repeat is not handled again: it gets the first delivery's ack (here: none to
    show), and Intercom one callback."""
    socket = socket_of(socket_stack)
    step_id = await post_new_step(socket_stack)
    view = await socket_stack.open_form(step_id)
    socket.lose_next_acks(1)

    submission = slack_payloads.view_submission(view, refund_state(), user_id="U0ALICE")
    envelope_id = await socket.send("interactive", submission)
    ack = await socket.wait_ack(envelope_id, timeout=10)

    await assert_answered_once(socket_stack, step_id)
    assert ack.payload is None
    assert socket.envelopes[envelope_id].attempts == 2


async def test_an_envelope_the_bot_could_not_handle_is_not_acked_and_is_handled_once_later(
    socket_stack: LocalStack,
) -> None:
    """The installed workspace cannot be confirmed (auth.test fails): over HTTP a 503, so
    over the socket no ack; Slack's next delivery is handled, once."""
    socket = socket_of(socket_stack)
    step_id = await yes_no_step(socket_stack)
    # The post's own Slack calls are over (its link is built from auth.test's answer).
    await wait_stored_permalink(socket_stack, step_id)
    socket_stack.slack.fail_next("auth.test", status=500)

    envelope_id = await socket.send("interactive", yes_click(socket_stack, step_id))
    await socket_stack.slack.wait_for("auth.test", include_failed=True)
    await asyncio.sleep(0.3)
    assert socket.acks_for(envelope_id) == []
    await socket.drop()
    await socket.wait_connected(count=2, timeout=10)
    await socket.wait_ack(envelope_id)

    await assert_answered_once(socket_stack, step_id)
    assert socket.envelopes[envelope_id].attempts == 2
    assert len(socket.acks_for(envelope_id)) == 1


async def test_an_event_delivered_twice_publishes_the_home_tab_once(
    socket_stack: LocalStack,
) -> None:
    socket = socket_of(socket_stack)
    event = slack_payloads.app_home_opened("U0ALICE")

    await socket.request("events_api", event)
    await socket_stack.slack.wait_for("views.publish")
    await socket.request("events_api", event)  # the same event_id, a new envelope
    await asyncio.sleep(0.3)

    assert len(socket_stack.slack.calls_to("views.publish")) == 1


# --- Start and stop -------------------------------------------------------------------------


async def test_a_refused_app_token_stops_the_start(sqlite_url: str) -> None:
    overrides = {"slack_app_token": "xapp-1-another-apps-token"}
    stack = LocalStack(sqlite_url, settings_overrides=overrides, transport="socket")

    with pytest.raises(SocketModeRefused, match="invalid_auth"):
        await stack.start()
    await stack.stop()


async def test_a_stop_leaves_no_task_running(sqlite_url: str) -> None:
    stack = LocalStack(sqlite_url, transport="socket")
    await stack.start()
    step_id = await yes_no_step(stack)
    await stack.click(step_id, ids.YES)
    await assert_answered_once(stack, step_id)

    await stack.stop()
    await asyncio.sleep(0)

    current = asyncio.current_task()
    running = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    assert running == [], running
