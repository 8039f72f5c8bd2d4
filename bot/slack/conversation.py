"""A step's context as safe mrkdwn: who Intercom assigned it to, and the conversation's
recent messages (who wrote each, when, and what).

Bodies are Intercom's HTML: read by a real HTML parser (bot/intercom/html_text.py), then
escaped like all untrusted text, so nothing in a conversation, an author's name or a team
name can ping, mention or forge a link.
"""

from __future__ import annotations

from bot.domain import AuthorType, RecentMessage, Step
from bot.intercom.html_text import html_to_text
from bot.slack.text import mrkdwn_text, slack_date

# User-facing strings. `{name}` is filled with escaped text.
CUSTOMER = "*{name}* (customer)"
CUSTOMER_UNNAMED = "*The customer*"
FIN = "*Fin*"
BOT_NAMED = "*{name}* (bot)"
TEAMMATE = "*{name}* (teammate)"
TEAMMATE_UNNAMED = "*A teammate*"
TEAM = "*{name}* (team)"
SOMEONE = "*Someone*"
PART_TYPE = " · _{part_type}_"
EMPTY_BODY = "_(no text)_"
ASSIGNED = "Assigned in Intercom to *{name}*"
ASSIGNED_UNNAMED = {
    "team": "Assigned in Intercom to a team",
    "admin": "Assigned in Intercom to a teammate",
}

_NAME_SHOWN_MAX = 100
_PART_TYPE_SHOWN_MAX = 40
_FIN_NAMES = frozenset({"fin", "fin ai agent", "fin ai"})


def author_label(message: RecentMessage) -> str:
    """Who wrote `message`: the customer by name, Fin, a teammate or a team (safe mrkdwn)."""
    author = message.author
    if author is None:
        return SOMEONE
    name = (author.name or "").strip()
    safe_name = mrkdwn_text(name, _NAME_SHOWN_MAX) if name else ""
    if author.type is AuthorType.USER:
        email = (author.email or "").strip()
        if not safe_name and email:
            safe_name = mrkdwn_text(email, _NAME_SHOWN_MAX)
        return CUSTOMER.format(name=safe_name) if safe_name else CUSTOMER_UNNAMED
    if author.type is AuthorType.BOT:
        return (
            FIN if not name or name.casefold() in _FIN_NAMES else BOT_NAMED.format(name=safe_name)
        )
    if author.type is AuthorType.ADMIN:
        return TEAMMATE.format(name=safe_name) if safe_name else TEAMMATE_UNNAMED
    if author.type is AuthorType.TEAM:
        return TEAM.format(name=safe_name) if safe_name else TEAMMATE_UNNAMED
    return f"*{safe_name}*" if safe_name else SOMEONE


def message_text(message: RecentMessage, limit: int) -> str:
    """One message: its author and time on a line, then its text quoted (safe mrkdwn).

    `limit` bounds the quoted text; the whole stays within `limit` plus about 200.
    """
    heading = author_label(message)
    if message.created_at is not None:
        heading += f" · {slack_date(message.created_at)}"
    part_type = (message.part_type or "").strip()
    if part_type and part_type != "comment":
        heading += PART_TYPE.format(part_type=mrkdwn_text(part_type, _PART_TYPE_SHOWN_MAX))
    text = html_to_text(message.body)
    body = mrkdwn_text(text, limit) if text else EMPTY_BODY
    # Our own ">" quotes each line; one in the text itself arrives escaped as "&gt;".
    quoted = "\n".join(f">{line}" for line in body.split("\n"))
    return f"{heading}\n{quoted}"


def assignee_text(step: Step) -> str | None:
    """ "Assigned in Intercom to *Customer Support*", or None when Intercom assigned nobody."""
    assignee = step.assign_to
    if assignee is None:
        return None
    name = (assignee.name or "").strip()
    if not name:
        return ASSIGNED_UNNAMED[assignee.type.value]
    return ASSIGNED.format(name=mrkdwn_text(name, _NAME_SHOWN_MAX))
