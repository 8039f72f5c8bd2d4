"""Helpers for the end-to-end tests: deliveries to send, what the bot sent, waiting for it."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from bot.samples import load_sample
from bot.slack import ids
from bot.testing import slack_payloads
from bot.testing.deliveries import fresh_delivery
from bot.testing.local_stack import CHANNEL_ID, HttpAnswer, LocalStack

# Untrusted text that would ping, mention or forge a link if it reached mrkdwn raw.
NASTY = "<!channel> <!here> <@U123> <https://evil.example|click> & co"
RAW_TOKENS = ("<!channel>", "<!here>", "<@U123>", "<https://evil.example|click>")
ESCAPED_TOKENS = ("&lt;!channel&gt;", "&lt;!here&gt;", "&lt;@U123&gt;", "&amp; co")

# The all_types sample's attributes, in order, and a valid Slack `state.values` for them.
ALL_TYPES_VALID_STATE: dict[str, dict[str, Any]] = {
    "hitl.attr.0": {"hitl.value.0": {"type": "plain_text_input", "value": "SKU-42"}},
    "hitl.attr.1": {"hitl.value.1": {"type": "number_input", "value": "3"}},
    "hitl.attr.2": {"hitl.value.2": {"type": "number_input", "value": "12.50"}},
    "hitl.attr.3": {
        "hitl.value.3": {
            "type": "radio_buttons",
            "selected_option": {"text": {"type": "plain_text", "text": "No"}, "value": "false"},
        }
    },
    "hitl.attr.4": {
        "hitl.value.4": {
            "type": "static_select",
            "selected_option": {"text": {"type": "plain_text", "text": "FedEx"}, "value": "1"},
        }
    },
    "hitl.attr.5": {"hitl.value.5": {"type": "datetimepicker", "selected_date_time": 1796121000}},
}
# What Intercom must receive for ALL_TYPES_VALID_STATE, by attribute position.
ALL_TYPES_EXPECTED_VALUES: list[Any] = [
    "SKU-42",
    3,
    12.5,
    False,
    "opt-fedex",
    "2026-12-01T10:30:00Z",
]


def load_fixture(name: str) -> dict[str, Any]:
    """A sample webhook delivery from bot/samples (`name` without `.json`)."""
    return load_sample(name)


def fresh_payload(
    stack: LocalStack, name: str = "refund_approval", **item_changes: Any
) -> dict[str, Any]:
    """A sample delivery as a new step with its callback at the fake Intercom (see
    bot/testing/deliveries.py)."""
    return fresh_delivery(name, callback_origin=stack.intercom.origin, **item_changes)


# Long enough that a loaded CI machine still posts the step before it expires (a 1 s
# deadline, truncated to whole seconds, once left a step expired before its post ran).
EXPIRES_WITHIN = 3
EXPIRY_WAIT = EXPIRES_WITHIN + 7


def expiring_payload(stack: LocalStack, name: str = "refund_approval") -> dict[str, Any]:
    """A new step that expires EXPIRES_WITHIN seconds after it is built: send it at once."""
    return fresh_payload(stack, name, expires_at=int(time.time()) + EXPIRES_WITHIN)


def attribute(index: int, data_type: str, **fields: Any) -> dict[str, Any]:
    """One wire attribute with a realistic identifier."""
    return {
        "identifier": f"workflow_local_variables.00000000-0000-4000-8000-{index:012d}",
        "name": f"Attribute {index}",
        "data_type": data_type,
        **fields,
    }


def options(count: int, label: str = "Option {i:03d}") -> list[dict[str, str]]:
    return [{"id": f"opt-{i}", "label": label.format(i=i)} for i in range(count)]


def custom_payload(
    stack: LocalStack, attributes: list[dict[str, Any]], **item_changes: Any
) -> dict[str, Any]:
    """A new step on the refund sample's envelope that asks for `attributes`."""
    return fresh_payload(stack, attributes_to_collect=attributes, **item_changes)


