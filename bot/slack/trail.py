"""The short thread replies under a step's message: how it settled, and reminders."""

from __future__ import annotations

from bot.domain import StepRecord, StepState
from bot.slack.form import attribute_label
from bot.slack.mentions import mention
from bot.slack.text import duration, mrkdwn_text

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
