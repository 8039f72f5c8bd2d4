"""The attribute ⇄ form-field mapping: Step → modal, and submitted state → typed values."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.domain import Option, Step
from bot.slack.form import (
    FormTooLarge,
    boolean_answer,
    build_form_view,
    comment_of,
    options_attribute,
    options_for_query,
    parse_submission,
)
from bot.slack.ids import step_id_from_metadata

from .helpers import (
    FIXTURE_STEPS,
    NASTY,
    assert_no_raw_tokens,
    assert_option,
    assert_view_within_limits,
    load_step,
    make_attribute,
    make_step,
    plain_texts,
)


def _inputs(view: dict[str, Any]) -> list[dict[str, Any]]:
    """The inputs for the step's attributes (not the optional comment)."""
    return [
        b for b in view["blocks"] if b["type"] == "input" and b["block_id"].startswith("hitl.attr.")
    ]


def _element(step: Step, index: int = 0) -> dict[str, Any]:
    view = build_form_view(step)
    assert_view_within_limits(view)
    element: dict[str, Any] = _inputs(view)[index]["element"]
    return element


def _options(count: int, label: str = "Option {i}") -> tuple[Option, ...]:
    return tuple(Option(id=f"opt-{i}", label=label.format(i=i)) for i in range(count))


def _list_step(count: int, label: str = "Option {i}") -> Step:
    return make_step(make_attribute(0, "list", options=_options(count, label)))


def _state(index: int, element: dict[str, Any], action: str = "hitl.value.{i}") -> dict[str, Any]:
    return {f"hitl.attr.{index}": {action.format(i=index): element}}


def _parse_one(step: Step, element: dict[str, Any], action: str = "hitl.value.{i}") -> Any:
    values, errors = parse_submission(step, _state(0, element, action))
    assert errors == {}
    return values[0]


def _error_of(step: Step, element: dict[str, Any]) -> str:
    _, errors = parse_submission(step, _state(0, element))
    assert list(errors) == ["hitl.attr.0"]
    return errors["hitl.attr.0"]


# --- Building the view


@pytest.mark.parametrize("name", FIXTURE_STEPS)
def test_fixture_steps_build_valid_views(name: str) -> None:
    view = build_form_view(load_step(name))

    assert_view_within_limits(view)


def test_view_is_a_modal_with_our_callback_and_buttons() -> None:
    view = build_form_view(load_step("refund_approval.json"))

    assert view["type"] == "modal"
    assert view["callback_id"] == "hitl.submit"
    assert view["title"]["text"] == "Answer Fin"
    assert view["submit"]["text"] == "Send to Fin"
    assert view["close"]["text"] == "Cancel"


def test_private_metadata_carries_the_step_id() -> None:
    step = load_step("refund_approval.json")
    view = build_form_view(step)

    assert json.loads(view["private_metadata"]) == {"step_id": step.step_id}
    assert step_id_from_metadata(view["private_metadata"]) == step.step_id


@pytest.mark.parametrize("metadata", ["", "not json", "[]", '{"step_id": 5}', "{}"])
def test_step_id_from_metadata_ignores_what_is_not_ours(metadata: str) -> None:
    assert step_id_from_metadata(metadata) is None


def test_absurdly_long_step_id_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="private_metadata"):
        build_form_view(make_step(step_id="s" * 3000))


def test_intro_names_the_procedure_and_conversation() -> None:
    view = build_form_view(load_step("refund_approval.json"))
    intro = view["blocks"][0]["text"]["text"]

    assert "Refund over $40" in intro
    assert "215473853299345" in intro


def test_intro_shows_what_fin_asks() -> None:
    view = build_form_view(load_step("refund_approval.json"))

    assert view["blocks"][1]["block_id"] == "hitl.question"
    assert "order #1234" in view["blocks"][1]["text"]["text"]


def test_intro_marks_a_priority_step_and_names_the_assignee() -> None:
    intro = build_form_view(load_step("refund_approval.json"))["blocks"][0]["text"]["text"]

    assert "Priority" in intro
    assert "Assigned in Intercom to *Customer Support*" in intro


def test_a_step_that_is_not_priority_carries_no_mark() -> None:
    view = build_form_view(load_step("all_types.json"))

    assert "Priority" not in json.dumps(view)


