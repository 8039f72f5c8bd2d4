"""Every id the bot puts on the wire in Slack, and the helpers that read them back: the
builders, the listeners, the fakes and the tests all use these, so no id is spelled twice.

Every `action_id` and `callback_id` starts with `hitl.`; the Answer button's with
`hitl.open` (docs/CONTRACT.md).
"""

from __future__ import annotations

import json
import re
from typing import Any

PREFIX = "hitl."

# --- Buttons on a step's channel message and in the Home tab ---------------------------
OPEN = "hitl.open"  # the Answer (or Open form) button: opens the form
OPEN_FROM_HOME = "hitl.open.home"
OPEN_PATTERN = re.compile(r"^hitl\.open")
YES = "hitl.answer.yes"  # one-click answers of a single yes/no step
NO = "hitl.answer.no"
# Working a step (docs/CONTRACT.md names these prefixes).
CLAIM = "hitl.claim"  # "I'm on it"
RELEASE = "hitl.release"  # the claimer lets go
TAKEOVER = "hitl.takeover"  # someone else takes the step over (offered privately)
UNDO = "hitl.undo"  # the answerer takes the answer back in its undo window

# --- The form (a modal) -----------------------------------------------------------------
SUBMIT = "hitl.submit"
COMMENT_BLOCK = "hitl.comment"
COMMENT_ACTION = "hitl.comment.value"
_ATTRIBUTE_BLOCK = "hitl.attr."
_VALUE_ACTION = "hitl.value."
_OPTIONS_ACTION = "hitl.options."
# External selects load their options by this action id (an options load).
OPTIONS_PATTERN = re.compile(r"^hitl\.options\.")
_INDEX = re.compile(r"[0-9]{1,6}")

# --- Other views --------------------------------------------------------------------------
HOME = "hitl.home"
CLOSED = "hitl.closed"  # shown in place of the form when the step closed meanwhile
NOTICE = "hitl.notice"  # a modal saying why there is no form


def attribute_block(index: int) -> str:
    """The input block of the attribute at `index` in `step.attributes`."""
    return f"{_ATTRIBUTE_BLOCK}{index}"


def value_action(index: int) -> str:
    return f"{_VALUE_ACTION}{index}"


def options_action(index: int) -> str:
    """The action id of an external select, whose options Slack loads from the bot."""
    return f"{_OPTIONS_ACTION}{index}"


def options_index(action_id: str) -> int | None:
    """The attribute index an options load is for; None when `action_id` is not one."""
    raw = action_id.removeprefix(_OPTIONS_ACTION)
    if raw == action_id or not _INDEX.fullmatch(raw):
        return None
    return int(raw)


def block(kind: str, state: str | None = None) -> str:
    """A message or view block's id: `hitl.<kind>[.<state>]` (a new state, a new id, so
    `chat.update` replaces blocks instead of merging them)."""
    return f"{PREFIX}{kind}" if state is None else f"{PREFIX}{kind}.{state}"


def private_metadata(step_id: str) -> str:
    """What the form carries back to its submission: the step's id."""
    return json.dumps({"step_id": step_id}, separators=(",", ":"))


def step_id_of_view(view: dict[str, Any]) -> str | None:
    """The step id `private_metadata` put in a view, or None if the view is not ours."""
    try:
        decoded = json.loads(view.get("private_metadata") or "")
    except ValueError:
        return None
    step_id = decoded.get("step_id") if isinstance(decoded, dict) else None
    return step_id if isinstance(step_id, str) and step_id else None


def step_id_from_metadata(metadata: str) -> str | None:
    return step_id_of_view({"private_metadata": metadata})
