"""Slack's mention syntax: the mentions operators configure, and a user's mention in text."""

from __future__ import annotations

import re

from bot.slack.text import mrkdwn_text

_SUBTEAM_MENTION = re.compile(r"^<!subteam\^[A-Z0-9]{2,}(\|[^<>]*)?>$")
_USER_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)>$")
_SPECIAL_MENTION = frozenset({"<!here>", "<!channel>"})
_SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{1,30}")
# A user id from a payload that is not one is shown as text, cut to this.
_ID_SHOWN_MAX = 100


def remind_mention(value: str) -> str:
    """Slack mrkdwn for a configured mention (`HITL_REMIND_MENTION`, a route's `mention`):
    `<!subteam^S…>`, `<!here>`, or user ids.

    User ids may be bare (`U1,U2`) or already wrapped (`<@U1>`); anything else is refused,
    so a typo cannot put raw text into a message.
    """
    value = value.strip()
    if _SUBTEAM_MENTION.match(value) or value in _SPECIAL_MENTION:
        return value
    mentions = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        wrapped = _USER_MENTION.match(part)
        user_id = wrapped.group(1) if wrapped else part
        if not re.match(r"^[UW][A-Z0-9]+$", user_id):
            raise ValueError("must be <!subteam^S…>, <!here>, or comma-separated user IDs")
        mentions.append(f"<@{user_id}>")
    if not mentions:
        raise ValueError("must be <!subteam^S…>, <!here>, or comma-separated user IDs")
    return " ".join(mentions)


def mention(user_id: str) -> str:
    """`<@U…>` for a real Slack user id; anything else is shown as escaped text."""
    if _SLACK_USER_ID.fullmatch(user_id):
        return f"<@{user_id}>"
    return mrkdwn_text(user_id, _ID_SHOWN_MAX)


_USERGROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]+$")


def escalation_targets(value: str) -> tuple[tuple[str, ...], str | None]:
    """Who an escalation reaches (`HITL_ESCALATE_TO`, a route's `escalate_to`): user ids
    `U1,U2`, or one user group `S…`. Returns (user ids, user group)."""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if len(parts) == 1 and _USERGROUP_ID.match(parts[0]):
        return (), parts[0]
    if not parts or not all(_USER_ID.match(p) for p in parts):
        raise ValueError("must be user IDs such as U0123ABCD,U0456EFGH or one user group S0123ABCD")
    return tuple(parts), None
