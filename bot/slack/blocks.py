"""Block Kit messages: a step's channel message in each state, the `/hitl` list and stats."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Sequence
from typing import Any

from bot.domain import Answer, Attribute, DataType, Step, StepRecord, StepState
from bot.intercom.links import inbox_link
from bot.slack.conversation import assignee_text, message_text
from bot.slack.form import attribute_label, procedure_title
from bot.slack.mentions import mention
from bot.slack.text import (
    BUTTON_TEXT_MAX,
    BUTTON_VALUE_MAX,
    CONTEXT_TEXT_MAX,
    HEADER_TEXT_MAX,
    SECTION_TEXT_MAX,
    escape_mrkdwn,
    mrkdwn,
    mrkdwn_text,
    plain_text,
    slack_date,
    truncate,
)
from bot.stats import ProcedureStats

OPEN_ACTION_ID = "hitl.open"
YES_ACTION_ID = "hitl.answer.yes"
NO_ACTION_ID = "hitl.answer.no"

# User-facing strings of the messages. `{…}` fields are filled with escaped text.
HEADER = "🙋 {procedure}"
HEADER_PRIORITY = "🔴 Priority · {procedure}"
PRIORITY_MARK = "🔴 Priority"
QUESTION = "*Fin asks:* {question}"
LATEST_FROM_CUSTOMER = "*Latest from the customer*\n{message}"
UNANSWERABLE = (
    "⚠️ *This step can't be answered from Slack:* {reason}. Nothing will be sent from here; "
    "answer it in Intercom{where}."
)
UNANSWERABLE_LINK = ": {link}"
OPEN_IN_INTERCOM = "open the conversation"
ANSWER_IN_INTERCOM = "Answer in Intercom"
FALLBACK_BY_STATE = {
    StepState.RECEIVED: "🙋 Fin needs a teammate: {procedure}",
    StepState.POSTED: "🙋 Fin needs a teammate: {procedure}",
    StepState.SUBMITTED: "⏳ Sending an answer to Fin: {procedure}",
    StepState.ANSWERED: "✅ Answered: {procedure}",
    StepState.EXPIRED: "⌛ Expired: {procedure}",
    StepState.FULFILLED_ELSEWHERE: "↪️ Already answered elsewhere: {procedure}",
    StepState.FAILED: "❌ Not delivered to Fin: {procedure}",
}
ASKS_HEADING = "*To answer, fill in*"
MORE_ITEMS = "• …and {count} more"
CONVERSATION = "Conversation {id}"
EXPIRES = "Expires {date}"
DEADLINE_PASSED = "Deadline passed {date}"
ANSWER_BUTTON = "Answer"
OPEN_FORM_BUTTON = "Open form"
YES_BUTTON = "Yes"
NO_BUTTON = "No"
SENDING = "⏳ Sending {who}'s answer to Fin…"
SENDING_NOBODY = "⏳ Sending the answer to Fin…"
ANSWERED_BY = "✅ Answered by {who}"
ANSWERED = "✅ Answered"
EXPIRED = "⌛ Expired — nobody answered before Intercom's deadline. Nothing was sent to Fin."
FULFILLED_ELSEWHERE = (
    "↪️ Already answered elsewhere (Intercom had an answer for this step), "
    "so {who}'s answer was not used."
)
FULFILLED_ELSEWHERE_NOBODY = "↪️ Already answered elsewhere (Intercom had an answer for this step)."
FAILED = "❌ Not delivered to Fin: {detail}"
FAILED_NO_DETAIL = "❌ Not delivered to Fin."
NOTHING_PENDING = "Nothing pending 🎉"
NOTHING_FOR_YOU = "Nothing waiting for you 🎉"
FOR_OTHERS_ONE = "1 step waiting for other teams"
FOR_OTHERS_MANY = "{count} steps waiting for other teams"
PENDING_ONE = "1 step waiting"
PENDING_MANY = "{count} steps waiting"
PENDING_LINE = "{conversation} · waiting {age}"
PENDING_UNANSWERABLE = "⚠️ can't be answered from Slack"
OPEN_REQUEST = "Open request"
MORE_NOT_SHOWN = "…and {count} more not shown"
AGE_UNDER_A_MINUTE = "under 1 min"
AGE_MINUTES = "{count} min"
AGE_HOURS = "{count} h"
AGE_DAYS = "{count} d"
TYPE_WORDS = {
    DataType.STRING: "text",
    DataType.INTEGER: "whole number",
    DataType.DECIMAL: "number",
    DataType.BOOLEAN: "yes / no",
    DataType.DATETIME: "date and time",
}
LIST_ONE = "one option"
LIST_MANY = "one of {count} options"
UNKNOWN_TYPE_WORD = "text"

STATS_HEADING = "*Last 7 days, per procedure*"
STATS_NONE = "No steps answered or expired in the last 7 days."
STATS_LINE = "*{procedure}*\n{answered} answered · {expired} expired · time to answer: {times}"
STATS_TIMES = "median {median}, p90 {p90}"
STATS_NO_TIMES = "none answered"
STATS_UNNAMED = "(no procedure name)"
STATS_MORE = "…and {count} more procedures"
# One heading, the rows, and a "more" line stay well within a message's 50 blocks.
STATS_SHOWN_MAX = 45

HOME_PENDING_HEADER = "Waiting for a teammate"
HOME_MINE_HEADER = "Answered by you recently"
HOME_NOTHING_PENDING = "Nothing pending 🎉"
NOTHING_FOR_YOU = "Nothing waiting for you 🎉"
FOR_OTHERS_ONE = "1 step waiting for other teams"
FOR_OTHERS_MANY = "{count} steps waiting for other teams"
HOME_NOTHING_MINE = "You haven't answered any steps yet."
HOME_MINE_LINE = "*{procedure}* · {conversation} · {outcome}"
HOME_OUTCOMES = {
    StepState.SUBMITTED: "⏳ sending to Fin",
    StepState.ANSWERED: "✅ answered",
    StepState.EXPIRED: "⌛ expired",
    StepState.FULFILLED_ELSEWHERE: "↪️ answered elsewhere",
    StepState.FAILED: "❌ not delivered",
}
HOME_OPEN_ACTION_ID = "hitl.open.home"
HOME_PENDING_SHOWN_MAX = 20
HOME_MINE_SHOWN_MAX = 10

PENDING_SHOWN_MAX = 20
BLOCK_KIT_BUILDER = "https://app.slack.com/block-kit-builder/#"

# Budgets for untrusted pieces inside one text, so one long piece cannot crowd out the rest.
_NAME_SHOWN_MAX = 200
_DISPLAY_SHOWN_MAX = 1000
_ID_SHOWN_MAX = 100
_DETAIL_SHOWN_MAX = 1000
_LINE_SHOWN_MAX = 600
_QUESTION_SHOWN_MAX = 2500
_QUESTION_IN_LIST_MAX = 200
_LATEST_SHOWN_MAX = 700
_REASON_SHOWN_MAX = 500


def _link(url: str, safe_label: str) -> str:
    # The URL comes from our own code, but `|` or `>` in it would still end the token.
    safe_url = escape_mrkdwn(url).replace("|", "%7C")
    return f"<{safe_url}|{safe_label}>"


def _bullet_list(heading: str, items: Sequence[str], limit: int) -> str:
    """`heading` and one bullet per item, ending in "…and N more" when they do not fit."""
    text = heading
    reserve = len(MORE_ITEMS.format(count=len(items))) + 1
    for shown, item in enumerate(items):
        line = f"\n• {item}"
        is_last = shown == len(items) - 1
        if len(text) + len(line) + (0 if is_last else reserve) > limit:
            return f"{text}\n{MORE_ITEMS.format(count=len(items) - shown)}"
        text += line
    return text


def _type_word(attribute: Attribute) -> str:
    data_type = attribute.known_type
    if data_type is DataType.LIST:
        count = len(attribute.options)
        if count == 0:
            return UNKNOWN_TYPE_WORD
        return LIST_ONE if count == 1 else LIST_MANY.format(count=count)
    if data_type is None:
        return UNKNOWN_TYPE_WORD
    return TYPE_WORDS[data_type]


def _header(step: Step, state: StepState) -> dict[str, Any]:
    template = HEADER_PRIORITY if step.is_priority else HEADER
    return {
        "type": "header",
        "block_id": f"hitl.header.{state}",
        "text": plain_text(template.format(procedure=procedure_title(step)), HEADER_TEXT_MAX),
    }


def _section(block_id: str, safe_text: str) -> dict[str, Any]:
    return {"type": "section", "block_id": block_id, "text": mrkdwn(safe_text, SECTION_TEXT_MAX)}


def _context(block_id: str, safe_text: str) -> dict[str, Any]:
    return {
        "type": "context",
        "block_id": block_id,
        "elements": [mrkdwn(safe_text, CONTEXT_TEXT_MAX)],
    }


def _question(step: Step, state: StepState) -> list[dict[str, Any]]:
    if not step.hitl_question or not step.hitl_question.strip():
        return []
    text = QUESTION.format(question=mrkdwn_text(step.hitl_question.strip(), _QUESTION_SHOWN_MAX))
    return [_section(f"hitl.question.{state}", text)]


def _latest_from_customer(step: Step, state: StepState) -> list[dict[str, Any]]:
    message = step.latest_customer_message()
    if message is None:
        return []
    text = LATEST_FROM_CUSTOMER.format(message=message_text(message, _LATEST_SHOWN_MAX))
    return [_section(f"hitl.latest.{state}", text)]


def _unanswerable(step: Step, state: StepState) -> dict[str, Any]:
    link = inbox_link(step)
    where = UNANSWERABLE_LINK.format(link=_link(link, OPEN_IN_INTERCOM)) if link else ""
    reason = mrkdwn_text(step.unanswerable or "", _REASON_SHOWN_MAX)
    return _section(f"hitl.unanswerable.{state}", UNANSWERABLE.format(reason=reason, where=where))


def _asks(step: Step, state: StepState) -> dict[str, Any]:
    items = [
        f"*{mrkdwn_text(attribute_label(a), _NAME_SHOWN_MAX)}* — {_type_word(a)}"
        for a in step.attributes
    ]
    return _section(f"hitl.asks.{state}", _bullet_list(ASKS_HEADING, items, SECTION_TEXT_MAX))


def _conversation(step: Step) -> str:
    label = mrkdwn_text(CONVERSATION.format(id=step.conversation_id), _ID_SHOWN_MAX)
    link = inbox_link(step)
    return _link(link, label) if link else label


def _about(record: StepRecord, now: float, *, with_deadline: bool) -> dict[str, Any]:
    step = record.step
    assigned = assignee_text(step)
    parts = [assigned] if assigned else []
    parts.append(_conversation(step))
    expires_at = step.expires_at
    if with_deadline and expires_at is not None:
        template = EXPIRES if expires_at > now else DEADLINE_PASSED
        parts.append(template.format(date=slack_date(expires_at)))
    return _context(f"hitl.about.{record.state}", " · ".join(parts))


def _button(text: str, action_id: str, step_id: str, style: str | None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": plain_text(text, BUTTON_TEXT_MAX),
        "value": step_id,
    }
    if style:
        button["style"] = style
    return button


def _actions(record: StepRecord) -> dict[str, Any]:
    step = record.step
    if len(step.step_id) > BUTTON_VALUE_MAX:
        raise ValueError(f"step id too long for a button value: {len(step.step_id)}")
    if step.single_boolean:
        elements = [
            _button(YES_BUTTON, YES_ACTION_ID, step.step_id, "primary"),
            _button(NO_BUTTON, NO_ACTION_ID, step.step_id, "danger"),
            _button(OPEN_FORM_BUTTON, OPEN_ACTION_ID, step.step_id, None),
        ]
    else:
        elements = [_button(ANSWER_BUTTON, OPEN_ACTION_ID, step.step_id, "primary")]
    return {"type": "actions", "block_id": f"hitl.actions.{record.state}", "elements": elements}


def _answered_text(step: Step, answer: Answer | None) -> str:
    if answer is None:
        return ANSWERED
    labels = {a.identifier: attribute_label(a) for a in step.attributes}
    items = [
        f"*{mrkdwn_text(labels.get(v.identifier, v.identifier), _NAME_SHOWN_MAX)}*: "
        f"{mrkdwn_text(v.display, _DISPLAY_SHOWN_MAX)}"
        for v in answer.values
    ]
    heading = ANSWERED_BY.format(who=mention(answer.user_id))
    return _bullet_list(heading, items, SECTION_TEXT_MAX)


def _outcome_text(record: StepRecord) -> str:
    """The settled state's line: who answered, or why nothing (more) happens."""
    answer = record.answer
    detail = record.outcome_detail.strip() if record.outcome_detail else ""
    safe_detail = mrkdwn_text(detail, _DETAIL_SHOWN_MAX)
    if record.state is StepState.ANSWERED:
        text = _answered_text(record.step, answer)
        # e.g. a test step's "not sent to Intercom": worth saying under the answer.
        return f"{text}\n_{safe_detail}_" if detail else text
    if record.state is StepState.EXPIRED:
        return safe_detail if detail else EXPIRED
    if record.state is StepState.FULFILLED_ELSEWHERE:
        if detail:
            # e.g. our own earlier attempt may have landed: never claim it was not used.
            return f"↪️ {safe_detail}"
        if answer is None:
            return FULFILLED_ELSEWHERE_NOBODY
        return FULFILLED_ELSEWHERE.format(who=mention(answer.user_id))
    return FAILED.format(detail=safe_detail) if detail else FAILED_NO_DETAIL