def test_every_recent_message_is_in_the_form_oldest_first_with_its_author() -> None:
    view = build_form_view(load_step("refund_approval.json"))
    recent = [b["text"]["text"] for b in view["blocks"] if b["block_id"].startswith("hitl.recent.")]

    assert len(recent) == 3
    assert recent[0].startswith("*Jane Doe* (customer) · <!date^1795478100^")
    assert "arrived damaged" in recent[0]
    assert recent[1].startswith("*Fin* · <!date^1795478160^")
    assert "photo.jpg (https://example.com/photo.jpg)" in recent[2]


def test_intro_uses_a_default_when_there_is_no_procedure_name() -> None:
    view = build_form_view(make_step(procedure_name=None, hitl_question=None))

    assert "Fin needs your input" in view["blocks"][0]["text"]["text"]
    assert [b["block_id"] for b in view["blocks"]] == ["hitl.intro", "hitl.attr.0", "hitl.comment"]


def test_a_long_question_is_truncated_within_3000() -> None:
    view = build_form_view(make_step(hitl_question="x" * 5000))
    question = view["blocks"][1]["text"]["text"]

    assert len(question) <= 3000
    assert question.endswith("…")
    assert_view_within_limits(view)


@pytest.mark.parametrize(
    ("index", "kind"),
    [
        (0, "plain_text_input"),
        (1, "number_input"),
        (2, "number_input"),
        (3, "radio_buttons"),
        (4, "static_select"),
        (5, "datetimepicker"),
    ],
)
def test_each_data_type_gets_its_element(index: int, kind: str) -> None:
    element = _element(load_step("all_types.json"), index)

    assert element["type"] == kind
    assert element["action_id"] == f"hitl.value.{index}"


def test_inputs_follow_attribute_order_with_indexed_block_ids() -> None:
    view = build_form_view(load_step("all_types.json"))

    assert [b["block_id"] for b in _inputs(view)] == [f"hitl.attr.{i}" for i in range(6)]


def test_every_input_is_required() -> None:
    view = build_form_view(load_step("all_types.json"))

    assert all(b["optional"] is False for b in _inputs(view))


def test_string_is_a_multiline_text_input_of_3000() -> None:
    element = _element(make_step(make_attribute(0, "string")))

    assert element == {
        "action_id": "hitl.value.0",
        "type": "plain_text_input",
        "multiline": True,
        "max_length": 3000,
    }


def test_integer_is_a_number_input_without_decimals() -> None:
    assert _element(make_step(make_attribute(0, "integer")))["is_decimal_allowed"] is False


def test_decimal_is_a_number_input_with_decimals() -> None:
    assert _element(make_step(make_attribute(0, "decimal")))["is_decimal_allowed"] is True


def test_boolean_is_yes_no_radio_buttons() -> None:
    element = _element(make_step(make_attribute(0, "boolean")))

    assert [(o["text"]["text"], o["value"]) for o in element["options"]] == [
        ("Yes", "true"),
        ("No", "false"),
    ]


def test_undocumented_date_type_is_offered_as_text() -> None:
    assert _element(make_step(make_attribute(0, "date")))["type"] == "plain_text_input"


def test_datetime_is_a_datetimepicker() -> None:
    assert _element(make_step(make_attribute(0, "datetime")))["type"] == "datetimepicker"


def test_list_options_are_valued_by_index() -> None:
    element = _element(load_step("refund_approval.json"), 1)

    assert [(o["text"]["text"], o["value"]) for o in element["options"]] == [
        ("Damaged in transit", "0"),
        ("Wrong item sent", "1"),
        ("Goodwill gesture", "2"),
    ]


def test_list_of_100_options_stays_a_static_select() -> None:
    element = _element(_list_step(100))

    assert element["type"] == "static_select"
    assert len(element["options"]) == 100


def test_list_of_150_options_is_an_external_select_listing_on_open() -> None:
    element = _element(_list_step(150))

    assert element["type"] == "external_select"
    assert element["action_id"] == "hitl.options.0"
    assert element["min_query_length"] == 0
    assert "options" not in element


def test_list_without_options_is_a_text_input_with_a_hint() -> None:
    view = build_form_view(make_step(make_attribute(0, "list")))
    block = _inputs(view)[0]

    assert block["element"]["type"] == "plain_text_input"
    assert "no options" in block["hint"]["text"]
    assert_view_within_limits(view)


