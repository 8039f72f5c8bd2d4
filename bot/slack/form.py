"""The attribute ⇄ form-field mapping, both ways: a Step to a modal, a submission to values.

Longer than most modules on purpose: each data type's element and the parsing of what
it submits sit side by side (`_Field` is switched on both ways), so a type is changed in
one place; split in two, one mapping would live in two rooms.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from bot.domain import AnswerValue, Attribute, DataType, Option, Step
from bot.slack import ids
from bot.slack.conversation import assignee_text, message_text
from bot.slack.text import (
    HINT_MAX,
    LABEL_MAX,
    NO_NAME,
    OPTION_TEXT_MAX,
    OPTIONS_MAX,
    PLACEHOLDER_MAX,
    PLAIN_TEXT_INPUT_MAX,
    PRIVATE_METADATA_MAX,
    SECTION_TEXT_MAX,
    VIEW_BLOCKS_MAX,
    VIEW_CLOSE_MAX,
    VIEW_SUBMIT_MAX,
    VIEW_TITLE_MAX,
    mrkdwn,
    mrkdwn_text,
    plain_text,
    truncate,
)
from bot.untrusted import storable

# User-facing strings of the form.
TITLE = "Answer Fin"
SUBMIT = "Send to Fin"
CLOSE = "Cancel"
YES = "Yes"
NO = "No"
DEFAULT_PROCEDURE = "Fin needs your input"
CONVERSATION = "Conversation {id}"
CHOOSE_PLACEHOLDER = "Choose an option"
SEARCH_PLACEHOLDER = "Type to search the options"
UNKNOWN_TYPE_HINT = 'Intercom asked for a "{data_type}" value; it will be sent as text.'
NO_OPTIONS_HINT = "Intercom sent no options to choose from; what you type is sent as text."
ERROR_MISSING = "Please fill this in"
ERROR_YES_NO = "Please choose Yes or No"
ERROR_CHOOSE = "Please choose one of the options"
ERROR_STALE_OPTION = "That option is not available any more; please choose again"
ERROR_WHOLE_NUMBER = "Please enter a whole number"
ERROR_NUMBER = "Please enter a number"
ERROR_TOO_LARGE = "That number is too large for Fin"
ERROR_DATETIME = "Please pick a date and time"
ERROR_TOO_LONG = "Please keep this under {limit} characters"
COMMENT_LABEL = "Comment (optional)"
COMMENT_HINT = "For your teammates and the conversation's notes; Fin never sees it."
PRIORITY = "🔴 *Priority*"
QUESTION = "*Fin asks:* {question}"
RECENT_HEADING = "*The conversation so far* (latest {count})"

# JSON numbers beyond 2**53 lose precision on the way to Intercom.
INTEGER_LIMIT = 2**53
# Long enough for any data type we would show; the hint has room to spare.
_DATA_TYPE_SHOWN_MAX = 50
# Piece budgets inside the intro section, so neither piece can crowd out the other.
_PROCEDURE_SHOWN_MAX = 500
_CONVERSATION_SHOWN_MAX = 200
_QUESTION_SHOWN_MAX = 2800
# Each recent message is one section of at most 3000 characters, heading included.
_MESSAGE_SHOWN_MAX = 2500

_INTEGER_RE = re.compile(r"[+-]?[0-9]+")
# More digits than any number Intercom can take; int() of a huge string is slow.
_INTEGER_DIGITS_MAX = 20
_DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
_INDEX_RE = re.compile(r"[0-9]{1,6}")
# Slack's datetimepicker gives unix seconds; years 1970 to 9999 have an ISO 8601 form.
_LATEST_DATETIME = 253_402_300_799


class FormTooLarge(ValueError):
    """The step asks for more attributes than one modal can hold."""


class _Field(Enum):
    """The form field an attribute becomes; both directions switch on it."""

    YES_NO = "radio_buttons"
    STATIC_SELECT = "static_select"
    EXTERNAL_SELECT = "external_select"
    MULTILINE_TEXT = "multiline"
    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATETIME = "datetimepicker"


_FIELD_BY_TYPE = {
    DataType.BOOLEAN: _Field.YES_NO,
    DataType.STRING: _Field.MULTILINE_TEXT,
    DataType.INTEGER: _Field.INTEGER,
    DataType.DECIMAL: _Field.DECIMAL,
    DataType.DATETIME: _Field.DATETIME,
}


def _field(attribute: Attribute) -> _Field:
    data_type = attribute.known_type
    if data_type is None:
        return _Field.TEXT
    if data_type is DataType.LIST:
        if not attribute.options:
            return _Field.TEXT
        if len(attribute.options) > OPTIONS_MAX:
            return _Field.EXTERNAL_SELECT
        return _Field.STATIC_SELECT
    return _FIELD_BY_TYPE[data_type]


def block_id(index: int) -> str:
    """The input block of the attribute at `index` in `step.attributes`."""
    return ids.attribute_block(index)


def action_id(index: int, attribute: Attribute) -> str:
    """The action id of the attribute's element (external selects load options by it)."""
    if _field(attribute) is _Field.EXTERNAL_SELECT:
        return ids.options_action(index)
    return ids.value_action(index)


