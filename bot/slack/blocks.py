"""A step's channel message in each state (the lists of steps are bot/slack/lists.py)."""

from __future__ import annotations

from typing import Any

from bot.domain import Answer, Attribute, DataType, Step, StepRecord, StepState
from bot.intercom.links import inbox_link
from bot.lifecycle import Stage
from bot.slack import ids
from bot.slack.conversation import assignee_text, message_text
from bot.slack.form import attribute_label, procedure_title
from bot.slack.kit import bullet_list, button, context, link, section
from bot.slack.mentions import mention
from bot.slack.text import (
    BUTTON_VALUE_MAX,
    HEADER_TEXT_MAX,
    SECTION_TEXT_MAX,
    mrkdwn_text,
    plain_text,
    slack_date,
    slack_time,
)

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
CONVERSATION = "Conversation {id}"
EXPIRES = "Expires {date}"
DEADLINE_PASSED = "Deadline passed {date}"
CLAIM_BUTTON = "I'm on it"
RELEASE_BUTTON = "Release"
UNDO_BUTTON = "Undo"
ON_IT = "👀 {who} is on it since {since} (until {until})."
CLAIM_RAN_OUT = "⌛ {who}'s claim ran out {when}; the step is free again."
LAST_CALL_MARK = "⏳ *Expires {when}* — last call."
SENDING_IN = "⏳ {who}'s answer goes to Fin {when}; until then {who} can Undo it."
PRECEDENT_HEADING = "📊 *Earlier answers to this procedure*"
PRECEDENT_YES = "*{label}*: Yes in {yes} of the last {of}"
PRECEDENT_TOP = "*{label}*: {options} (last {of})"
PRECEDENT_OPTION = "{label} ({count})"
PRECEDENT_MEDIAN = "*{label}*: median {median} (last {of})"
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

# Budgets for untrusted pieces inside one text, so one long piece cannot crowd out the rest.
_NAME_SHOWN_MAX = 200
_DISPLAY_SHOWN_MAX = 1000
_ID_SHOWN_MAX = 100
_DETAIL_SHOWN_MAX = 1000
_QUESTION_SHOWN_MAX = 2500
_QUESTION_IN_LIST_MAX = 200
_LATEST_SHOWN_MAX = 700
_REASON_SHOWN_MAX = 500


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
        "block_id": ids.block("header", state),
        "text": plain_text(template.format(procedure=procedure_title(step)), HEADER_TEXT_MAX),
    }


def _question(step: Step, state: StepState) -> list[dict[str, Any]]:
    if not step.hitl_question or not step.hitl_question.strip():
        return []
    text = QUESTION.format(question=mrkdwn_text(step.hitl_question.strip(), _QUESTION_SHOWN_MAX))
    return [section(ids.block("question", state), text)]


def _latest_from_customer(step: Step, state: StepState) -> list[dict[str, Any]]:
    message = step.latest_customer_message()
    if message is None:
        return []
    text = LATEST_FROM_CUSTOMER.format(message=message_text(message, _LATEST_SHOWN_MAX))
    return [section(ids.block("latest", state), text)]


def _unanswerable(step: Step, state: StepState) -> dict[str, Any]:
    url = inbox_link(step)
    where = UNANSWERABLE_LINK.format(link=link(url, OPEN_IN_INTERCOM)) if url else ""
    reason = mrkdwn_text(step.unanswerable or "", _REASON_SHOWN_MAX)
    return section(
        ids.block("unanswerable", state), UNANSWERABLE.format(reason=reason, where=where)
    )


def _asks(step: Step, state: StepState) -> dict[str, Any]:
    items = [
        f"*{mrkdwn_text(attribute_label(a), _NAME_SHOWN_MAX)}* — {_type_word(a)}"
        for a in step.attributes
    ]
    return section(ids.block("asks", state), bullet_list(ASKS_HEADING, items, SECTION_TEXT_MAX))


def _conversation(step: Step) -> str:
    label = mrkdwn_text(CONVERSATION.format(id=step.conversation_id), _ID_SHOWN_MAX)
    url = inbox_link(step)
    return link(url, label) if url else label


def _about(record: StepRecord, now: float, *, with_deadline: bool) -> dict[str, Any]:
    step = record.step
    assigned = assignee_text(step)
    parts = [assigned] if assigned else []
    parts.append(_conversation(step))
    expires_at = step.expires_at
    if with_deadline and expires_at is not None:
        template = EXPIRES if expires_at > now else DEADLINE_PASSED
        parts.append(template.format(date=slack_date(expires_at)))
    return context(ids.block("about", record.state), " · ".join(parts))