def test_long_option_labels_are_truncated_to_75() -> None:
    element = _element(_list_step(3, label="L{i}" + "x" * 200))

    assert all(len(o["text"]["text"]) == 75 for o in element["options"])


def test_empty_option_label_falls_back_to_the_option_id() -> None:
    step = make_step(make_attribute(0, "list", options=(Option(id="opt-a", label=" "),)))

    assert _element(step)["options"][0]["text"]["text"] == "opt-a"


def test_unknown_type_is_a_single_line_text_input() -> None:
    element = _element(make_step(make_attribute(0, "email")))

    assert element["type"] == "plain_text_input"
    assert "multiline" not in element


def test_unknown_type_hint_names_the_type_and_says_text() -> None:
    view = build_form_view(make_step(make_attribute(0, "email")))
    hint = _inputs(view)[0]["hint"]["text"]

    assert '"email"' in hint
    assert "sent as text" in hint


def test_documented_types_carry_no_hint() -> None:
    view = build_form_view(load_step("refund_approval.json"))

    assert all("hint" not in block for block in _inputs(view))


def test_label_is_the_attributes_label() -> None:
    view = build_form_view(load_step("refund_approval.json"))

    assert _inputs(view)[0]["label"]["text"] == "Approve refund"


def test_label_comes_first_then_name_then_identifier() -> None:
    labelled = make_step(make_attribute(0, name="The name", label="The label"))
    named = make_step(make_attribute(0, name="The name", label=" "))
    bare = make_step(make_attribute(0, name=None, label=None))

    assert _inputs(build_form_view(labelled))[0]["label"]["text"] == "The label"
    assert _inputs(build_form_view(named))[0]["label"]["text"] == "The name"
    assert _inputs(build_form_view(bare))[0]["label"]["text"] == "workflow_local_variables.attr-0"


def test_300_char_labels_are_kept_whole_within_2000() -> None:
    view = build_form_view(make_step(make_attribute(0, name="L" * 300)))

    assert _inputs(view)[0]["label"]["text"] == "L" * 300
    assert_view_within_limits(view)


def test_2500_char_labels_are_truncated_to_2000() -> None:
    view = build_form_view(make_step(make_attribute(0, name="L" * 2500)))

    assert len(_inputs(view)[0]["label"]["text"]) == 2000


def test_30_attributes_fit_with_the_intro() -> None:
    step = make_step(*(make_attribute(i, "integer") for i in range(30)))
    view = build_form_view(step)

    assert len(_inputs(view)) == 30
    assert len(view["blocks"]) == 33  # intro, question, 30 inputs, the comment
    assert_view_within_limits(view)


def test_98_attributes_fit_with_the_intro_in_100_blocks() -> None:
    view = build_form_view(make_step(*(make_attribute(i) for i in range(98))))

    assert len(view["blocks"]) == 100
    assert len(_inputs(view)) == 98
    assert_view_within_limits(view)


def test_99_attributes_drop_the_question_first() -> None:
    view = build_form_view(make_step(*(make_attribute(i) for i in range(99))))

    assert [b["block_id"] for b in view["blocks"][:1]] == ["hitl.intro"]
    assert len(_inputs(view)) == 99
    assert_view_within_limits(view)


def test_100_attributes_drop_the_whole_intro() -> None:
    view = build_form_view(make_step(*(make_attribute(i) for i in range(100))))

    assert len(_inputs(view)) == len(view["blocks"]) == 100
    assert_view_within_limits(view)


def test_comment_is_an_optional_multiline_input_after_the_attributes() -> None:
    view = build_form_view(load_step("refund_approval.json"))
    comment = view["blocks"][-1]

    assert comment["block_id"] == "hitl.comment"
    assert comment["optional"] is True
    assert comment["element"]["multiline"] is True
    assert comment["element"]["max_length"] == 3000
    assert_view_within_limits(view)


def test_comment_gives_way_first_when_the_view_is_full() -> None:
    view = build_form_view(make_step(*(make_attribute(i) for i in range(98))))

    assert "hitl.comment" not in [b["block_id"] for b in view["blocks"]]