def _fallback(record: StepRecord) -> str:
    step = record.step
    template = FALLBACK_BY_STATE[record.state]
    procedure = mrkdwn_text(procedure_title(step), _NAME_SHOWN_MAX)
    # Notifications render the fallback as mrkdwn: it is built from escaped pieces too,
    # and the budgets keep it far below FALLBACK_TEXT_MAX.
    text = template.format(procedure=procedure)
    if step.is_priority:
        text = f"{PRIORITY_MARK} · {text}"
    if record.state.is_open and step.hitl_question and step.hitl_question.strip():
        text += f" — {mrkdwn_text(step.hitl_question.strip(), _QUESTION_IN_LIST_MAX)}"
    return text


def step_message(record: StepRecord, *, now: float) -> dict[str, Any]:
    """The channel message for a step in its current state: `{"text", "blocks"}`.

    It leads with what Fin asks, titled by the procedure; every state gets new block ids,
    so `chat.update` replaces rather than merges.
    """
    step, state = record.step, record.state
    blocks = [_header(step, state), *_question(step, state)]
    if state.is_open:
        if not step.answerable:
            blocks.append(_unanswerable(step, state))
        blocks += [
            *_latest_from_customer(step, state),
            _asks(step, state),
            _about(record, now, with_deadline=True),
        ]
        if step.answerable:
            blocks.append(_actions(record))
    elif state is StepState.SUBMITTED:
        who = mention(record.answer.user_id) if record.answer else None
        sending = SENDING.format(who=who) if who else SENDING_NOBODY
        blocks += [
            _asks(step, state),
            _about(record, now, with_deadline=True),
            _context(f"hitl.status.{state}", sending),
        ]
    else:
        blocks += [
            _section(f"hitl.outcome.{state}", _outcome_text(record)),
            _about(record, now, with_deadline=False),
        ]
    return {"text": _fallback(record), "blocks": blocks}


