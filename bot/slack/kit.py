"""Block Kit pieces every builder uses: sections, contexts, headers, buttons, links and
bullet lists, from text that is already safe mrkdwn (see bot/slack/text.py)."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Sequence
from typing import Any

from bot.slack.text import (
    BUTTON_TEXT_MAX,
    CONTEXT_TEXT_MAX,
    HEADER_TEXT_MAX,
    SECTION_TEXT_MAX,
    escape_mrkdwn,
    mrkdwn,
    plain_text,
)

MORE_ITEMS = "• …and {count} more"
BLOCK_KIT_BUILDER = "https://app.slack.com/block-kit-builder/#"


def link(url: str, safe_label: str) -> str:
    """A mrkdwn link; the URL comes from our own code, but `|` or `>` in it would still
    end the token."""
    safe_url = escape_mrkdwn(url).replace("|", "%7C")
    return f"<{safe_url}|{safe_label}>"


def bullet_list(heading: str, items: Sequence[str], limit: int) -> str:
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


def section(block_id: str, safe_text: str) -> dict[str, Any]:
    return {"type": "section", "block_id": block_id, "text": mrkdwn(safe_text, SECTION_TEXT_MAX)}


def context(block_id: str, safe_text: str) -> dict[str, Any]:
    return {
        "type": "context",
        "block_id": block_id,
        "elements": [mrkdwn(safe_text, CONTEXT_TEXT_MAX)],
    }


def header(block_id: str, text: str) -> dict[str, Any]:
    return {"type": "header", "block_id": block_id, "text": plain_text(text, HEADER_TEXT_MAX)}


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": plain_text(text, BUTTON_TEXT_MAX),
        "value": value,
    }
    if style:
        element["style"] = style
    return element


def block_kit_builder_url(payload: dict[str, Any]) -> str:
    """A Block Kit Builder link previewing `{"blocks": [...]}` or a whole view."""
    return BLOCK_KIT_BUILDER + urllib.parse.quote(json.dumps(payload, separators=(",", ":")))
