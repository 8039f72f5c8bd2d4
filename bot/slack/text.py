"""Block Kit text limits and mrkdwn escaping: the one place they are applied."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

# Block Kit limits (Slack answers `invalid_blocks` past them); see SLACK_NOTES.md.
SECTION_TEXT_MAX = 3000
SECTION_FIELDS_MAX = 10
SECTION_FIELD_TEXT_MAX = 2000
# Context elements take the general text-object limit, the same as a section's text.
CONTEXT_TEXT_MAX = 3000
CONTEXT_ELEMENTS_MAX = 10
HEADER_TEXT_MAX = 150
LABEL_MAX = 2000
HINT_MAX = 2000
PLACEHOLDER_MAX = 150
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
ACTIONS_ELEMENTS_MAX = 25
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
OPTIONS_MAX = 100
RADIO_OPTIONS_MAX = 10
PLAIN_TEXT_INPUT_MAX = 3000
MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
VIEW_TITLE_MAX = 24
VIEW_SUBMIT_MAX = 24
VIEW_CLOSE_MAX = 24
PRIVATE_METADATA_MAX = 3000
ID_MAX = 255  # block_id, action_id, callback_id
# Slack truncates a message's `text` above 40,000; notifications need far less.
FALLBACK_TEXT_MAX = 3000

ELLIPSIS = "…"
NO_NAME = "(no name)"
NO_TEXT = "(no text)"

_ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))
# The longest entity `escape_mrkdwn` produces is "&amp;".
_LONGEST_ENTITY = 5


# Characters that change how text around them is shown without being seen themselves:
# bidirectional embeddings, overrides and isolates (U+202A-202E, U+2066-2069), marks
# (U+200E/F, U+061C) and zero-width characters. From outside they could make a message
# read backwards or hide what it says ("gnp.exe" shown as "exe.png"); they are dropped.
_INVISIBLE = dict.fromkeys(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200B, 0x200C, 0x200D, 0x200E,
     0x200F, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xFEFF, 0x061C, 0x180E, 0x034F]
)  # fmt: skip


def visible(text: str) -> str:
    """`text` without the invisible characters that could spoof its direction or content."""
    if text.isascii():
        return text
    return text.translate(_INVISIBLE)


def escape_mrkdwn(text: str) -> str:
    """Make untrusted text inert in mrkdwn: no mentions, `<!channel>`, forged links, or
    direction tricks."""
    text = visible(text)
    for raw, entity in _ENTITIES:
        text = text.replace(raw, entity)
    return text


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, marking the cut with an ellipsis."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    if len(text) <= limit:
        return text
    return text[: limit - 1] + ELLIPSIS


def _truncate_mrkdwn(text: str, limit: int) -> str:
    """Truncate safe mrkdwn without leaving half an entity or half a `<…>` token behind.

    In safe mrkdwn every `&` starts an entity and every `<` starts a token we built on
    purpose (a mention, link or date), so a cut never splits either.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    open_token = cut.rfind("<")
    if open_token > cut.rfind(">"):
        cut = cut[:open_token]
    amp = cut.rfind("&")
    if amp != -1 and amp > len(cut) - _LONGEST_ENTITY and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + ELLIPSIS


def mrkdwn_text(untrusted: str, limit: int) -> str:
    """Escape untrusted text for mrkdwn and fit it in `limit` characters."""
    return _truncate_mrkdwn(escape_mrkdwn(untrusted), limit)


def plain_text(text: str, limit: int, *, fallback: str = NO_NAME) -> dict[str, Any]:
    """A plain_text object (literal, never parsed), truncated and never empty."""
    text = visible(text)
    if not text.strip():
        text = fallback
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def mrkdwn(text_already_safe: str, limit: int) -> dict[str, Any]:
    """A mrkdwn object from text that is already escaped; only truncates, never empty."""
    if not text_already_safe.strip():
        text_already_safe = NO_TEXT
    return {"type": "mrkdwn", "text": _truncate_mrkdwn(text_already_safe, limit)}


SLACK_DATE = "<!date^{ts}^{{date_short_pretty}} at {{time}}|{fallback}>"


def _utc(ts: float) -> str:
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (OverflowError, OSError, ValueError):
        # An absurd time from Intercom must not stop the post.
        return str(ts)


SLACK_TIME = "<!date^{ts}^{{{token}}}|{fallback}>"


def slack_time(ts: float, *, seconds: bool = False) -> str:
    """A time of day each reader sees in their own time zone (safe mrkdwn); with
    `seconds` for moments only seconds apart (the undo window)."""
    token = "time_secs" if seconds else "time"
    return SLACK_TIME.format(ts=int(ts), token=token, fallback=_utc(ts))


def slack_date(ts: int) -> str:
    """A date each reader sees in their own time zone, with a UTC fallback (safe mrkdwn)."""
    return SLACK_DATE.format(ts=int(ts), fallback=_utc(ts))


def duration(seconds: float, *, exact: bool = False) -> str:
    """A short human duration, the one format of the bot's texts.

    Rough, for how long something has waited: `under 1 min`, `5 min`, `2 h`, `3 d`.
    Exact, for figures: `45 s`, `12 min`, `3.5 h`, `2.1 d`.
    """
    if exact:
        if seconds < 60:
            return f"{int(seconds)} s"
        if seconds < 3600:
            return f"{int(seconds // 60)} min"
        if seconds < 86400:
            return f"{seconds / 3600:.1f} h"
        return f"{seconds / 86400:.1f} d"
    minutes = max(0, int(seconds // 60))
    if minutes < 60:
        return f"{minutes} min" if minutes else "under 1 min"
    hours = minutes // 60
    return f"{hours} h" if hours < 24 else f"{hours // 24} d"
