"""The short thread replies under a step's message: how it settled, reminders, what
happened to it (a take-over, an answer taken back, an escalation), and the escalation DM."""

from __future__ import annotations

import json

from bot.domain import StepRecord, StepState
from bot.slack.form import attribute_label
from bot.slack.mentions import mention
from bot.slack.text import duration, escape_mrkdwn, mrkdwn_text, slack_date

# User-facing strings of the thread trail. `{…}` fields are filled with safe mrkdwn.
TRAIL_ANSWERED = "✅ Answered by {who}: {values}"
TRAIL_ANSWERED_TEST = "🧪 Test answer by {who}: {values} (test — not sent to Intercom)"
TRAIL_EXPIRED = "⌛ Expired: nobody answered before Intercom's deadline."
TRAIL_FULFILLED_ELSEWHERE = "↪️ Already answered elsewhere; {who}'s answer was not used."
TRAIL_FULFILLED_ELSEWHERE_NOBODY = "↪️ Already answered elsewhere."
TRAIL_FAILED = "❌ {who}'s answer was not delivered to Fin: {detail}"
TRAIL_FAILED_NOBODY = "❌ Not delivered to Fin: {detail}"
TRAIL_COMMENT = "\n💬 {comment}"
REMINDER = "⏰ Still waiting for an answer ({age} so far).{mention}"
REMINDER_MENTION = " {mention}, can you take it?"

_VALUE_SHOWN_MAX = 200
_VALUES_SHOWN_MAX = 1200
_DETAIL_SHOWN_MAX = 500
_COMMENT_SHOWN_MAX = 1000


def _who(record: StepRecord) -> str | None:
    return mention(record.answer.user_id) if record.answer else None


def _values(record: StepRecord) -> str:
    if record.answer is None:
        return ""
    labels = {a.identifier: attribute_label(a) for a in record.step.attributes}
    pieces = [
        f"{labels.get(v.identifier, v.identifier)} = {v.display}" for v in record.answer.values
    ]
    return mrkdwn_text("; ".join(pieces), _VALUES_SHOWN_MAX)


def trail_text(record: StepRecord) -> str | None:
    """The thread reply (safe mrkdwn) for a settled step; None for a state still moving."""
    who = _who(record)
    detail = mrkdwn_text(
        (record.outcome_detail or "").strip() or "no reason given", _DETAIL_SHOWN_MAX
    )
    if record.state is StepState.ANSWERED:
        template = TRAIL_ANSWERED_TEST if record.step.test else TRAIL_ANSWERED
        text = template.format(who=who or "someone", values=_values(record))
    elif record.state is StepState.EXPIRED:
        text = (
            f"⌛ {mrkdwn_text(record.outcome_detail, _DETAIL_SHOWN_MAX)}"
            if record.outcome_detail
            else TRAIL_EXPIRED
        )
    elif record.state is StepState.FULFILLED_ELSEWHERE:
        text = (
            TRAIL_FULFILLED_ELSEWHERE.format(who=who) if who else TRAIL_FULFILLED_ELSEWHERE_NOBODY
        )
    elif record.state is StepState.FAILED:
        text = (
            TRAIL_FAILED.format(who=who, detail=detail)
            if who
            else TRAIL_FAILED_NOBODY.format(detail=detail)
        )
    else:
        return None
    comment = record.answer.comment if record.answer else None
    if comment and comment.strip():
        text += TRAIL_COMMENT.format(comment=mrkdwn_text(comment.strip(), _COMMENT_SHOWN_MAX))
    return text


def reminder_text(waited_seconds: float, mention_safe: str | None) -> str:
    """A reminder (safe mrkdwn); `mention_safe` is the operator's configured mention."""
    extra = REMINDER_MENTION.format(mention=mention_safe) if mention_safe else ""
    return REMINDER.format(age=duration(waited_seconds, exact=True), mention=extra)


# Working a step: what the thread says when something happens to it.
TOOK_OVER = "🔁 {who} took over from {previous}."
UNDONE = "↩️ {who} took their answer back before it was sent; the step is open again."
LAST_CALL = "⏳ Last call: this step expires {when}. Nobody has answered yet.{mention}"
ESCALATED = "📣 Escalated to {whom}: still no answer at {percent}% of the time Fin waits."
ESCALATION_DM = (
    "📣 A Fin step needs an answer soon: *{procedure}*\n{question}\nIt expires {when}. "
    "Answer it from the channel: {link}"
)
_QUESTION_IN_DM_MAX = 1500
_PROCEDURE_IN_DM_MAX = 200


def event_text(detail: str | None) -> str | None:
    """The thread reply for a job's detail (bot/lifecycle.py `event`); None if none."""
    try:
        about = json.loads(detail) if detail else None
    except ValueError:
        return None
    if not isinstance(about, dict):
        return None
    who = mention(str(about.get("by") or "someone"))
    if about.get("event") == "took_over":
        return TOOK_OVER.format(who=who, previous=mention(str(about.get("previous") or "")))
    if about.get("event") == "undone":
        return UNDONE.format(who=who)
    if about.get("event") == "escalated":
        group = str(about.get("group") or "")
        users = [u for u in str(about.get("users") or "").split(",") if u]
        whom = f"<!subteam^{group}>" if group else ", ".join(mention(u) for u in users)
        percent = str(about.get("percent") or "")
        return escalated_text(whom, int(percent) / 100 if percent.isdigit() else 0.8)
    return None


def last_call_text(expires_at: int, mention_safe: str | None) -> str:
    extra = REMINDER_MENTION.format(mention=mention_safe) if mention_safe else ""
    return LAST_CALL.format(when=slack_date(expires_at), mention=extra)


def escalated_text(whom_safe: str, fraction: float) -> str:
    return ESCALATED.format(whom=whom_safe, percent=round(fraction * 100))


def escalation_dm(record: StepRecord) -> str:
    """The direct message an escalation sends: the question and a link to the message."""
    step = record.step
    link = (
        f"<{escape_mrkdwn(record.permalink)}|open the step>" if record.permalink else "the channel"
    )
    return ESCALATION_DM.format(
        procedure=mrkdwn_text(step.procedure_name or "Fin needs your input", _PROCEDURE_IN_DM_MAX),
        question=mrkdwn_text(step.hitl_question or "", _QUESTION_IN_DM_MAX),
        when=slack_date(step.expires_at) if step.expires_at is not None else "soon",
        link=link,
    )