def item_of(payload: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = payload["data"]["item"]
    return item


def step_id_of(payload: dict[str, Any]) -> str:
    return str(item_of(payload)["step_id"])


def identifiers_of(payload: dict[str, Any]) -> list[str]:
    return [a["identifier"] for a in item_of(payload)["attributes_to_collect"]]


async def send_ok(stack: LocalStack, payload: dict[str, Any]) -> HttpAnswer:
    answer = await stack.send_webhook(payload)
    assert answer.status == 200, answer.body
    return answer


async def post_webhook_raw(stack: LocalStack, body: bytes, headers: dict[str, str]) -> HttpAnswer:
    """A POST to the webhook with exactly these headers (no signature added)."""
    return await stack.post("/intercom/webhook", body, headers)


# --- What the bot sent to Slack ------------------------------------------------------------


def _step_of_post(params: dict[str, Any]) -> str | None:
    metadata = params.get("metadata") or {}
    payload = metadata.get("event_payload") if isinstance(metadata, dict) else None
    return payload.get("step_id") if isinstance(payload, dict) else None


def posts_for(stack: LocalStack, step_id: str) -> list[dict[str, Any]]:
    """Every successful chat.postMessage the bot made for `step_id`."""
    return [p for p in stack.slack.calls_to("chat.postMessage") if _step_of_post(p) == step_id]


async def wait_posted(stack: LocalStack, step_id: str, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
    """The chat.postMessage params of the step's request message, once it is posted."""
    posts = await stack.slack.wait_for(
        "chat.postMessage", timeout=timeout, predicate=lambda p: _step_of_post(p) == step_id
    )
    return posts[0]


async def send_and_wait_posted(stack: LocalStack, payload: dict[str, Any]) -> dict[str, Any]:
    await send_ok(stack, payload)
    return await wait_posted(stack, step_id_of(payload))


def message_ts(stack: LocalStack, step_id: str) -> str:
    """The ts of the step's channel message in the fake Slack."""
    for message in stack.slack.messages.values():
        if _step_of_post(message) == step_id:
            return str(message["ts"])
    raise AssertionError(f"no message posted for step {step_id}")


def current_message(stack: LocalStack, step_id: str) -> dict[str, Any]:
    """The step's channel message as Slack now shows it (after every update)."""
    ts = message_ts(stack, step_id)
    return next(m for m in stack.slack.messages.values() if m["ts"] == ts)


async def wait_updated(
    stack: LocalStack,
    step_id: str,
    contains: str,
    timeout: float = 5.0,  # noqa: ASYNC109
) -> dict[str, Any]:
    """The first chat.update of the step's message whose payload contains `contains`."""
    ts = message_ts(stack, step_id)

    def matches(params: dict[str, Any]) -> bool:
        return params.get("ts") == ts and contains in dumps(params)

    updates = await stack.slack.wait_for("chat.update", timeout=timeout, predicate=matches)
    return updates[0]


def dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False)


def text_objects(payload: Any) -> Iterator[dict[str, Any]]:
    """Every Block Kit text object (`{"type": "plain_text"|"mrkdwn", "text": …}`)."""
    if isinstance(payload, dict):
        if payload.get("type") in ("plain_text", "mrkdwn") and isinstance(payload.get("text"), str):
            yield payload
        for value in payload.values():
            yield from text_objects(value)
    elif isinstance(payload, list):
        for value in payload:
            yield from text_objects(value)


def mrkdwn_strings(payload: Any) -> Iterator[str]:
    """Every string Slack might parse as mrkdwn: all of them but plain_text objects' text."""
    if isinstance(payload, dict):
        literal = payload.get("type") == "plain_text"
        for key, value in payload.items():
            if not (literal and key == "text"):
                yield from mrkdwn_strings(value)
    elif isinstance(payload, list):
        for value in payload:
            yield from mrkdwn_strings(value)
    elif isinstance(payload, str):
        yield payload


def all_text(payload: Any) -> str:
    """Every text a person sees, joined: text objects and a message's fallback `text`."""
    texts = [obj["text"] for obj in text_objects(payload)]
    if isinstance(payload, dict) and isinstance(payload.get("text"), str):
        texts.append(payload["text"])
    return "\n".join(texts)


def blocks_of_type(payload: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [b for b in payload.get("blocks") or [] if b.get("type") == kind]


def action_ids(payload: dict[str, Any]) -> list[str]:
    return [e["action_id"] for b in blocks_of_type(payload, "actions") for e in b["elements"]]


def assert_no_buttons(message: dict[str, Any]) -> None:
    assert blocks_of_type(message, "actions") == [], message["blocks"]
    assert "hitl.open" not in dumps(message["blocks"])


# --- The form ----------------------------------------------------------------------------


def input_blocks(view: dict[str, Any]) -> list[dict[str, Any]]:
    """The form's inputs for the step's attributes (not the optional comment)."""
    return [b for b in blocks_of_type(view, "input") if b["block_id"].startswith("hitl.attr.")]


def element_of(view: dict[str, Any], index: int) -> dict[str, Any]:
    """The input element of the attribute at `index`."""
    block = next(b for b in input_blocks(view) if b["block_id"] == f"hitl.attr.{index}")
    element: dict[str, Any] = block["element"]
    return element


def text_state(index: int, value: str) -> dict[str, Any]:
    return {
        f"hitl.attr.{index}": {f"hitl.value.{index}": {"type": "plain_text_input", "value": value}}
    }


def yes_no_state(index: int, value: bool) -> dict[str, Any]:
    raw = "true" if value else "false"
    option = {"text": {"type": "plain_text", "text": "Yes" if value else "No"}, "value": raw}
    return {
        f"hitl.attr.{index}": {
            f"hitl.value.{index}": {"type": "radio_buttons", "selected_option": option}
        }
    }


def select_state(index: int, option_index: int) -> dict[str, Any]:
    """A static select's choice; its value is the option's position, as the form sends it."""
    option = {"text": {"type": "plain_text", "text": "x"}, "value": str(option_index)}
    element = {"type": "static_select", "selected_option": option}
    return {f"hitl.attr.{index}": {f"hitl.value.{index}": element}}


def refund_state(approve: bool = True, reason: int = 1, note: str = "Sorry!") -> dict[str, Any]:
    """A valid `state.values` for the refund sample's form."""
    return yes_no_state(0, approve) | select_state(1, reason) | text_state(2, note)


# --- Waiting -----------------------------------------------------------------------------


async def wait_until(
    check: Callable[[], Awaitable[bool]],
    timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the wait
    what: str = "condition",
) -> None:
    """Polls `check` (for state the fakes cannot signal, such as the store) until it holds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


async def wait_stored_permalink(stack: LocalStack, step_id: str) -> str:
    """Waits until the store has the step's message (posted and its permalink saved)."""

    async def has_permalink() -> bool:
        record = await stack.store.get(step_id)
        return record is not None and record.permalink is not None

    await wait_until(has_permalink, what=f"the permalink of {step_id}")
    record = await stack.store.get(step_id)
    assert record is not None
    assert record.permalink is not None
    return record.permalink


# --- The step's thread -----------------------------------------------------------------------


def thread_replies(stack: LocalStack, step_id: str) -> list[dict[str, Any]]:
    """Every reply the bot posted in the thread under the step's message, in order."""
    ts = message_ts(stack, step_id)
    return [p for p in stack.slack.calls_to("chat.postMessage") if p.get("thread_ts") == ts]


async def wait_thread_reply(
    stack: LocalStack,
    step_id: str,
    contains: str,
    count: int = 1,
    timeout: float = 5.0,  # noqa: ASYNC109
) -> list[dict[str, Any]]:
    """The step's thread replies whose text contains `contains`, once `count` exist."""
    ts = message_ts(stack, step_id)

    def matches(params: dict[str, Any]) -> bool:
        return params.get("thread_ts") == ts and contains in str(params.get("text"))

    return await stack.slack.wait_for(
        "chat.postMessage", count=count, timeout=timeout, predicate=matches
    )


# --- The App Home tab -------------------------------------------------------------------------


async def open_home(stack: LocalStack, user_id: str = "U0ALICE") -> HttpAnswer:
    """`user_id` opens the app's Home tab: Slack sends a signed `app_home_opened` event."""
    return await stack.open_home(user_id=user_id)


async def click_in_home(
    stack: LocalStack, step_id: str, action_id: str, *, user_id: str = "U0ALICE"
) -> HttpAnswer:
    """A button in `user_id`'s Home tab clicked: a view container, no response_url."""
    payload = {
        "type": "block_actions",
        "team": {"id": "T0001", "domain": "fake"},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": "T0001"},
        "api_app_id": "A0HITL",
        "token": "legacy-unused",
        "trigger_id": f"trigger-{uuid.uuid4().hex}",
        "container": {"type": "view", "view_id": "V0HOME"},
        "view": {"id": "V0HOME", "type": "home", "callback_id": "hitl.home"},
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "hitl.home.pending.0",
                "value": step_id,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return await stack.interactive(payload)


async def post_new_step(
    stack: LocalStack, name: str = "refund_approval", **item_changes: Any
) -> str:
    """Sends a new step from sample `name` (with `item_changes`) and waits for its
    message; its step id."""
    payload = fresh_payload(stack, name, **item_changes)
    await send_and_wait_posted(stack, payload)
    return step_id_of(payload)


def click_payload(
    stack: LocalStack, step_id: str, action_id: str = ids.YES, *, user_id: str = "U0ALICE"
) -> dict[str, Any]:
    """Slack's block_actions payload for a button on the step's message (to alter, then sign
    and send)."""
    return slack_payloads.block_actions(
        step_id,
        action_id,
        user_id=user_id,
        channel_id=CHANNEL_ID,
        message_ts="1",
        response_url=stack.slack.response_url(f"{action_id}-{user_id}"),
    )


def payload_with_text_everywhere(stack: LocalStack, text: str) -> dict[str, Any]:
    """The refund sample with `text` in every text Intercom sends: the procedure, the
    question, the assignee, a message and its author, a label."""
    payload = fresh_payload(
        stack,
        procedure_name=f"Refund {text}",
        hitl_question=f"Approve {text}?",
        assign_to={"type": "team", "id": "1", "name": f"Support {text}"},
        recent_messages=[
            {"body": f"<p>hi {text}</p>", "author": {"type": "user", "name": f"Jane {text}"}}
        ],
    )
    payload["data"]["item"]["attributes_to_collect"][2]["label"] = f"Note {text}"
    return payload