def _actions(record: StepRecord, now: float) -> dict[str, Any]:
    step = record.step
    if len(step.step_id) > BUTTON_VALUE_MAX:
        raise ValueError(f"step id too long for a button value: {len(step.step_id)}")
    if step.single_boolean:
        elements = [
            button(YES_BUTTON, ids.YES, step.step_id, "primary"),
            button(NO_BUTTON, ids.NO, step.step_id, "danger"),
            button(OPEN_FORM_BUTTON, ids.OPEN, step.step_id, None),
        ]
    else:
        elements = [button(ANSWER_BUTTON, ids.OPEN, step.step_id, "primary")]
    claimed = record.claimed_now(now)
    elements.append(
        button(RELEASE_BUTTON, ids.RELEASE, step.step_id)
        if claimed
        else button(CLAIM_BUTTON, ids.CLAIM, step.step_id)
    )
    phase = f"{record.state}.claimed" if claimed else str(record.state)
    return {"type": "actions", "block_id": ids.block("actions", phase), "elements": elements}


def _working(record: StepRecord, now: float) -> list[dict[str, Any]]:
    """Who is on the step (or whose claim ran out), and the last call's mark."""
    lines = []
    if record.claimed_by is not None and record.claimed_at is not None:
        who = mention(record.claimed_by)
        if record.claimed_now(now):
            until = slack_time(record.claim_until or now)
            lines.append(ON_IT.format(who=who, since=slack_time(record.claimed_at), until=until))
        else:
            lines.append(CLAIM_RAN_OUT.format(who=who, when=slack_time(record.claim_until or now)))
    times_out = record.step.expires_at
    if times_out is not None and record.reminders_sent >= Stage.LAST_CALL:
        lines.append(LAST_CALL_MARK.format(when=slack_date(times_out)))
    if not lines:
        return []
    return [context(ids.block("working", str(record.state)), "\n".join(lines))]


def _precedent(record: StepRecord) -> list[dict[str, Any]]:
    if not record.precedent:
        return []
    lines = []
    for line in record.precedent:
        label = mrkdwn_text(line.label, _NAME_SHOWN_MAX)
        if line.yes is not None:
            lines.append(PRECEDENT_YES.format(label=label, yes=line.yes, of=line.of))
        elif line.top:
            options = ", ".join(
                PRECEDENT_OPTION.format(label=mrkdwn_text(name, _NAME_SHOWN_MAX), count=count)
                for name, count in line.top
            )
            lines.append(PRECEDENT_TOP.format(label=label, options=options, of=line.of))
        elif line.median is not None:
            median = f"{line.median:g}"
            lines.append(PRECEDENT_MEDIAN.format(label=label, median=median, of=line.of))
    text = bullet_list(PRECEDENT_HEADING, lines, SECTION_TEXT_MAX)
    return [section(ids.block("precedent", str(record.state)), text)]


def _sending(record: StepRecord, now: float) -> list[dict[str, Any]]:
    """While the answer waits out its undo window: when it goes, and Undo."""
    answer = record.answer
    who = mention(answer.user_id) if answer else None
    if answer is None or who is None or record.send_at is None or record.send_at <= now:
        return [
            context(
                ids.block("status", str(record.state)),
                SENDING.format(who=who) if who else SENDING_NOBODY,
            )
        ]
    text = SENDING_IN.format(who=who, when=slack_time(record.send_at, seconds=True))
    undo = button(UNDO_BUTTON, ids.UNDO, record.step.step_id, "danger")
    return [
        section(ids.block("answer", "waiting"), _answered_text(record.step, answer)),
        context(ids.block("status", "waiting"), text),
        {"type": "actions", "block_id": ids.block("actions", "waiting"), "elements": [undo]},
    ]


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
    return bullet_list(heading, items, SECTION_TEXT_MAX)


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
            *_precedent(record),
            _asks(step, state),
            *_working(record, now),
            _about(record, now, with_deadline=True),
        ]
        if step.answerable:
            blocks.append(_actions(record, now))
    elif state is StepState.SUBMITTED:
        blocks += [
            _asks(step, state),
            _about(record, now, with_deadline=True),
            *_sending(record, now),
        ]
    else:
        blocks += [
            section(ids.block("outcome", state), _outcome_text(record)),
            _about(record, now, with_deadline=False),
        ]
    return {"text": _fallback(record), "blocks": blocks}
