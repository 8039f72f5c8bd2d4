"""Test helpers for Slack payloads: fixture steps and a Block Kit limits validator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.domain import Attribute, Step
from bot.intercom.webhook import HITL_TOPIC, parse_delivery
from bot.samples import load_sample
from bot.settings import DEFAULT_INTERCOM_API_ORIGINS
from tests.e2e.helpers import mrkdwn_strings

# Untrusted text that would ping, mention or forge a link if it reached mrkdwn raw.
NASTY = "<!channel> <@U123> <https://evil|click> <!here> & co"
RAW_TOKENS = ("<!channel>", "<@U123>", "<https://evil", "<!here>")


def load_item(name: str) -> dict[str, Any]:
    """The `data.item` of a sample webhook (`name` with or without `.json`)."""
    item: dict[str, Any] = load_sample(name.removesuffix(".json"))["data"]["item"]
    return item


def step_from_item(item: dict[str, Any]) -> Step:
    """The domain Step for a sample item, as the webhook parser reads it."""
    envelope = {"topic": HITL_TOPIC, "data": {"item": item}}
    step = parse_delivery(json.dumps(envelope).encode(), list(DEFAULT_INTERCOM_API_ORIGINS)).step
    assert step is not None
    return step


def load_step(name: str) -> Step:
    return step_from_item(load_item(name))


FIXTURE_STEPS = ("refund_approval.json", "single_boolean.json", "all_types.json")


def make_attribute(index: int, data_type: str = "string", **fields: Any) -> Attribute:
    values: dict[str, Any] = {
        "identifier": f"workflow_local_variables.attr-{index}",
        "data_type": data_type,
        "name": f"Attribute {index}",
    }
    values.update(fields)
    return Attribute(**values)


def make_step(*attributes: Attribute, **fields: Any) -> Step:
    values: dict[str, Any] = {
        "step_id": "step-1",
        "conversation_id": "215473853299345",
        "callback_url": "https://api.intercom.io/procedures/215473853299345/collect_agent_input",
        "procedure_name": "Refund over $40",
        "hitl_question": "Approve the refund?",
        "attributes": attributes or (make_attribute(0),),
    }
    values.update(fields)
    return Step(**values)


def plain_texts(payload: Any) -> Iterator[str]:
    """The text of every plain_text object (Slack shows these literally)."""
    if isinstance(payload, dict):
        if payload.get("type") == "plain_text":
            yield payload["text"]
        for value in payload.values():
            yield from plain_texts(value)
    elif isinstance(payload, list):
        for value in payload:
            yield from plain_texts(value)


def assert_no_raw_tokens(payload: Any) -> None:
    for text in mrkdwn_strings(payload):
        for token in RAW_TOKENS:
            assert token not in text, f"raw {token!r} in {text[:200]!r}"


# --- Block Kit limits (SLACK_NOTES.md), checked on our own so counts the SDK skips count too.


def _text(obj: Any, limit: int, where: str, *, plain_only: bool = False) -> None:
    assert isinstance(obj, dict), f"{where}: not a text object"
    assert obj.get("type") in ("plain_text", "mrkdwn"), f"{where}: type {obj.get('type')!r}"
    if plain_only:
        assert obj["type"] == "plain_text", f"{where}: must be plain_text"
    text = obj.get("text")
    assert isinstance(text, str), f"{where}: text missing"
    assert text.strip(), f"{where}: empty text"
    assert len(text) <= limit, f"{where}: {len(text)} > {limit}"


def _id(value: Any, where: str) -> None:
    assert isinstance(value, str), f"{where}: id missing"
    assert 0 < len(value) <= 255, f"{where}: id length {len(value)}"


def assert_option(option: dict[str, Any], where: str) -> None:
    _text(option["text"], 75, f"{where}.text")
    assert isinstance(option["value"], str), f"{where}: value"
    assert 0 < len(option["value"]) <= 150, f"{where}: value length"
    if "description" in option:
        _text(option["description"], 75, f"{where}.description", plain_only=True)


def _element(element: dict[str, Any], where: str) -> None:
    kind = element["type"]
    if "action_id" in element:
        _id(element["action_id"], f"{where}.action_id")
    if "placeholder" in element:
        _text(element["placeholder"], 150, f"{where}.placeholder", plain_only=True)
    if kind == "button":
        _text(element["text"], 75, f"{where}.text", plain_only=True)
        assert len(element.get("value", "")) <= 2000, f"{where}: button value"
        assert len(element.get("url", "")) <= 3000, f"{where}: button url"
        assert element.get("style") in (None, "primary", "danger"), f"{where}: style"
    elif kind in ("static_select", "multi_static_select"):
        options = element.get("options") or []
        assert 0 < len(options) <= 100, f"{where}: {len(options)} options"
        for i, option in enumerate(options):
            assert option["text"]["type"] == "plain_text", f"{where}: select option mrkdwn"
            assert_option(option, f"{where}.options[{i}]")
        assert len({o["value"] for o in options}) == len(options), f"{where}: duplicate values"
    elif kind == "external_select":
        assert "options" not in element, f"{where}: external select with options"
    elif kind in ("radio_buttons", "checkboxes"):
        options = element.get("options") or []
        assert 0 < len(options) <= 10, f"{where}: {len(options)} radio options"
        for i, option in enumerate(options):
            assert_option(option, f"{where}.options[{i}]")
    elif kind == "plain_text_input":
        assert 0 < element.get("max_length", 3000) <= 3000, f"{where}: max_length"
    elif kind == "number_input":
        assert isinstance(element.get("is_decimal_allowed"), bool), f"{where}: is_decimal_allowed"
    else:
        assert kind in ("datepicker", "datetimepicker", "timepicker"), f"{where}: {kind}"


def _block(block: dict[str, Any], where: str, *, in_view: bool) -> None:
    kind = block["type"]
    if "block_id" in block:
        _id(block["block_id"], f"{where}.block_id")
    if kind == "header":
        _text(block["text"], 150, f"{where}.text", plain_only=True)
    elif kind == "section":
        assert "text" in block or "fields" in block, f"{where}: empty section"
        if "text" in block:
            _text(block["text"], 3000, f"{where}.text")
        fields = block.get("fields", [])
        assert len(fields) <= 10, f"{where}: {len(fields)} fields"
        for i, field in enumerate(fields):
            _text(field, 2000, f"{where}.fields[{i}]")
        if "accessory" in block:
            _element(block["accessory"], f"{where}.accessory")
    elif kind == "context":
        elements = block["elements"]
        assert 0 < len(elements) <= 10, f"{where}: {len(elements)} context elements"
        for i, element in enumerate(elements):
            _text(element, 3000, f"{where}.elements[{i}]")
    elif kind == "actions":
        elements = block["elements"]
        assert 0 < len(elements) <= 25, f"{where}: {len(elements)} action elements"
        action_ids = [e["action_id"] for e in elements]
        assert len(set(action_ids)) == len(action_ids), f"{where}: duplicate action ids"
        for i, element in enumerate(elements):
            _element(element, f"{where}.elements[{i}]")
    elif kind == "input":
        assert in_view, f"{where}: input block outside a view"
        _text(block["label"], 2000, f"{where}.label", plain_only=True)
        if "hint" in block:
            _text(block["hint"], 2000, f"{where}.hint", plain_only=True)
        _element(block["element"], f"{where}.element")
    else:
        assert kind == "divider", f"{where}: unexpected block type {kind}"


def _blocks(blocks: list[dict[str, Any]], limit: int, *, in_view: bool) -> None:
    assert 0 < len(blocks) <= limit, f"{len(blocks)} blocks > {limit}"
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    assert len(set(block_ids)) == len(block_ids), "duplicate block ids"
    for i, block in enumerate(blocks):
        _block(block, f"blocks[{i}]", in_view=in_view)


def assert_message_within_limits(message: dict[str, Any]) -> None:
    """A chat.postMessage/chat.update payload Slack will accept, checked both ways."""
    assert set(message) == {"text", "blocks"}
    assert isinstance(message["text"], str)
    assert message["text"].strip()
    assert len(message["text"]) <= 3000
    _blocks(message["blocks"], 50, in_view=False)
    for block in message["blocks"]:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()
        assert parsed.to_dict() == block, "slack_sdk model dropped or changed a field"


def assert_view_within_limits(view: dict[str, Any]) -> None:
    """A views.open payload Slack will accept, checked both ways."""
    assert view["type"] == "modal"
    _id(view["callback_id"], "callback_id")
    _text(view["title"], 24, "title", plain_only=True)
    _text(view["close"], 24, "close", plain_only=True)
    if any(b["type"] == "input" for b in view["blocks"]):
        _text(view["submit"], 24, "submit", plain_only=True)
    assert len(view.get("private_metadata", "")) <= 3000
    _blocks(view["blocks"], 100, in_view=True)
    sdk_view = View(**view)
    sdk_view.validate_json()
    assert sdk_view.to_dict() == view, "slack_sdk model dropped or changed a field"
