"""Submitting the form (or one click): field errors, and the callback Intercom receives."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from bot.testing.intercom import RecordedCallback
from bot.testing.local_stack import INTERCOM_TOKEN, LocalStack
from tests.transports import over_both_transports

from .helpers import (
    ALL_TYPES_EXPECTED_VALUES,
    ALL_TYPES_VALID_STATE,
    attribute,
    custom_payload,
    fresh_payload,
    identifiers_of,
    item_of,
    send_and_wait_posted,
    step_id_of,
    text_state,
    wait_updated,
)

OPENAPI = Path(__file__).resolve().parent.parent / "fixtures" / "procedures-openapi.yaml"
OPENAPI_URI = "urn:intercom:procedures-openapi"


@cache
def callback_validator() -> OAS30Validator:
    """Intercom's published collect_agent_input_request schema, `$ref`s resolved in the doc."""
    document = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    resource = Resource.from_contents(document, default_specification=DRAFT4)
    registry: Registry[Any] = Registry().with_resource(OPENAPI_URI, resource)
    ref = f"{OPENAPI_URI}#/components/schemas/collect_agent_input_request"
    return OAS30Validator({"$ref": ref}, registry=registry)


async def answer_all_types(
    stack: LocalStack, state: dict[str, Any] | None = None
) -> tuple[dict[str, Any], RecordedCallback]:
    """Sends the all_types step, submits `state` (valid by default), returns the callback."""
    payload = fresh_payload(stack, "all_types")
    await send_and_wait_posted(stack, payload)
    view = await stack.open_form(step_id_of(payload))
    submitted = await stack.submit(view, state or ALL_TYPES_VALID_STATE)
    assert submitted.status == 200
    assert submitted.body is None, submitted.body
    (callback,) = await stack.intercom.wait_for_callbacks(1)
    return payload, callback


# --- Invalid values -----------------------------------------------------------------------

INVALID = {
    "integer-letters": (1, {"type": "number_input", "value": "abc"}),
    "integer-fraction": (1, {"type": "number_input", "value": "2.5"}),
    "integer-empty": (1, {"type": "number_input", "value": ""}),
    "integer-huge": (1, {"type": "number_input", "value": "9" * 30}),
    "decimal-letters": (2, {"type": "number_input", "value": "abc"}),
    "decimal-infinite": (2, {"type": "number_input", "value": "1e999"}),
    "string-empty": (0, {"type": "plain_text_input", "value": ""}),
    "string-blank": (0, {"type": "plain_text_input", "value": "   "}),
    "string-missing": (0, {"type": "plain_text_input", "value": None}),
    "boolean-unchosen": (3, {"type": "radio_buttons", "selected_option": None}),
    "list-unchosen": (4, {"type": "static_select", "selected_option": None}),
    "list-stale-option": (
        4,
        {"type": "static_select", "selected_option": {"value": "99", "text": {}}},
    ),
    "datetime-unpicked": (5, {"type": "datetimepicker", "selected_date_time": None}),
    "datetime-before-1970": (5, {"type": "datetimepicker", "selected_date_time": -86400}),
    "string-longer-than-the-form": (0, {"type": "plain_text_input", "value": "x" * 3001}),
}


@pytest.mark.parametrize(("index", "element"), INVALID.values(), ids=INVALID)
async def test_invalid_value_is_reported_on_its_field_and_nothing_is_sent(
    stack: LocalStack, index: int, element: dict[str, Any]
) -> None:
    payload = fresh_payload(stack, "all_types")
    await send_and_wait_posted(stack, payload)
    view = await stack.open_form(step_id_of(payload))
    state = {**ALL_TYPES_VALID_STATE, f"hitl.attr.{index}": {f"hitl.value.{index}": element}}

    refused = await stack.submit(view, state)
    # The teammate fixes the field; only this submission may reach Intercom.
    accepted = await stack.submit(view, ALL_TYPES_VALID_STATE)
    await stack.intercom.wait_for_callbacks(1)
    await wait_answered(stack, payload)

    assert refused.status == 200
    assert refused.body["response_action"] == "errors"
    errors = refused.body["errors"]
    assert list(errors) == [f"hitl.attr.{index}"]
    assert isinstance(errors[f"hitl.attr.{index}"], str)
    assert errors[f"hitl.attr.{index}"].strip()
    assert accepted.body is None
    assert len(stack.intercom.callbacks) == 1
    values = [v["value"] for v in stack.intercom.callbacks[0].body["attribute_values"]]
    assert values == ALL_TYPES_EXPECTED_VALUES


async def wait_answered(stack: LocalStack, payload: dict[str, Any]) -> None:
    await wait_updated(stack, step_id_of(payload), "Answered by")