def options_attribute(step: Step, options_action_id: str) -> Attribute | None:
    """The list attribute an external select's options load is for, if any."""
    index = ids.options_index(options_action_id)
    if index is None or index >= len(step.attributes):
        return None
    attribute = step.attributes[index]
    return attribute if _field(attribute) is _Field.EXTERNAL_SELECT else None


def private_metadata(step: Step) -> str:
    """What the modal carries back to the submission: the step's id."""
    metadata = ids.private_metadata(step.step_id)
    if len(metadata) > PRIVATE_METADATA_MAX:
        raise ValueError(f"step id too long for a modal's private_metadata: {len(metadata)}")
    return metadata


def attribute_label(attribute: Attribute) -> str:
    """The attribute for people: its label, else its name, else its identifier."""
    return attribute.display_label or NO_NAME


def option_label(option: Option) -> str:
    """The option's label for people, falling back to its id."""
    for candidate in (option.label, option.id):
        if candidate.strip():
            return candidate
    return NO_NAME


def _option_object(index: int, option: Option) -> dict[str, Any]:
    # The value is the index: option ids may be longer than the 150 a value may hold.
    return {
        "text": plain_text(option_label(option), OPTION_TEXT_MAX),
        "value": str(index),
    }


def _yes_no_options() -> list[dict[str, Any]]:
    return [
        {"text": plain_text(YES, OPTION_TEXT_MAX), "value": "true"},
        {"text": plain_text(NO, OPTION_TEXT_MAX), "value": "false"},
    ]


def _element(index: int, attribute: Attribute) -> dict[str, Any]:
    field = _field(attribute)
    element: dict[str, Any] = {"action_id": action_id(index, attribute)}
    if field is _Field.YES_NO:
        element |= {"type": "radio_buttons", "options": _yes_no_options()}
    elif field is _Field.STATIC_SELECT:
        element |= {
            "type": "static_select",
            "placeholder": plain_text(CHOOSE_PLACEHOLDER, PLACEHOLDER_MAX),
            "options": [_option_object(i, o) for i, o in enumerate(attribute.options)],
        }
    elif field is _Field.EXTERNAL_SELECT:
        element |= {
            "type": "external_select",
            "placeholder": plain_text(SEARCH_PLACEHOLDER, PLACEHOLDER_MAX),
            # Slack's default of 3 would show nothing until the teammate types.
            "min_query_length": 0,
        }
    elif field is _Field.MULTILINE_TEXT:
        element |= {
            "type": "plain_text_input",
            "multiline": True,
            "max_length": PLAIN_TEXT_INPUT_MAX,
        }
    elif field is _Field.TEXT:
        element |= {"type": "plain_text_input", "max_length": PLAIN_TEXT_INPUT_MAX}
    elif field is _Field.INTEGER:
        element |= {"type": "number_input", "is_decimal_allowed": False}
    elif field is _Field.DECIMAL:
        element |= {"type": "number_input", "is_decimal_allowed": True}
    else:
        element |= {"type": "datetimepicker"}
    return element


def _hint(attribute: Attribute) -> str | None:
    if attribute.known_type is None:
        shown_type = truncate(attribute.data_type or "(none)", _DATA_TYPE_SHOWN_MAX)
        return UNKNOWN_TYPE_HINT.format(data_type=shown_type)
    if _field(attribute) is _Field.TEXT:
        return NO_OPTIONS_HINT
    return None


def _input_block(index: int, attribute: Attribute) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id(index),
        "label": plain_text(attribute_label(attribute), LABEL_MAX),
        "element": _element(index, attribute),
        # Intercom's callback needs a value for every attribute.
        "optional": False,
    }
    hint = _hint(attribute)
    if hint:
        block["hint"] = plain_text(hint, HINT_MAX)
    return block


def procedure_title(step: Step) -> str:
    """The procedure's name for people (untrusted, unescaped)."""
    name = step.procedure_name
    return name if name and name.strip() else DEFAULT_PROCEDURE


