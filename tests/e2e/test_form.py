"""The form (modal) a step opens: one field per attribute, chosen by its data type."""

from __future__ import annotations

from typing import Any

import pytest

from bot.testing.local_stack import LocalStack
from tests.transports import over_both_transports

from ..slack.helpers import assert_message_within_limits, assert_view_within_limits
from .helpers import (
    attribute,
    custom_payload,
    element_of,
    fresh_payload,
    input_blocks,
    item_of,
    options,
    send_and_wait_posted,
    step_id_of,
)


async def open_form_for(stack: LocalStack, payload: dict[str, Any]) -> dict[str, Any]:
    await send_and_wait_posted(stack, payload)
    view = await stack.open_form(step_id_of(payload))
    assert_view_within_limits(view)
    return view


async def test_form_has_one_required_field_per_attribute_in_order(stack: LocalStack) -> None:
    payload = fresh_payload(stack, "all_types")

    view = await open_form_for(stack, payload)

    blocks = input_blocks(view)
    names = [a["name"] for a in item_of(payload)["attributes_to_collect"]]
    assert [b["label"]["text"] for b in blocks] == names
    assert all(b["optional"] is False for b in blocks)
    assert view["callback_id"].startswith("hitl.")


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (0, {"type": "plain_text_input", "multiline": True}),
        (1, {"type": "number_input", "is_decimal_allowed": False}),
        (2, {"type": "number_input", "is_decimal_allowed": True}),
        (3, {"type": "radio_buttons"}),
        (4, {"type": "static_select"}),
        (5, {"type": "datetimepicker"}),
    ],
    ids=["string", "integer", "decimal", "boolean", "list", "datetime"],
)
async def test_each_data_type_gets_its_field(
    stack: LocalStack, index: int, expected: dict[str, Any]
) -> None:
    view = await open_form_for(stack, fresh_payload(stack, "all_types"))

    element = element_of(view, index)
    assert {key: element.get(key) for key in expected} == expected


async def test_boolean_field_offers_yes_and_no(stack: LocalStack) -> None:
    view = await open_form_for(stack, fresh_payload(stack, "all_types"))

    labels = [o["text"]["text"] for o in element_of(view, 3)["options"]]
    assert labels == ["Yes", "No"]


async def test_list_field_offers_the_option_labels(stack: LocalStack) -> None:
    view = await open_form_for(stack, fresh_payload(stack, "all_types"))

    labels = [o["text"]["text"] for o in element_of(view, 4)["options"]]
    assert labels == ["UPS", "FedEx", "DHL", "USPS"]


async def test_list_of_100_options_is_a_static_select(stack: LocalStack) -> None:
    payload = custom_payload(stack, [attribute(0, "list", options=options(100))])

    view = await open_form_for(stack, payload)

    element = element_of(view, 0)
    assert element["type"] == "static_select"
    assert len(element["options"]) == 100


async def test_list_over_100_options_is_an_external_select(stack: LocalStack) -> None:
    payload = custom_payload(stack, [attribute(0, "list", options=options(150))])

    view = await open_form_for(stack, payload)

    element = element_of(view, 0)
    assert element["type"] == "external_select"
    assert element["action_id"].startswith("hitl.")
    assert "options" not in element


async def load(
    stack: LocalStack, view: dict[str, Any], index: int, query: str
) -> list[dict[str, Any]]:
    element = element_of(view, index)
    answer = await stack.load_options(view, element["action_id"], f"hitl.attr.{index}", query)
    assert answer.status == 200, answer.body
    loaded: list[dict[str, Any]] = answer.body["options"]
    return loaded


async def test_external_select_lists_at_most_100_options_before_typing(stack: LocalStack) -> None:
    payload = custom_payload(stack, [attribute(0, "list", options=options(150))])
    view = await open_form_for(stack, payload)

    loaded = await load(stack, view, 0, "")

    assert len(loaded) == 100
    assert [o["text"]["text"] for o in loaded[:2]] == ["Option 000", "Option 001"]


@over_both_transports
async def test_external_select_filters_by_what_is_typed(stack: LocalStack) -> None:
    payload = custom_payload(stack, [attribute(0, "list", options=options(150))])
    view = await open_form_for(stack, payload)

    by_case = await load(stack, view, 0, "oPTION 14")
    by_digits = await load(stack, view, 0, "14")

    assert [o["text"]["text"] for o in by_case] == [f"Option {i}" for i in range(140, 150)]
    assert [o["text"]["text"] for o in by_digits] == ["Option 014", "Option 114"] + [
        f"Option {i}" for i in range(140, 150)
    ]