@over_both_transports
async def test_field_left_out_of_the_submission_is_reported(stack: LocalStack) -> None:
    payload = fresh_payload(stack, "all_types")
    await send_and_wait_posted(stack, payload)
    view = await stack.open_form(step_id_of(payload))
    state = {k: v for k, v in ALL_TYPES_VALID_STATE.items() if k != "hitl.attr.5"}

    refused = await stack.submit(view, state)

    assert refused.body["response_action"] == "errors"
    assert list(refused.body["errors"]) == ["hitl.attr.5"]


# --- The callback --------------------------------------------------------------------------


async def test_callback_body_matches_intercoms_published_schema(stack: LocalStack) -> None:
    _, callback = await answer_all_types(stack)

    errors = [e.message for e in callback_validator().iter_errors(callback.body)]
    assert errors == []
    # The schema has teeth: the same body with a value missing fails it.
    broken = {**callback.body, "attribute_values": [{"identifier": "x"}]}
    assert not callback_validator().is_valid(broken)
    assert set(callback.body) == {"step_id", "attribute_values"}
    assert all(set(v) == {"identifier", "value"} for v in callback.body["attribute_values"])


async def test_callback_goes_to_the_steps_callback_url(stack: LocalStack) -> None:
    payload, callback = await answer_all_types(stack)

    assert callback.conversation_id == item_of(payload)["conversation_id"]
    assert callback.body["step_id"] == step_id_of(payload)
    assert callback.status == 200


async def test_callback_carries_intercoms_headers(stack: LocalStack) -> None:
    _, callback = await answer_all_types(stack)

    headers = {name.lower(): value for name, value in callback.headers.items()}
    assert headers["authorization"] == f"Bearer {INTERCOM_TOKEN}"
    assert headers["content-type"] == "application/json"
    assert headers["accept"] == "application/json"
    assert headers["intercom-version"] == "Preview"


async def test_callback_has_every_identifier_exactly_once_and_no_other(
    stack: LocalStack,
) -> None:
    payload, callback = await answer_all_types(stack)

    sent = [v["identifier"] for v in callback.body["attribute_values"]]
    assert sorted(sent) == sorted(identifiers_of(payload))
    assert len(sent) == len(set(sent))


@pytest.mark.parametrize(
    ("index", "expected_type"),
    [(0, str), (1, int), (2, float), (3, bool), (4, str), (5, str)],
    ids=["string", "integer", "decimal", "boolean", "list-option-id", "datetime"],
)
async def test_callback_values_are_typed_for_intercom(
    stack: LocalStack, index: int, expected_type: type
) -> None:
    _, callback = await answer_all_types(stack)

    value = callback.body["attribute_values"][index]["value"]
    assert type(value) is expected_type
    assert value == ALL_TYPES_EXPECTED_VALUES[index]


async def test_datetime_is_sent_as_iso_8601_in_utc(stack: LocalStack) -> None:
    """One of the two forms Intercom documents for a datetime value."""
    _, callback = await answer_all_types(stack)

    assert callback.body["attribute_values"][5]["value"] == "2026-12-01T10:30:00Z"


async def test_boolean_yes_in_the_form_is_sent_as_true(stack: LocalStack) -> None:
    yes = {"type": "radio_buttons", "selected_option": {"value": "true", "text": {}}}
    state = {**ALL_TYPES_VALID_STATE, "hitl.attr.3": {"hitl.value.3": yes}}

    _, callback = await answer_all_types(stack, state)

    assert callback.body["attribute_values"][3]["value"] is True


async def test_unknown_type_is_sent_as_the_text_typed(stack: LocalStack) -> None:
    payload = custom_payload(stack, [attribute(0, "colour")])
    await send_and_wait_posted(stack, payload)
    view = await stack.open_form(step_id_of(payload))

    await stack.submit(view, text_state(0, "teal"))
    (callback,) = await stack.intercom.wait_for_callbacks(1)

    assert callback.body["attribute_values"] == [
        {"identifier": identifiers_of(payload)[0], "value": "teal"}
    ]


@pytest.mark.parametrize(
    ("action", "value"), [("hitl.answer.yes", True), ("hitl.answer.no", False)]
)
@over_both_transports
async def test_one_click_answer_sends_the_boolean(
    stack: LocalStack, action: str, value: bool
) -> None:
    payload = fresh_payload(stack, "single_boolean")
    await send_and_wait_posted(stack, payload)

    clicked = await stack.click(step_id_of(payload), action)
    (callback,) = await stack.intercom.wait_for_callbacks(1)

    assert clicked.status == 200
    assert callback.body == {
        "step_id": step_id_of(payload),
        "attribute_values": [{"identifier": identifiers_of(payload)[0], "value": value}],
    }
    assert callback_validator().is_valid(callback.body)