def _intro_blocks(step: Step) -> list[dict[str, Any]]:
    """What a teammate needs to decide: the procedure, what Fin asks, who Intercom assigned
    it to, and the conversation's recent messages, oldest first."""
    procedure = mrkdwn_text(procedure_title(step), _PROCEDURE_SHOWN_MAX)
    conversation = mrkdwn_text(
        CONVERSATION.format(id=step.conversation_id), _CONVERSATION_SHOWN_MAX
    )
    lines = [f"{PRIORITY} · *{procedure}*" if step.is_priority else f"*{procedure}*"]
    assigned = assignee_text(step)
    lines.append(f"{conversation} · {assigned}" if assigned else conversation)
    blocks: list[dict[str, Any]] = [_form_section(ids.block("intro"), "\n".join(lines))]
    if step.hitl_question and step.hitl_question.strip():
        question = mrkdwn_text(step.hitl_question.strip(), _QUESTION_SHOWN_MAX)
        blocks.append(_form_section(ids.block("question"), QUESTION.format(question=question)))
    if step.recent_messages:
        heading = RECENT_HEADING.format(count=len(step.recent_messages))
        blocks.append(_form_section(ids.block("recent"), heading))
        blocks += [
            _form_section(
                ids.block("recent", str(index)), message_text(message, _MESSAGE_SHOWN_MAX)
            )
            for index, message in enumerate(step.recent_messages)
        ]
    return blocks


def _form_section(block_id: str, safe_text: str) -> dict[str, Any]:
    return {"type": "section", "block_id": block_id, "text": mrkdwn(safe_text, SECTION_TEXT_MAX)}


def build_form_view(step: Step) -> dict[str, Any]:
    """The modal a teammate fills in: one required input per attribute, in order.

    Raises FormTooLarge when the attributes alone exceed a view's 100 blocks, and
    ValueError when the step id does not fit in private_metadata.
    """
    if len(step.attributes) > VIEW_BLOCKS_MAX:
        raise FormTooLarge(
            f"{len(step.attributes)} attributes do not fit in one modal ({VIEW_BLOCKS_MAX} blocks)"
        )
    inputs = [_input_block(i, a) for i, a in enumerate(step.attributes)]
    # The inputs are the answer; the intro is only context and goes first when space runs
    # out, and the optional comment goes before it.
    intro = _intro_blocks(step)[: VIEW_BLOCKS_MAX - len(inputs)]
    if len(intro) + len(inputs) < VIEW_BLOCKS_MAX:
        inputs.append(_comment_block())
    return {
        "type": "modal",
        "callback_id": ids.SUBMIT,
        "private_metadata": private_metadata(step),
        "title": plain_text(TITLE, VIEW_TITLE_MAX),
        "submit": plain_text(SUBMIT, VIEW_SUBMIT_MAX),
        "close": plain_text(CLOSE, VIEW_CLOSE_MAX),
        "blocks": intro + inputs,
    }


def _comment_block() -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": ids.COMMENT_BLOCK,
        "label": plain_text(COMMENT_LABEL, LABEL_MAX),
        "hint": plain_text(COMMENT_HINT, HINT_MAX),
        "optional": True,
        "element": {
            "type": "plain_text_input",
            "action_id": ids.COMMENT_ACTION,
            "multiline": True,
            "max_length": PLAIN_TEXT_INPUT_MAX,
        },
    }


def comment_of(state_values: dict[str, Any]) -> str | None:
    """The optional comment from a submission's `view.state.values`; None when blank."""
    block = state_values.get(ids.COMMENT_BLOCK)
    element = block.get(ids.COMMENT_ACTION) if isinstance(block, dict) else None
    value = element.get("value") if isinstance(element, dict) else None
    if not isinstance(value, str) or not value.strip():
        return None
    return storable(value.strip()[:PLAIN_TEXT_INPUT_MAX])


class _Invalid(Exception):
    """A submitted value that cannot be sent; the message is shown under the field."""


def _selected_index(element: dict[str, Any], options: tuple[Option, ...]) -> Option:
    selected = element.get("selected_option")
    if not isinstance(selected, dict):
        raise _Invalid(ERROR_CHOOSE)
    raw = selected.get("value")
    if not isinstance(raw, str) or not _INDEX_RE.fullmatch(raw):
        raise _Invalid(ERROR_STALE_OPTION)
    index = int(raw)
    if index >= len(options):
        raise _Invalid(ERROR_STALE_OPTION)
    return options[index]


def _parse_yes_no(element: dict[str, Any]) -> tuple[bool, str]:
    selected = element.get("selected_option")
    raw = selected.get("value") if isinstance(selected, dict) else None
    if raw == "true":
        return True, YES
    if raw == "false":
        return False, NO
    raise _Invalid(ERROR_YES_NO)