def test_comment_is_read_from_the_submission_and_blank_is_none() -> None:
    def state(value: str) -> dict[str, Any]:
        return {
            "hitl.comment": {"hitl.comment.value": {"type": "plain_text_input", "value": value}}
        }

    assert comment_of(state("  Checked the order  ")) == "Checked the order"
    assert comment_of(state("   ")) is None
    assert comment_of({}) is None


def test_101_attributes_are_too_large_for_a_form() -> None:
    with pytest.raises(FormTooLarge):
        build_form_view(make_step(*(make_attribute(i) for i in range(101))))


def test_form_too_large_is_a_value_error() -> None:
    assert issubclass(FormTooLarge, ValueError)


def test_untrusted_text_never_reaches_mrkdwn_raw() -> None:
    attributes = (
        make_attribute(0, "list", name=NASTY, label=NASTY, options=_options(3, NASTY)),
        make_attribute(1, NASTY, name=NASTY),
    )
    view = build_form_view(
        make_step(*attributes, procedure_name=NASTY, hitl_question=NASTY, conversation_id=NASTY)
    )

    assert_no_raw_tokens(view)
    assert_view_within_limits(view)


def test_plain_text_shows_untrusted_text_literally() -> None:
    """plain_text is never parsed, so escaping it would show `&lt;` to people."""
    view = build_form_view(make_step(make_attribute(0, name=NASTY)))

    assert NASTY in plain_texts(view)


# --- Parsing the submission


def _all_types_state() -> dict[str, Any]:
    return {
        "hitl.attr.0": {"hitl.value.0": {"type": "plain_text_input", "value": " SKU-1 "}},
        "hitl.attr.1": {"hitl.value.1": {"type": "number_input", "value": "3"}},
        "hitl.attr.2": {"hitl.value.2": {"type": "number_input", "value": "12.50"}},
        "hitl.attr.3": {
            "hitl.value.3": {"type": "radio_buttons", "selected_option": {"value": "false"}}
        },
        "hitl.attr.4": {
            "hitl.value.4": {"type": "static_select", "selected_option": {"value": "2"}}
        },
        "hitl.attr.5": {
            "hitl.value.5": {"type": "datetimepicker", "selected_date_time": 1795600800}
        },
    }


def test_parse_all_types_gives_typed_values_in_attribute_order() -> None:
    step = load_step("all_types.json")
    values, errors = parse_submission(step, _all_types_state())

    assert errors == {}
    assert [v.identifier for v in values] == [a.identifier for a in step.attributes]
    assert [(v.value, v.display) for v in values] == [
        (" SKU-1 ", " SKU-1 "),
        (3, "3"),
        (12.5, "12.50"),
        (False, "No"),
        ("opt-dhl", "DHL"),
        ("2026-11-25T10:00:00Z", "2026-11-25 10:00 UTC"),
    ]


def test_parse_ignores_unknown_block_ids() -> None:
    state = _all_types_state() | {"hitl.intro": {"x": {"value": "?"}}, "other": {}}

    assert parse_submission(load_step("all_types.json"), state)[1] == {}


def test_parse_reports_every_missing_attribute_on_its_block() -> None:
    _, errors = parse_submission(load_step("all_types.json"), {})

    assert errors == {f"hitl.attr.{i}": "Please fill this in" for i in range(6)}


def test_parse_reports_a_block_without_our_action() -> None:
    state = _all_types_state()
    state["hitl.attr.1"] = {"something.else": {"value": "3"}}

    assert parse_submission(load_step("all_types.json"), state)[1] == {
        "hitl.attr.1": "Please fill this in"
    }


def test_parse_reports_each_invalid_field_at_once() -> None:
    state = _all_types_state()
    state["hitl.attr.1"]["hitl.value.1"]["value"] = "2.5"
    state["hitl.attr.5"]["hitl.value.5"]["selected_date_time"] = None

    assert set(parse_submission(load_step("all_types.json"), state)[1]) == {
        "hitl.attr.1",
        "hitl.attr.5",
    }


@pytest.mark.parametrize(
    ("raw", "value", "display"), [("true", True, "Yes"), ("false", False, "No")]
)
def test_parse_boolean(raw: str, value: bool, display: str) -> None:
    step = make_step(make_attribute(0, "boolean"))
    parsed = _parse_one(step, {"type": "radio_buttons", "selected_option": {"value": raw}})

    assert parsed.value is value
    assert parsed.display == display


