"""Short texts and views telling a teammate why a step can no longer be answered."""

from __future__ import annotations

from typing import Any

from bot.domain import Step, StepRecord, StepState
from bot.intercom.links import inbox_link
from bot.slack import ids
from bot.slack.mentions import mention
from bot.slack.text import escape_mrkdwn, mrkdwn_text, plain_text

UNANSWERABLE = "This step can't be answered from Slack ({reason}). Answer it in Intercom{where}."
_REASON_SHOWN_MAX = 500


def why_closed(record: StepRecord | None) -> str:
    """One sentence (mrkdwn) saying why this step takes no more answers."""
    if record is None:
        return "This step is unknown to the bot (it may have been removed)."
    who = mention(record.answer.user_id) if record.answer else "someone"
    return {
        StepState.SUBMITTED: f"Already answered by {who}; the answer is on its way to Fin.",
        StepState.ANSWERED: f"Already answered by {who}.",
        StepState.EXPIRED: "This step expired: Intercom no longer accepts an answer.",
        StepState.FULFILLED_ELSEWHERE: "This step was already answered elsewhere.",
        StepState.FAILED: f"Answered by {who}, but it could not be delivered to Fin.",
    }.get(record.state, "This step can still be answered.")


def closed_view(record: StepRecord | None) -> dict[str, Any]:
    """The modal shown in place of the form when a step closed while it was open."""
    return {
        "type": "modal",
        "callback_id": ids.CLOSED,
        "title": plain_text("Answer Fin", 24),
        "close": plain_text("Close", 24),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": why_closed(record)}}],
    }


def notice_view(text_already_safe: str) -> dict[str, Any]:
    """A modal saying why there is no form (not allowed, or closed when clicked from Home)."""
    return {
        "type": "modal",
        "callback_id": ids.NOTICE,
        "title": plain_text("Answer Fin", 24),
        "close": plain_text("Close", 24),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text_already_safe}}],
    }


def unanswerable_note(step: Step) -> str:
    """Why this step takes no answer from Slack, and where to answer it (mrkdwn)."""
    link = inbox_link(step)
    where = f": <{escape_mrkdwn(link)}|open the conversation>" if link else ""
    reason = mrkdwn_text(step.unanswerable or "unknown reason", _REASON_SHOWN_MAX)
    return UNANSWERABLE.format(reason=reason, where=where)