def _number_text(element: dict[str, Any]) -> str:
    raw = element.get("value")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise _Invalid(ERROR_MISSING)
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise _Invalid(ERROR_NUMBER)
    return str(raw).strip()


def _parse_integer(element: dict[str, Any]) -> tuple[int, str]:
    text = _number_text(element)
    if not _INTEGER_RE.fullmatch(text):
        raise _Invalid(ERROR_WHOLE_NUMBER)
    if len(text.lstrip("+-")) > _INTEGER_DIGITS_MAX:
        raise _Invalid(ERROR_TOO_LARGE)
    number = int(text)
    if abs(number) > INTEGER_LIMIT:
        raise _Invalid(ERROR_TOO_LARGE)
    return number, str(number)


def _parse_decimal(element: dict[str, Any]) -> tuple[float, str]:
    text = _number_text(element)
    if not _DECIMAL_RE.fullmatch(text):
        raise _Invalid(ERROR_NUMBER)
    number = float(text)
    if not math.isfinite(number):
        raise _Invalid(ERROR_TOO_LARGE)
    # Show what the teammate typed ("3.50"), send the number.
    return number, text


def _parse_datetime(element: dict[str, Any]) -> tuple[str, str]:
    raw = element.get("selected_date_time")
    if (
        isinstance(raw, str)
        and _INTEGER_RE.fullmatch(raw.strip())
        and len(raw.strip()) <= _INTEGER_DIGITS_MAX
    ):
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= _LATEST_DATETIME:
        raise _Invalid(ERROR_DATETIME)
    moment = datetime.fromtimestamp(raw, UTC)
    # ISO 8601 in UTC, one of the two forms Intercom documents for a datetime.
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ"), moment.strftime("%Y-%m-%d %H:%M UTC")


def _parse_text(element: dict[str, Any]) -> tuple[str, str]:
    raw = element.get("value")
    if not isinstance(raw, str) or not raw.strip():
        raise _Invalid(ERROR_MISSING)
    # The same limit as the form's input, whatever the client sent.
    if len(raw) > PLAIN_TEXT_INPUT_MAX:
        raise _Invalid(ERROR_TOO_LONG.format(limit=PLAIN_TEXT_INPUT_MAX))
    text = storable(raw)
    return text, text


def _parse_value(attribute: Attribute, element: dict[str, Any]) -> AnswerValue:
    field = _field(attribute)
    value: bool | int | float | str
    if field is _Field.YES_NO:
        value, display = _parse_yes_no(element)
    elif field in (_Field.STATIC_SELECT, _Field.EXTERNAL_SELECT):
        option = _selected_index(element, attribute.options)
        value, display = option.id, option_label(option)
    elif field is _Field.INTEGER:
        value, display = _parse_integer(element)
    elif field is _Field.DECIMAL:
        value, display = _parse_decimal(element)
    elif field is _Field.DATETIME:
        value, display = _parse_datetime(element)
    else:
        value, display = _parse_text(element)
    return AnswerValue(identifier=attribute.identifier, value=value, display=display)


def parse_submission(
    step: Step, state_values: dict[str, Any]
) -> tuple[tuple[AnswerValue, ...], dict[str, str]]:
    """Typed values in attribute order, and errors keyed by block id.

    `state_values` is Slack's `view.state.values`. When the errors are not empty the
    values are meaningless: answer the submission with `response_action="errors"`.
    """
    values: list[AnswerValue] = []
    errors: dict[str, str] = {}
    for index, attribute in enumerate(step.attributes):
        block = state_values.get(block_id(index))
        element = block.get(action_id(index, attribute)) if isinstance(block, dict) else None
        if not isinstance(element, dict):
            errors[block_id(index)] = ERROR_MISSING
            continue
        try:
            values.append(_parse_value(attribute, element))
        except _Invalid as exc:
            errors[block_id(index)] = str(exc)
    return tuple(values), errors


def boolean_answer(step: Step, value: bool) -> tuple[AnswerValue, ...]:
    """The whole answer for a one-click Yes/No on a single-boolean step."""
    if not step.single_boolean:
        raise ValueError(f"step {step.step_id} is not a single yes/no question")
    attribute = step.attributes[0]
    return (
        AnswerValue(identifier=attribute.identifier, value=value, display=YES if value else NO),
    )


def options_for_query(attribute: Attribute, query: str) -> list[dict[str, Any]]:
    """Up to 100 options whose label contains `query`, for an external select's load."""
    needle = query.strip().casefold()
    matches: list[dict[str, Any]] = []
    for index, option in enumerate(attribute.options):
        if needle in option_label(option).casefold():
            matches.append(_option_object(index, option))
            if len(matches) == OPTIONS_MAX:
                break
    return matches