@pytest.mark.parametrize("selected", [None, {"value": "yes"}, {}])
def test_parse_boolean_rejects_no_choice(selected: Any) -> None:
    step = make_step(make_attribute(0, "boolean"))

    assert _error_of(step, {"selected_option": selected}) == "Please choose Yes or No"


def test_parse_list_sends_the_option_id_and_shows_its_label() -> None:
    long_id = "x" * 400
    step = make_step(make_attribute(0, "list", options=(Option(id=long_id, label="Long"),)))
    parsed = _parse_one(step, {"type": "static_select", "selected_option": {"value": "0"}})

    assert (parsed.value, parsed.display) == (long_id, "Long")


def test_parse_external_select_reads_the_options_action() -> None:
    parsed = _parse_one(
        _list_step(150),
        {"type": "external_select", "selected_option": {"value": "149"}},
        action="hitl.options.{i}",
    )

    assert (parsed.value, parsed.display) == ("opt-149", "Option 149")


@pytest.mark.parametrize("raw", ["3", "-1", "abc", "", "1.0", "99999999999"])
def test_parse_list_rejects_an_invalid_option_index(raw: str) -> None:
    error = _error_of(_list_step(3), {"selected_option": {"value": raw}})

    assert "option" in error


def test_parse_list_without_a_choice_asks_to_choose() -> None:
    assert _error_of(_list_step(3), {"selected_option": None}) == "Please choose one of the options"


def test_parse_list_without_options_sends_the_text() -> None:
    step = make_step(make_attribute(0, "list"))

    assert _parse_one(step, {"value": "opt-typed"}).value == "opt-typed"


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("42", 42),
        ("-7", -7),
        (" 5 ", 5),
        ("+3", 3),
        (str(2**53), 2**53),
        ("-" + str(2**53), -(2**53)),
    ],
)
def test_parse_integer(raw: str, value: int) -> None:
    parsed = _parse_one(make_step(make_attribute(0, "integer")), {"value": raw})

    assert parsed.value == value
    assert type(parsed.value) is int
    assert parsed.display == str(value)


@pytest.mark.parametrize("raw", ["2.5", "abc", "1e3", "0x10", "١٢", "3.0"])
def test_parse_integer_rejects_non_integers(raw: str) -> None:
    step = make_step(make_attribute(0, "integer"))

    assert _error_of(step, {"value": raw}) == "Please enter a whole number"


@pytest.mark.parametrize("raw", [str(2**53 + 1), "-" + str(2**53 + 1), "9" * 5000])
def test_parse_integer_rejects_numbers_beyond_2_to_the_53(raw: str) -> None:
    step = make_step(make_attribute(0, "integer"))

    assert _error_of(step, {"value": raw}) == "That number is too large for Fin"


@pytest.mark.parametrize("raw", [True, False, [1]])
def test_parse_integer_rejects_non_strings_like_bools(raw: Any) -> None:
    step = make_step(make_attribute(0, "integer"))

    assert _error_of(step, {"value": raw}) == "Please enter a number"


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_parse_integer_rejects_an_empty_value(raw: Any) -> None:
    step = make_step(make_attribute(0, "integer"))

    assert _error_of(step, {"value": raw}) == "Please fill this in"


@pytest.mark.parametrize(
    ("raw", "value", "display"),
    [("3", 3.0, "3"), ("3.50", 3.5, "3.50"), ("-0.25", -0.25, "-0.25"), (".5", 0.5, ".5")],
)
def test_parse_decimal(raw: str, value: float, display: str) -> None:
    parsed = _parse_one(make_step(make_attribute(0, "decimal")), {"value": raw})

    assert parsed.value == value
    assert type(parsed.value) is float
    assert parsed.display == display


@pytest.mark.parametrize("raw", ["nan", "NaN", "inf", "-Infinity", "abc", "1,5", "1.2.3"])
def test_parse_decimal_rejects_non_numbers(raw: str) -> None:
    step = make_step(make_attribute(0, "decimal"))

    assert _error_of(step, {"value": raw}) == "Please enter a number"


def test_parse_decimal_rejects_a_number_that_overflows_to_infinity() -> None:
    step = make_step(make_attribute(0, "decimal"))

    assert _error_of(step, {"value": "1e400"}) == "That number is too large for Fin"


