"""POST /slack/events only acts on requests signed by Slack within the last five minutes."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

from bot.testing.local_stack import SLACK_SIGNING_SECRET, HttpAnswer, LocalStack
from bot.testing.signing import slack_command_body, slack_signature_headers

from .helpers import fresh_payload, send_and_wait_posted, step_id_of


def command_body() -> str:
    return slack_command_body(
        {"command": "/hitl", "text": "", "user_id": "U0ALICE", "team_id": "T0001"}
    )


async def post_events(stack: LocalStack, body: str, headers: dict[str, str]) -> HttpAnswer:
    async with stack.session.post(
        f"{stack.url}/slack/events", data=body.encode(), headers=headers
    ) as response:
        text = await response.text()
    return HttpAnswer(response.status, text)


async def test_request_signed_with_another_secret_is_401(stack: LocalStack) -> None:
    answer = await stack.post_to_slack_events(command_body(), signing_secret="not-the-secret")

    assert answer.status == 401


async def test_request_without_signature_headers_is_401(stack: LocalStack) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    answer = await post_events(stack, command_body(), headers)

    assert answer.status == 401


async def test_request_whose_body_was_changed_after_signing_is_401(stack: LocalStack) -> None:
    headers = slack_signature_headers(command_body(), SLACK_SIGNING_SECRET)

    answer = await post_events(stack, command_body() + "&text=tampered", headers)

    assert answer.status == 401


async def test_request_older_than_five_minutes_is_401(stack: LocalStack) -> None:
    old = int(time.time()) - 5 * 60 - 30

    answer = await stack.post_to_slack_events(command_body(), timestamp=old)

    assert answer.status == 401


async def test_recent_request_is_accepted(stack: LocalStack) -> None:
    """The same request four minutes old: within Slack's window."""
    answer = await stack.post_to_slack_events(command_body(), timestamp=int(time.time()) - 240)

    assert answer.status == 200


async def test_forged_click_does_not_answer_the_step(stack: LocalStack) -> None:
    payload = fresh_payload(stack, "single_boolean")
    step_id = step_id_of(payload)
    await send_and_wait_posted(stack, payload)
    click = json.dumps(
        {
            "type": "block_actions",
            "user": {"id": "U0MALLORY"},
            "team": {"id": "T0001"},
            "trigger_id": "t",
            "actions": [{"action_id": "hitl.answer.yes", "value": step_id}],
        }
    )

    forged = await stack.post_to_slack_events(
        urlencode({"payload": click}), signing_secret="forged"
    )
    # A real click afterwards: its answer must be the only one Intercom sees.
    await stack.click(step_id, "hitl.answer.no", user_id="U0ALICE")
    (callback,) = await stack.intercom.wait_for_callbacks(1)

    assert forged.status == 401
    assert callback.body["attribute_values"][0]["value"] is False
    record = await stack.store.get(step_id)
    assert record is not None
    assert record.answer is not None
    assert record.answer.user_id == "U0ALICE"


async def test_url_verification_echoes_the_challenge(stack: LocalStack) -> None:
    body = json.dumps({"type": "url_verification", "token": "legacy", "challenge": "x-42"})
    headers = {
        **slack_signature_headers(body, SLACK_SIGNING_SECRET),
        "Content-Type": "application/json",
    }

    answer = await post_events(stack, body, headers)

    assert answer.status == 200
    assert json.loads(answer.body) == {"challenge": "x-42"}
