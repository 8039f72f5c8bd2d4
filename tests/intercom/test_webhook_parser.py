"""`parse_delivery` alone, on the published item: what it reads, what an odd shape costs,
what makes a step unanswerable, and what is refused as unreadable."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from bot.domain import AssigneeType, AuthorType, Priority, Step
from bot.intercom.webhook import WebhookRejected, parse_delivery
from bot.samples import load_sample
from bot.settings import DEFAULT_INTERCOM_API_ORIGINS

ORIGINS = list(DEFAULT_INTERCOM_API_ORIGINS)


def _parse(payload: dict[str, Any]) -> Step:
    step = parse_delivery(json.dumps(payload).encode(), ORIGINS).step
    assert step is not None
    return step


def _with(**item_changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(load_sample("documented_example"))
    payload["data"]["item"].update(item_changes)
    return payload


def _without(*fields: str) -> dict[str, Any]:
    payload = copy.deepcopy(load_sample("documented_example"))
    for field in fields:
        del payload["data"]["item"][field]
    return payload


def test_the_documented_example_is_read_whole() -> None:
    step = _parse(load_sample("documented_example"))

    assert step.step_id == "d5b81f72-adb9-4317-b973-75b3c3624c09"
    assert step.conversation_id == "215473853299345"
    assert step.app_id == "a86dr8yl"
    assert step.notification_id == "notif_a1b2c3d4-5678-90ab-cdef-1234567890ab"
    assert step.procedure_name == "Refund Request"
    assert step.hitl_question == "Should we approve the refund for this customer?"
    assert step.priority is Priority.PRIORITY
    assert step.is_priority
    assert step.expires_at == 1700086400
    assert step.assign_to is not None
    assert (step.assign_to.type, step.assign_to.id, step.assign_to.name) == (
        AssigneeType.TEAM,
        "814865",
        "Customer Support",
    )
    assert step.conversation_url == (
        "https://app.intercom.com/a/inbox/a86dr8yl/inbox/shared/all/conversation/215473853299345"
    )
    assert [(a.display_label, a.data_type) for a in step.attributes] == [
        ("Approve Refund", "boolean"),
        ("Refund Reason", "list"),
    ]
    assert [o.id for o in step.attributes[1].options] == [
        "85f00ba7-558c-4b02-a397-6f5c3659941c",
        "a3e2f1c4-7890-4b5d-9e6f-0123456789ab",
    ]
    first, second = step.recent_messages
    assert (first.id, first.part_type, first.created_at) == ("98765", "comment", 1699999800)
    assert first.author is not None
    assert (first.author.type, first.author.name, first.author.email) == (
        AuthorType.USER,
        "Jane Doe",
        "jane@example.com",
    )
    assert first.body == "<p>Hi, I'd like a refund for my recent order #12345.</p>"
    assert second.author is not None
    assert second.author.type is AuthorType.BOT
    assert step.latest_customer_message() == first
    assert step.answerable


@pytest.mark.parametrize("name", ["refund_approval", "single_boolean", "all_types"])
def test_every_sample_is_answerable(name: str) -> None:
    assert _parse(load_sample(name)).answerable


def test_label_comes_before_name_and_identifier() -> None:
    attributes = [
        {"identifier": "a", "data_type": "string", "name": "n", "label": "l"},
        {"identifier": "b", "data_type": "string", "name": "n", "label": None},
        {"identifier": "c", "data_type": "string"},
    ]
    step = _parse(_with(attributes_to_collect=attributes))

    assert [a.display_label for a in step.attributes] == ["l", "n", "c"]


ODD: dict[str, tuple[dict[str, Any], str, Any]] = {
    "procedure-name-number": ({"procedure_name": 3}, "procedure_name", None),
    "procedure-name-blank": ({"procedure_name": "  "}, "procedure_name", None),
    "question-list": ({"hitl_question": ["a"]}, "hitl_question", None),
    "expires-null": ({"expires_at": None}, "expires_at", None),
    "expires-text": ({"expires_at": "1700086400"}, "expires_at", None),
    "expires-negative": ({"expires_at": -1}, "expires_at", None),
    "expires-float": ({"expires_at": 1700086400.9}, "expires_at", 1700086400),
    "priority-other": ({"priority": "high"}, "priority", None),
    "priority-not": ({"priority": "not_priority"}, "priority", Priority.NOT_PRIORITY),
    "assign-null": ({"assign_to": None}, "assign_to", None),
    "assign-list": ({"assign_to": [1]}, "assign_to", None),
    "assign-no-type": ({"assign_to": {"id": "1", "name": "x"}}, "assign_to", None),
    "link-elsewhere": ({"conversation_url": "https://evil.example/x"}, "conversation_url", None),
    "link-with-space": (
        {"conversation_url": "https://app.intercom.com/a b"},
        "conversation_url",
        None,
    ),
    "link-on-a-port": (
        {"conversation_url": "https://app.intercom.com:444/a"},
        "conversation_url",
        None,
    ),
    "link-uppercase-host-is-the-same-host": (
        {"conversation_url": "https://APP.INTERCOM.COM/a"},
        "conversation_url",
        "https://APP.INTERCOM.COM/a",
    ),
    "messages-null": ({"recent_messages": None}, "recent_messages", ()),
    "messages-object": ({"recent_messages": {"a": 1}}, "recent_messages", ()),
    "messages-of-numbers": ({"recent_messages": [1, 2]}, "recent_messages", ()),
}


@pytest.mark.parametrize(("change", "field", "kept"), ODD.values(), ids=ODD)
def test_an_odd_optional_field_costs_that_field_only(
    change: dict[str, Any], field: str, kept: Any
) -> None:
    step = _parse(_with(**change))

    assert getattr(step, field) == kept
    assert step.answerable
    assert step.hitl_question or "hitl_question" in change


@pytest.mark.parametrize(
    "field",
    ["procedure_name", "hitl_question", "expires_at", "priority", "assign_to", "conversation_url",
     "recent_messages", "app_id", "type"],
)  # fmt: skip
def test_a_missing_optional_field_costs_nothing_else(field: str) -> None:
    step = _parse(_without(field))

    assert step.answerable
    assert len(step.attributes) == 2


def test_an_odd_message_part_keeps_what_it_can() -> None:
    parts = [
        {"body": 5, "author": "Jane", "created_at": "yesterday", "id": 7},
        {"body": "<p>hi</p>", "author": {"type": "lead", "name": None, "email": "a@b.c"}},
        {"body": "<p>x</p>", "author": {"type": "something_new", "name": "Ro"}},
    ]
    step = _parse(_with(recent_messages=parts))

    odd, lead, new = step.recent_messages
    assert (odd.body, odd.author, odd.created_at, odd.id) == ("", None, None, "7")
    assert lead.author is not None
    assert lead.author.type is AuthorType.USER
    assert lead.author.email == "a@b.c"
    assert new.author is not None
    assert new.author.type is AuthorType.OTHER


def test_at_most_ten_recent_messages_are_kept_the_latest_ones() -> None:
    parts = [{"body": f"<p>{i}</p>", "id": str(i)} for i in range(15)]

    step = _parse(_with(recent_messages=parts))

    assert [m.id for m in step.recent_messages] == [str(i) for i in range(5, 15)]


def test_options_without_an_id_are_left_out_and_numbers_become_text() -> None:
    options = [{"id": 1, "label": "one"}, {"label": "no id"}, "x", {"id": "b"}]
    attributes = [{"identifier": "a", "data_type": "list", "options": options}]

    step = _parse(_with(attributes_to_collect=attributes))

    assert [(o.id, o.label) for o in step.attributes[0].options] == [("1", "one"), ("b", "b")]


def test_unknown_and_missing_data_types_are_kept_for_a_text_input() -> None:
    attributes = [
        {"identifier": "a", "data_type": " Colour "},
        {"identifier": "b"},
        {"identifier": "c", "data_type": 5},
    ]
    step = _parse(_with(attributes_to_collect=attributes))

    assert [a.data_type for a in step.attributes] == ["colour", "", ""]
    assert all(a.known_type is None for a in step.attributes)


UNANSWERABLE: dict[str, tuple[dict[str, Any], str]] = {
    "other-origin": (
        {"callback_url": "https://evil.example/procedures/215473853299345/collect_agent_input"},
        "allowed Intercom API origin",
    ),
    "other-conversation": (
        {"callback_url": "https://api.intercom.io/procedures/1/collect_agent_input"},
        "this conversation's",
    ),
    "trailing-space": (
        {"callback_url": "https://api.intercom.io/procedures/215473853299345/collect_agent_input "},
        "control characters",
    ),
    "tab-inside": (
        {"callback_url": "https://api.intercom.io/proce\tdures/215473853299345/collect_agent_input"},
        "control characters",
    ),
    "newline": (
        {"callback_url": "https://api.intercom.io/procedures/215473853299345/collect_agent_input\n"},
        "control characters",
    ),
    "nul": (
        {"callback_url": "https://api.intercom.io/procedures/215473853299345/collect_\x00agent_input"},
        "control characters",
    ),
    "backslash": (
        {"callback_url": "https://api.intercom.io\\@evil.example/procedures/215473853299345/collect_agent_input"},
        "control characters",
    ),
    "empty-query": (
        {"callback_url": "https://api.intercom.io/procedures/215473853299345/collect_agent_input?"},
        "this conversation's",
    ),
    "not-a-url": ({"callback_url": "nope"}, "http(s) URL"),
    "conversation-with-slash": ({"conversation_id": "1/2"}, "conversation id"),
    "conversation-too-long": ({"conversation_id": "1" * 300}, "conversation id"),
    "no-conversation": ({"conversation_id": None}, "no conversation id"),
    "attribute-without-identifier": (
        {"attributes_to_collect": [{"data_type": "string"}]},
        "attribute 1 has no identifier",
    ),
    "same-identifier-twice": (
        {"attributes_to_collect": [{"identifier": "x"}, {"identifier": "x"}]},
        "share the identifier",
    ),
    "identifier-with-lone-surrogate": (
        {"attributes_to_collect": [{"identifier": "x\ud800"}]},
        "can't be sent back",
    ),
}  # fmt: skip


@pytest.mark.parametrize(("change", "reason"), UNANSWERABLE.values(), ids=UNANSWERABLE)
def test_a_step_the_bot_will_not_call_back_is_kept_with_the_reason(
    change: dict[str, Any], reason: str
) -> None:
    step = _parse(_with(**change))

    assert step.unanswerable is not None
    assert reason in step.unanswerable
    assert not step.answerable
    step.model_dump_json().encode("utf-8")  # storable, even with odd text


UNREADABLE: dict[str, bytes] = {
    "not-json": b"{",
    "not-utf8": b"\xff",
    "array": b"[]",
    "deeply-nested": b"[" * 100_000 + b"]" * 100_000,
    "no-topic": b'{"data": {}}',
    "no-item": json.dumps({"topic": "procedure.hitl_notification.created"}).encode(),
    "no-step-id": json.dumps(_without("step_id")).encode(),
    "step-id-object": json.dumps(_with(step_id={"a": 1})).encode(),
    "step-id-too-long": json.dumps(_with(step_id="s" * 256)).encode(),
    "no-callback": json.dumps(_without("callback_url")).encode(),
    "no-attributes": json.dumps(_without("attributes_to_collect")).encode(),
    "attributes-object": json.dumps(_with(attributes_to_collect={"a": 1})).encode(),
}


@pytest.mark.parametrize("body", UNREADABLE.values(), ids=UNREADABLE)
def test_only_what_cannot_be_read_is_refused_with_one_line(body: bytes) -> None:
    with pytest.raises(WebhookRejected) as refused:
        parse_delivery(body, ORIGINS)

    assert refused.value.status == 400
    assert refused.value.reason.strip()
    assert "\n" not in refused.value.reason


def test_lone_surrogates_in_text_become_replacement_characters() -> None:
    step = _parse(
        _with(
            procedure_name="Refund \ud83d",
            hitl_question="\udc00?",
            assign_to={"type": "team", "id": "1", "name": "Sup\ud800port"},
            recent_messages=[
                {"body": "<p>hi \ud83d</p>", "author": {"type": "user", "name": "J\udfff"}}
            ],
        )
    )

    assert step.procedure_name == "Refund \ufffd"
    assert step.hitl_question == "\ufffd?"
    assert step.assign_to is not None
    assert step.assign_to.name == "Sup\ufffdport"
    assert step.recent_messages[0].body == "<p>hi \ufffd</p>"
    step.model_dump_json().encode("utf-8")


def test_other_topics_are_read_as_nothing_to_do() -> None:
    delivery = parse_delivery(json.dumps(load_sample("ping")).encode(), ORIGINS)

    assert delivery.step is None
    assert delivery.topic == "ping"