async def test_external_select_with_no_match_lists_nothing(stack: LocalStack) -> None:
    payload = custom_payload(stack, [attribute(0, "list", options=options(150))])
    view = await open_form_for(stack, payload)

    assert await load(stack, view, 0, "no such option") == []


@over_both_transports
async def test_external_select_choice_sends_the_option_id(stack: LocalStack) -> None:
    payload = custom_payload(stack, [attribute(0, "list", options=options(150))])
    view = await open_form_for(stack, payload)
    chosen = (await load(stack, view, 0, "Option 147"))[0]

    element = element_of(view, 0)
    values = {
        "hitl.attr.0": {
            element["action_id"]: {"type": "external_select", "selected_option": chosen}
        }
    }
    submitted = await stack.submit(view, values)
    callbacks = await stack.intercom.wait_for_callbacks(1)

    assert submitted.status == 200, submitted.body
    assert callbacks[0].body["attribute_values"][0]["value"] == "opt-147"


async def test_label_is_the_name_and_falls_back_to_the_identifier(stack: LocalStack) -> None:
    nameless = attribute(1, "string")
    del nameless["name"]
    payload = custom_payload(stack, [attribute(0, "string", name="Refund note"), nameless])

    view = await open_form_for(stack, payload)

    labels = [b["label"]["text"] for b in input_blocks(view)]
    assert labels == ["Refund note", nameless["identifier"]]


async def test_label_is_shown_before_the_name(stack: LocalStack) -> None:
    payload = custom_payload(stack, [attribute(0, "string", name="refund_note", label="Note")])

    view = await open_form_for(stack, payload)

    assert input_blocks(view)[0]["label"]["text"] == "Note"


async def test_unknown_type_is_a_text_input_with_a_hint(stack: LocalStack) -> None:
    payload = custom_payload(stack, [attribute(0, "colour")])

    view = await open_form_for(stack, payload)

    block = input_blocks(view)[0]
    assert block["element"]["type"] == "plain_text_input"
    assert "colour" in block["hint"]["text"]


async def test_form_shows_the_procedure_and_the_conversation(stack: LocalStack) -> None:
    payload = fresh_payload(stack)

    view = await open_form_for(stack, payload)

    intro = " ".join(b["text"]["text"] for b in view["blocks"] if b["type"] == "section")
    assert "Refund over $40" in intro
    assert item_of(payload)["conversation_id"] in intro


def huge_step_attributes(count: int) -> list[dict[str, Any]]:
    """`count` attributes of every type with long names, descriptions and option labels."""
    kinds = ["string", "integer", "decimal", "boolean", "list", "date", "datetime", "colour"]
    result = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        extra: dict[str, Any] = {
            "name": f"{i} " + "N" * 300,
            "label": f"{i} " + "L" * 3000,
        }
        if kind == "list":
            many = 150 if i % 16 == 4 else 100
            extra["options"] = options(many, label="{i:03d} " + "L" * 200)
        result.append(attribute(i, kind, **extra))
    return result


@pytest.mark.parametrize("count", [35, 100])
async def test_long_texts_and_many_attributes_still_post_and_open(
    stack: LocalStack, count: int
) -> None:
    payload = custom_payload(
        stack,
        huge_step_attributes(count),
        hitl_question="I" * 5000,
        procedure_name="P" * 500,
        recent_messages=[
            {"body": "<p>" + "B" * 20_000 + "</p>", "author": {"type": "user", "name": "N" * 500}}
        ]
        * 5,
        conversation_id="9" * 200,
    )

    posted = await send_and_wait_posted(stack, payload)
    view = await stack.open_form(step_id_of(payload))

    assert len(posted["blocks"]) <= 50
    assert_message_within_limits({"text": posted["text"], "blocks": posted["blocks"]})
    assert len(view["blocks"]) <= 100
    assert len(input_blocks(view)) == count
    assert_view_within_limits(view)


async def test_step_larger_than_a_form_tells_the_teammate_to_use_intercom(
    stack: LocalStack,
) -> None:
    payload = custom_payload(stack, [attribute(i, "string") for i in range(101)])
    await send_and_wait_posted(stack, payload)

    await stack.click(step_id_of(payload), "hitl.open", response_key="too-big")
    (note,) = await stack.slack.wait_for_response("too-big")

    assert "Intercom" in note["text"]
    assert note.get("response_type") == "ephemeral"
    assert stack.slack.calls_to("views.open", include_failed=True) == []