def _age(seconds: float) -> str:
    minutes = max(0, int(seconds // 60))
    if minutes < 60:
        return AGE_MINUTES.format(count=minutes) if minutes else AGE_UNDER_A_MINUTE
    hours = minutes // 60
    if hours < 24:
        return AGE_HOURS.format(count=hours)
    return AGE_DAYS.format(count=hours // 24)


def _pending_line(record: StepRecord, permalink: str | None, now: float) -> str:
    step = record.step
    procedure = mrkdwn_text(procedure_title(step), _NAME_SHOWN_MAX)
    title = f"{PRIORITY_MARK} · *{procedure}*" if step.is_priority else f"*{procedure}*"
    about = mrkdwn_text(
        PENDING_LINE.format(
            conversation=CONVERSATION.format(id=truncate(step.conversation_id, _ID_SHOWN_MAX)),
            age=_age(now - record.received_at),
        ),
        _LINE_SHOWN_MAX,
    )
    line = title
    if step.hitl_question and step.hitl_question.strip():
        line += f"\n{mrkdwn_text(step.hitl_question.strip(), _QUESTION_IN_LIST_MAX)}"
    line += f"\n{about}"
    if permalink:
        line += f" · {_link(permalink, OPEN_REQUEST)}"
    if not step.answerable:
        link = inbox_link(step)
        line += f" · {PENDING_UNANSWERABLE}"
        if link:
            line += f": {_link(link, ANSWER_IN_INTERCOM)}"
    return line


def _for_others(count: int) -> str:
    return FOR_OTHERS_ONE if count == 1 else FOR_OTHERS_MANY.format(count=count)


def pending_list(
    records: list[StepRecord],
    *,
    total: int,
    permalinks: dict[str, str],
    now: float,
    for_others: int = 0,
) -> dict[str, Any]:
    """The `/hitl` answer: up to 20 open steps the viewer may answer, newest first as
    given, how many more, and how many wait for other teams."""
    if total <= 0 and not records:
        text = NOTHING_PENDING if not for_others else NOTHING_FOR_YOU
        blocks = [_section("hitl.pending.none", text)]
        if for_others:
            blocks.append(_context("hitl.pending.others", _for_others(for_others)))
        return {"text": text, "blocks": blocks}
    shown = records[:PENDING_SHOWN_MAX]
    total = max(total, len(records))
    summary = PENDING_ONE if total == 1 else PENDING_MANY.format(count=total)
    blocks = [_section("hitl.pending.summary", f"*{summary}*")]
    blocks += [
        _section(
            f"hitl.pending.{index}",
            _pending_line(record, permalinks.get(record.step.step_id), now),
        )
        for index, record in enumerate(shown)
    ]
    if total > len(shown):
        blocks.append(
            _context("hitl.pending.more", MORE_NOT_SHOWN.format(count=total - len(shown)))
        )
    if for_others:
        blocks.append(_context("hitl.pending.others", _for_others(for_others)))
    return {"text": summary, "blocks": blocks}


def duration(seconds: float) -> str:
    """A short human duration: `45 s`, `12 min`, `3.5 h`, `2.1 d`."""
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def stats_message(rows: Sequence[ProcedureStats]) -> dict[str, Any]:
    """The `/hitl stats` answer: one section per procedure, busiest first."""
    if not rows:
        return {"text": STATS_NONE, "blocks": [_section("hitl.stats.none", STATS_NONE)]}
    blocks = [_section("hitl.stats.heading", STATS_HEADING)]
    for index, row in enumerate(rows[:STATS_SHOWN_MAX]):
        times = (
            STATS_TIMES.format(median=duration(row.median_seconds), p90=duration(row.p90_seconds))
            if row.median_seconds is not None and row.p90_seconds is not None
            else STATS_NO_TIMES
        )
        line = STATS_LINE.format(
            procedure=mrkdwn_text(row.procedure or STATS_UNNAMED, _NAME_SHOWN_MAX),
            answered=row.answered,
            expired=row.expired,
            times=times,
        )
        blocks.append(_section(f"hitl.stats.{index}", line))
    if len(rows) > STATS_SHOWN_MAX:
        more = STATS_MORE.format(count=len(rows) - STATS_SHOWN_MAX)
        blocks.append(_context("hitl.stats.more", more))
    return {"text": STATS_HEADING.strip("*"), "blocks": blocks}


def home_view(
    pending: Sequence[StepRecord],
    *,
    pending_total: int,
    mine: Sequence[StepRecord],
    now: float,
    for_others: int = 0,
) -> dict[str, Any]:
    """The App Home tab: open steps newest first, each with an Answer button, then the
    viewer's recent answers. At most ~35 blocks, well within a view's 100."""
    blocks: list[dict[str, Any]] = [
        _header_text("hitl.home.pending", HOME_PENDING_HEADER),
    ]
    shown = [r for r in pending if len(r.step.step_id) <= BUTTON_VALUE_MAX]
    shown = shown[:HOME_PENDING_SHOWN_MAX]
    if not shown:
        nothing = NOTHING_FOR_YOU if for_others else HOME_NOTHING_PENDING
        blocks.append(_section("hitl.home.none", nothing))
    for index, record in enumerate(shown):
        block = _section(f"hitl.home.pending.{index}", _pending_line(record, record.permalink, now))
        if record.step.answerable:
            block["accessory"] = _button(
                ANSWER_BUTTON, HOME_OPEN_ACTION_ID, record.step.step_id, "primary"
            )
        blocks.append(block)
    total = max(pending_total, len(shown))
    if total > len(shown):
        blocks.append(_context("hitl.home.more", MORE_NOT_SHOWN.format(count=total - len(shown))))
    if for_others:
        blocks.append(_context("hitl.home.others", _for_others(for_others)))
    blocks += [
        {"type": "divider", "block_id": "hitl.home.divider"},
        _header_text("hitl.home.mine", HOME_MINE_HEADER),
    ]
    if not mine:
        blocks.append(_context("hitl.home.mine.none", HOME_NOTHING_MINE))
    for index, record in enumerate(mine[:HOME_MINE_SHOWN_MAX]):
        line = HOME_MINE_LINE.format(
            procedure=mrkdwn_text(procedure_title(record.step), _NAME_SHOWN_MAX),
            conversation=mrkdwn_text(
                CONVERSATION.format(id=record.step.conversation_id), _ID_SHOWN_MAX
            ),
            outcome=HOME_OUTCOMES.get(record.state, record.state.value),
        )
        blocks.append(_section(f"hitl.home.mine.{index}", line))
    return {"type": "home", "callback_id": "hitl.home", "blocks": blocks}


def _header_text(block_id: str, text: str) -> dict[str, Any]:
    return {"type": "header", "block_id": block_id, "text": plain_text(text, HEADER_TEXT_MAX)}


def block_kit_builder_url(payload: dict[str, Any]) -> str:
    """A Block Kit Builder link previewing `{"blocks": [...]}` or a whole view."""
    return BLOCK_KIT_BUILDER + urllib.parse.quote(json.dumps(payload, separators=(",", ":")))