def test_parse_datetime_sends_iso_8601_in_utc_and_shows_utc() -> None:
    parsed = _parse_one(
        make_step(make_attribute(0, "datetime")), {"selected_date_time": 1795478400}
    )

    assert (parsed.value, parsed.display) == ("2026-11-24T00:00:00Z", "2026-11-24 00:00 UTC")


def test_parse_datetime_at_the_epoch_is_still_iso_8601() -> None:
    parsed = _parse_one(make_step(make_attribute(0, "datetime")), {"selected_date_time": "0"})

    assert parsed.value == "1970-01-01T00:00:00Z"


@pytest.mark.parametrize("raw", [None, True, "soon", 1.5, 10**20, -1, -86400, 253402300800])
def test_parse_datetime_rejects_invalid_values(raw: Any) -> None:
    step = make_step(make_attribute(0, "datetime"))

    assert _error_of(step, {"selected_date_time": raw}) == "Please pick a date and time"


def test_parse_string_keeps_the_text_as_typed() -> None:
    parsed = _parse_one(make_step(make_attribute(0, "string")), {"value": "  Hi <b>\n"})

    assert (parsed.value, parsed.display) == ("  Hi <b>\n", "  Hi <b>\n")


@pytest.mark.parametrize("raw", [None, "", " \n\t"])
def test_parse_string_rejects_empty_text(raw: Any) -> None:
    step = make_step(make_attribute(0, "string"))

    assert _error_of(step, {"value": raw}) == "Please fill this in"


def test_parse_string_refuses_more_than_the_form_allows() -> None:
    step = make_step(make_attribute(0, "string"))

    assert _error_of(step, {"value": "x" * 3001}) == "Please keep this under 3000 characters"
    assert _parse_one(step, {"value": "x" * 3000}).value == "x" * 3000


def test_parse_string_makes_a_lone_surrogate_storable() -> None:
    parsed = _parse_one(make_step(make_attribute(0, "string")), {"value": "ok \ud83d"})

    assert parsed.value == "ok \ufffd"
    parsed.model_dump_json().encode("utf-8")


def test_parse_unknown_type_sends_the_text() -> None:
    parsed = _parse_one(make_step(make_attribute(0, "email")), {"value": "a@b.c"})

    assert parsed.value == "a@b.c"


# --- One-click answers and type-ahead options


@pytest.mark.parametrize(("value", "display"), [(True, "Yes"), (False, "No")])
def test_boolean_answer_is_the_whole_answer(value: bool, display: str) -> None:
    step = load_step("single_boolean.json")
    (answer,) = boolean_answer(step, value)

    assert answer.identifier == step.attributes[0].identifier
    assert (answer.value, answer.display) == (value, display)


def test_boolean_answer_refuses_a_step_that_is_not_single_boolean() -> None:
    with pytest.raises(ValueError, match="yes/no"):
        boolean_answer(load_step("refund_approval.json"), True)


def test_options_for_query_matches_labels_case_insensitively() -> None:
    attribute = make_attribute(0, "list", options=_options(150))
    options = options_for_query(attribute, "OPTION 14")

    assert [o["value"] for o in options] == ["14", *[str(i) for i in range(140, 150)]]


def test_options_for_query_returns_at_most_100() -> None:
    attribute = make_attribute(0, "list", options=_options(150))

    assert len(options_for_query(attribute, "")) == 100


def test_options_for_query_builds_valid_plain_text_options() -> None:
    attribute = make_attribute(0, "list", options=_options(150, "<!channel> {i}" + "x" * 200))
    options = options_for_query(attribute, "<!CHANNEL>")

    assert len(options) == 100
    for i, option in enumerate(options):
        assert option["text"]["type"] == "plain_text"
        assert_option(option, f"options[{i}]")


def test_options_attribute_finds_the_external_select() -> None:
    step = make_step(make_attribute(0), make_attribute(1, "list", options=_options(150)))

    assert options_attribute(step, "hitl.options.1") is step.attributes[1]


@pytest.mark.parametrize("action", ["hitl.options.0", "hitl.options.2", "hitl.options.x", "x"])
def test_options_attribute_ignores_other_action_ids(action: str) -> None:
    step = make_step(make_attribute(0), make_attribute(1, "list", options=_options(150)))

    assert options_attribute(step, action) is None
