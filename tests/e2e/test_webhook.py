"""POST /intercom/webhook: what is refused, what is ignored, and what becomes one stored step.

Intercom retries a refused delivery once and then drops it, so only what cannot be read is
refused; a readable step the bot will not answer is stored and posted as a notice.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.intercom.webhook import MAX_BODY_BYTES
from bot.testing.local_stack import INTERCOM_CLIENT_SECRET, LocalStack
from bot.testing.signing import sign_intercom

from .helpers import (
    dumps,
    fresh_payload,
    identifiers_of,
    item_of,
    load_fixture,
    post_webhook_raw,
    posts_for,
    refund_state,
    send_and_wait_posted,
    send_ok,
    step_id_of,
    wait_posted,
)

JSON = {"Content-Type": "application/json"}


async def assert_posted_as_a_notice_and_never_called(
    stack: LocalStack, payload: dict[str, Any], answer: Any
) -> None:
    """The step is kept and shown with no answer button, and its URL is never called."""
    assert answer.status == 200, answer.body
    record = await stack.store.get(step_id_of(payload))
    assert record is not None
    assert record.step.unanswerable
    (posted,) = posts_for(stack, step_id_of(payload)) or [
        await wait_posted(stack, step_id_of(payload))
    ]
    assert "can't be answered from Slack" in dumps(posted["blocks"])
    assert "hitl.open" not in dumps(posted["blocks"])
    assert "hitl.answer" not in dumps(posted["blocks"])
    assert stack.intercom.callbacks == []


async def assert_nothing_stored_then_marker_posts_alone(stack: LocalStack) -> None:
    """Makes the worker act on a valid step, then checks it was the only thing it did."""
    assert (await stack.store.pending(10))[1] == 0
    marker = fresh_payload(stack)
    await send_and_wait_posted(stack, marker)
    posted = stack.slack.calls_to("chat.postMessage", include_failed=True)
    assert len(posted) == 1, posted
    assert posts_for(stack, step_id_of(marker)) == posted
    assert stack.intercom.callbacks == []


# --- Signature --------------------------------------------------------------------------


async def test_missing_signature_is_refused_and_nothing_stored(stack: LocalStack) -> None:
    payload = fresh_payload(stack)
    answer = await post_webhook_raw(stack, json.dumps(payload).encode(), JSON)

    assert answer.status == 401
    assert await stack.store.get(step_id_of(payload)) is None
    await assert_nothing_stored_then_marker_posts_alone(stack)


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param("", id="empty"),
        pytest.param("sha1=", id="no-digest"),
        pytest.param(sign_intercom(b"{}", INTERCOM_CLIENT_SECRET), id="other-body"),
        pytest.param("SIGNED_WITH_OTHER_SECRET", id="other-secret"),
        pytest.param("SIGNED_AS_SHA256", id="sha256-prefix"),
    ],
)
async def test_wrong_signature_is_refused_and_nothing_stored(
    stack: LocalStack, signature: str
) -> None:
    payload = fresh_payload(stack)
    body = json.dumps(payload).encode()
    if signature == "SIGNED_WITH_OTHER_SECRET":
        signature = sign_intercom(body, "not-the-client-secret")
    elif signature == "SIGNED_AS_SHA256":
        signature = sign_intercom(body, INTERCOM_CLIENT_SECRET).replace("sha1=", "sha256=")

    answer = await stack.send_webhook(body, signature=signature)

    assert answer.status == 401
    assert await stack.store.get(step_id_of(payload)) is None
    await assert_nothing_stored_then_marker_posts_alone(stack)


# --- Malformed deliveries -----------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b"\xff\xfe{}", b"[1, 2]", b'"just a string"', b'{"no": "topic"}'],
    ids=["broken", "empty", "not-utf8", "array", "string", "no-topic"],
)
async def test_malformed_body_is_400_with_a_one_line_reason(stack: LocalStack, body: bytes) -> None:
    answer = await stack.send_webhook(body)

    assert answer.status == 400
    reason = answer.body["error"]
    assert isinstance(reason, str)
    assert reason.strip()
    assert "\n" not in reason
    await assert_nothing_stored_then_marker_posts_alone(stack)


@pytest.mark.parametrize("field", ["step_id", "callback_url", "attributes_to_collect"])
async def test_hitl_item_without_a_required_field_is_400(stack: LocalStack, field: str) -> None:
    payload = fresh_payload(stack)
    del item_of(payload)[field]

    answer = await stack.send_webhook(payload)

    assert answer.status == 400
    assert field in answer.body["error"]
    assert "\n" not in answer.body["error"]
    await assert_nothing_stored_then_marker_posts_alone(stack)


def padded_to(stack: LocalStack, size: int) -> tuple[dict[str, Any], bytes]:
    """A valid delivery whose JSON body is exactly `size` bytes (an unknown field pads it)."""
    payload = fresh_payload(stack)
    item_of(payload)["padding"] = ""
    overhead = len(json.dumps(payload).encode())
    item_of(payload)["padding"] = "x" * (size - overhead)
    body = json.dumps(payload).encode()
    assert len(body) == size
    return payload, body


def signed_headers(body: bytes) -> dict[str, str]:
    return {**JSON, "X-Hub-Signature": sign_intercom(body, INTERCOM_CLIENT_SECRET)}


async def test_body_over_one_mebibyte_is_413(stack: LocalStack) -> None:
    payload, body = padded_to(stack, MAX_BODY_BYTES + 1)

    answer = await post_webhook_raw(stack, body, signed_headers(body))

    assert answer.status == 413
    assert await stack.store.get(step_id_of(payload)) is None
    await assert_nothing_stored_then_marker_posts_alone(stack)


async def test_chunked_body_over_one_mebibyte_is_413(stack: LocalStack) -> None:
    """Without a Content-Length the limit still holds while the body is read."""
    payload, body = padded_to(stack, MAX_BODY_BYTES + 1)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    async with stack.session.post(
        f"{stack.url}/intercom/webhook", data=chunks(), headers=signed_headers(body)
    ) as response:
        status = response.status

    assert status == 413
    assert await stack.store.get(step_id_of(payload)) is None
    await assert_nothing_stored_then_marker_posts_alone(stack)


async def test_body_of_exactly_one_mebibyte_is_accepted(stack: LocalStack) -> None:
    payload, body = padded_to(stack, MAX_BODY_BYTES)

    answer = await post_webhook_raw(stack, body, signed_headers(body))

    assert answer.status == 200, answer.body
    assert await stack.store.get(step_id_of(payload)) is not None


# --- Topics the bot does not act on -------------------------------------------------------


async def test_ping_is_answered_200_and_nothing_else_happens(stack: LocalStack) -> None:
    answer = await stack.send_webhook(load_fixture("ping"))

    assert answer.status == 200
    await assert_nothing_stored_then_marker_posts_alone(stack)


async def test_unknown_topic_is_answered_200_and_nothing_else_happens(stack: LocalStack) -> None:
    """Even when the item looks like a HITL step: only the HITL topic acts."""
    payload = fresh_payload(stack)
    payload["topic"] = "conversation.admin.replied"

    answer = await stack.send_webhook(payload)

    assert answer.status == 200
    assert await stack.store.get(step_id_of(payload)) is None
    await assert_nothing_stored_then_marker_posts_alone(stack)


# --- callback_url ------------------------------------------------------------------------

# `{fake}` is the fake Intercom's origin (allowed), `{cid}` the step's conversation id.
REFUSED_CALLBACK_URLS = {
    "other-host": "https://evil.example/procedures/{cid}/collect_agent_input",
    "http-not-https": "http://api.intercom.io/procedures/{cid}/collect_agent_input",
    "userinfo-trick": "https://api.intercom.io@evil.example/procedures/{cid}/collect_agent_input",
    "userinfo-on-allowed-host": "https://evil.example@api.intercom.io/procedures/{cid}/collect_agent_input",
    "suffix-host": "https://api.intercom.io.evil.example/procedures/{cid}/collect_agent_input",
    "other-port": "https://api.intercom.io:8443/procedures/{cid}/collect_agent_input",
    "https-variant-of-fake": "{fake_https}/procedures/{cid}/collect_agent_input",
    "other-conversation": "{fake}/procedures/999999/collect_agent_input",
    "extra-query": "{fake}/procedures/{cid}/collect_agent_input?next=https://evil.example",
    "fragment": "{fake}/procedures/{cid}/collect_agent_input#x",
    "other-endpoint": "{fake}/conversations/{cid}/reply",
    "dot-segments": "{fake}/procedures/{cid}/collect_agent_input/../../../conversations/{cid}",
    "not-a-url": "collect_agent_input",
    "javascript": "javascript:alert(1)",
}


@pytest.mark.parametrize("template", REFUSED_CALLBACK_URLS.values(), ids=REFUSED_CALLBACK_URLS)
async def test_callback_url_off_intercom_is_kept_as_a_notice_and_never_called(
    prod_stack: LocalStack, template: str
) -> None:
    payload = fresh_payload(prod_stack)
    origin = prod_stack.intercom.origin
    url = template.format(
        fake=origin,
        fake_https=origin.replace("http://", "https://"),
        cid=item_of(payload)["conversation_id"],
    )
    item_of(payload)["callback_url"] = url

    answer = await prod_stack.send_webhook(payload)

    await assert_posted_as_a_notice_and_never_called(prod_stack, payload, answer)


@pytest.mark.parametrize(
    "conversation_id",
    ["1/../../conversations/1", "..", "1%2F..%2Fconversations", "1\\..\\x"],
    ids=["slash-dot-segments", "dot-dot", "percent-encoded", "backslashes"],
)
async def test_conversation_id_that_moves_the_callback_path_is_a_notice(
    stack: LocalStack, conversation_id: str
) -> None:
    """The path check compares strings, but the HTTP client resolves `..` before sending."""
    payload = fresh_payload(stack, conversation_id=conversation_id)
    assert conversation_id in item_of(payload)["callback_url"]

    answer = await stack.send_webhook(payload)

    await assert_posted_as_a_notice_and_never_called(stack, payload, answer)


async def test_a_step_without_a_conversation_id_is_a_notice(stack: LocalStack) -> None:
    payload = fresh_payload(stack)
    del item_of(payload)["conversation_id"]

    answer = await stack.send_webhook(payload)

    await assert_posted_as_a_notice_and_never_called(stack, payload, answer)


@pytest.mark.parametrize(
    "attributes",
    [
        [{"name": "no identifier", "data_type": "string"}],
        ["not an object"],
        [
            {"identifier": "same", "data_type": "string"},
            {"identifier": "same", "data_type": "boolean"},
        ],
    ],
    ids=["no-identifier", "not-an-object", "duplicate-identifier"],
)
async def test_attributes_no_answer_could_be_sent_for_make_a_notice(
    stack: LocalStack, attributes: list[Any]
) -> None:
    payload = fresh_payload(stack, attributes_to_collect=attributes)

    answer = await stack.send_webhook(payload)

    await assert_posted_as_a_notice_and_never_called(stack, payload, answer)


async def test_a_click_or_submission_on_a_notice_sends_nothing(stack: LocalStack) -> None:
    payload = fresh_payload(stack, conversation_id="1/../2")
    await send_ok(stack, payload)
    await wait_posted(stack, step_id_of(payload))

    click = await stack.click(step_id_of(payload), "hitl.open")
    note = await stack.slack.wait_for_response("hitl.open-U0ALICE")
    view = {
        "type": "modal",
        "callback_id": "hitl.submit",
        "private_metadata": json.dumps({"step_id": step_id_of(payload)}),
    }
    submitted = await stack.submit(view, refund_state())

    assert click.status == 200
    assert "can't be answered from Slack" in note[0]["text"]
    assert submitted.body["response_action"] == "update", submitted.body
    assert "can't be answered from Slack" in dumps(submitted.body["view"])
    assert stack.slack.calls_to("views.open") == []
    assert stack.intercom.callbacks == []
    record = await stack.store.get(step_id_of(payload))
    assert record is not None
    assert record.state.is_open


async def test_the_notice_counts_as_its_own_outcome(stack: LocalStack) -> None:
    payload = fresh_payload(stack, conversation_id="..")
    await send_ok(stack, payload)

    async with stack.session.get(f"{stack.url}/metrics") as response:
        metrics = await response.text()

    assert 'hitl_webhooks_received_total{outcome="unanswerable"} 1.0' in metrics
    assert 'hitl_webhooks_received_total{outcome="accepted"}' not in metrics


async def test_callback_url_on_each_intercom_region_is_accepted(prod_stack: LocalStack) -> None:
    for host in ("api.intercom.io", "api.eu.intercom.io", "api.au.intercom.io"):
        payload = fresh_payload(prod_stack)
        cid = item_of(payload)["conversation_id"]
        item_of(payload)["callback_url"] = f"https://{host}/procedures/{cid}/collect_agent_input"

        await send_ok(prod_stack, payload)

        assert await prod_stack.store.get(step_id_of(payload)) is not None


# --- A valid step ------------------------------------------------------------------------


async def test_step_is_stored_before_the_200_arrives(stack: LocalStack) -> None:
    payload = fresh_payload(stack)

    await send_ok(stack, payload)

    record = await stack.store.get(step_id_of(payload))
    assert record is not None
    assert record.step.conversation_id == item_of(payload)["conversation_id"]
    assert [a.identifier for a in record.step.attributes] == identifiers_of(payload)


@pytest.mark.parametrize("same_notification", [True, False], ids=["same-notif", "new-notif"])
async def test_step_delivered_again_is_posted_once(
    stack: LocalStack, same_notification: bool
) -> None:
    payload = fresh_payload(stack)
    again = json.loads(json.dumps(payload))
    if not same_notification:
        again["id"] = "notif_another-delivery"
        again["delivery_attempts"] = 2

    first = await stack.send_webhook(payload)
    second = await stack.send_webhook(again)
    await stack.slack.wait_for("chat.postMessage")
    # A later step's post shows the worker has run past anything the copy could cause.
    await send_and_wait_posted(stack, fresh_payload(stack))

    assert (first.status, second.status) == (200, 200)
    assert second.body["duplicate"] is True
    assert len(posts_for(stack, step_id_of(payload))) == 1
    assert len(stack.slack.calls_to("chat.postMessage", include_failed=True)) == 2


async def test_ten_concurrent_copies_of_a_step_are_posted_once(stack: LocalStack) -> None:
    payload = fresh_payload(stack)

    answers = await asyncio.gather(*(stack.send_webhook(payload) for _ in range(10)))
    await stack.slack.wait_for("chat.postMessage")
    await send_and_wait_posted(stack, fresh_payload(stack))

    assert [a.status for a in answers] == [200] * 10
    assert sorted(a.body["duplicate"] for a in answers) == [False] + [True] * 9
    assert len(posts_for(stack, step_id_of(payload))) == 1
    assert len(stack.slack.calls_to("chat.postMessage", include_failed=True)) == 2


async def test_unknown_fields_anywhere_are_ignored(stack: LocalStack) -> None:
    payload = fresh_payload(stack)
    payload["future_envelope_field"] = {"nested": [1, 2]}
    payload["data"]["future_data_field"] = None
    item = item_of(payload)
    item["future_item_field"] = "x"
    item["assign_to"]["future_assignee_field"] = 7
    item["recent_messages"][0]["future_part_field"] = [1]
    item["recent_messages"][0]["author"]["future_author_field"] = {}
    for attr in item["attributes_to_collect"]:
        attr["future_attribute_field"] = {"a": 1}
        for option in attr.get("options", []):
            option["future_option_field"] = True

    await send_and_wait_posted(stack, payload)
    view = await stack.open_form(step_id_of(payload))
    submitted = await stack.submit(view, refund_state())
    callbacks = await stack.intercom.wait_for_callbacks(1)

    assert submitted.status == 200, submitted.body
    assert callbacks[0].status == 200
    sent = [v["identifier"] for v in callbacks[0].body["attribute_values"]]
    assert sent == identifiers_of(payload)
    assert "future" not in dumps(callbacks[0].body)


FUTURE = 1_900_000_000  # 2030-03-17T17:46:40Z
NOT_INTERCOM = "https://evil.example/a/inbox/a86dr8yl/inbox/shared/all/conversation/1"
# Optional fields in shapes Intercom does not document: (change, what the step keeps).
ODD_OPTIONAL_FIELDS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "expires-at-words": ({"expires_at": "soon"}, {"expires_at": None}),
    "expires-at-beyond-any-column": ({"expires_at": 10**20}, {"expires_at": None}),
    "expires-at-milliseconds": ({"expires_at": FUTURE * 1000}, {"expires_at": None}),
    "expires-at-negative": ({"expires_at": -5}, {"expires_at": None}),
    "expires-at-iso-text": ({"expires_at": "2030-03-17T17:46:40Z"}, {"expires_at": None}),
    "expires-at-float": ({"expires_at": FUTURE + 0.75}, {"expires_at": FUTURE}),
    "expires-at-a-bool": ({"expires_at": True}, {"expires_at": None}),
    "procedure-name-a-number": ({"procedure_name": 42}, {"procedure_name": None}),
    "procedure-name-an-object": ({"procedure_name": {"name": "x"}}, {"procedure_name": None}),
    "question-an-object": ({"hitl_question": {"text": "hi"}}, {"hitl_question": None}),
    "priority-unknown-word": ({"priority": "urgent"}, {"priority": None}),
    "priority-a-bool": ({"priority": True}, {"priority": None}),
    "assign-to-a-string": ({"assign_to": "Support"}, {"assign_to": None}),
    "assign-to-unknown-type": ({"assign_to": {"type": "bot", "id": "1"}}, {"assign_to": None}),
    "conversation-url-elsewhere": ({"conversation_url": NOT_INTERCOM}, {"conversation_url": None}),
    "conversation-url-http": (
        {"conversation_url": "http://app.intercom.com/a/inbox/x"},
        {"conversation_url": None},
    ),
    "conversation-url-a-number": ({"conversation_url": 5}, {"conversation_url": None}),
    "recent-messages-an-object": ({"recent_messages": {"0": {}}}, {"recent_messages": ()}),
    "recent-message-a-string": ({"recent_messages": ["hi"]}, {"recent_messages": ()}),
}


@pytest.mark.parametrize(("change", "kept"), ODD_OPTIONAL_FIELDS.values(), ids=ODD_OPTIONAL_FIELDS)
async def test_odd_optional_field_costs_the_field_not_the_step(
    stack: LocalStack, change: dict[str, Any], kept: dict[str, Any]
) -> None:
    """A 400 would lose the step for good: Intercom retries it once, then drops it."""
    payload = fresh_payload(stack, **change)

    await send_and_wait_posted(stack, payload)

    record = await stack.store.get(step_id_of(payload))
    assert record is not None
    assert {name: getattr(record.step, name) for name in kept} == kept


async def test_odd_attribute_texts_fall_back_and_the_step_is_answered(stack: LocalStack) -> None:
    payload = fresh_payload(stack)
    attributes = item_of(payload)["attributes_to_collect"]
    attributes[0]["name"] = ["not", "text"]
    attributes[1]["options"][1]["label"] = 7
    attributes[0]["label"] = None
    attributes[2]["data_type"] = None

    await send_and_wait_posted(stack, payload)
    view = await stack.open_form(step_id_of(payload))
    await stack.submit(view, refund_state(reason=1))
    (callback,) = await stack.intercom.wait_for_callbacks(1)

    labels = [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]
    assert labels[0] == attributes[0]["identifier"]
    reason = next(b for b in view["blocks"] if b.get("block_id") == "hitl.attr.1")
    option_texts = [o["text"]["text"] for o in reason["element"]["options"]]
    assert option_texts[1] == attributes[1]["options"][1]["id"]
    assert callback.body["attribute_values"][1]["value"] == attributes[1]["options"][1]["id"]


async def test_numeric_ids_are_accepted_as_text(stack: LocalStack) -> None:
    """Intercom's ids are strings, but a number where one is expected must not lose a step."""
    payload = fresh_payload(stack, conversation_id=215473853299999)
    item = item_of(payload)
    item["assign_to"]["id"] = 814865
    item["attributes_to_collect"][1]["options"][0]["id"] = 123

    await send_and_wait_posted(stack, payload)
    view = await stack.open_form(step_id_of(payload))
    await stack.submit(view, refund_state(reason=0))
    callbacks = await stack.intercom.wait_for_callbacks(1)

    assert callbacks[0].status == 200
    assert callbacks[0].conversation_id == "215473853299999"
    assert callbacks[0].body["attribute_values"][1]["value"] == "123"
    record = await stack.store.get(step_id_of(payload))
    assert record is not None
    assert record.step.assign_to is not None
    assert record.step.assign_to.id == "814865"


async def test_a_notice_is_listed_by_hitl_and_home_without_an_answer_button(
    stack: LocalStack,
) -> None:
    payload = fresh_payload(stack, conversation_id="..")
    await send_ok(stack, payload)
    await wait_posted(stack, step_id_of(payload))

    listed = await stack.command()
    await stack.open_home()
    (home,) = await stack.slack.wait_for("views.publish")

    assert "can't be answered from Slack" in dumps(listed.body)
    assert "Answer in Intercom" in dumps(listed.body)
    line = next(b for b in home["view"]["blocks"] if b["block_id"] == "hitl.home.pending.0")
    assert "can't be answered from Slack" in line["text"]["text"]
    assert "accessory" not in line
