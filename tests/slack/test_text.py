"""Escaping and truncation: the one place Slack text is made safe and small enough."""

from __future__ import annotations

import html
import random

import pytest

from bot.slack import text
from bot.slack.text import escape_mrkdwn, mrkdwn, mrkdwn_text, plain_text, truncate


def test_escape_mrkdwn_replaces_the_three_control_characters() -> None:
    assert escape_mrkdwn("a & b < c > d") == "a &amp; b &lt; c &gt; d"


def test_escape_mrkdwn_makes_mentions_and_links_inert() -> None:
    escaped = escape_mrkdwn("<!channel> <@U123> <https://evil|click>")

    assert "<" not in escaped
    assert ">" not in escaped
    assert escaped == "&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil|click&gt;"


def test_escape_mrkdwn_escapes_an_existing_entity_again() -> None:
    """Text that already looks escaped is shown as typed, not unescaped by Slack."""
    assert escape_mrkdwn("&lt;") == "&amp;lt;"


def test_truncate_leaves_text_within_the_limit_alone() -> None:
    assert truncate("abc", 3) == "abc"


def test_truncate_cuts_to_the_limit_with_an_ellipsis() -> None:
    assert truncate("abcdef", 4) == "abc…"


def test_truncate_rejects_a_limit_below_one() -> None:
    with pytest.raises(ValueError, match="limit"):
        truncate("abc", 0)


def test_mrkdwn_text_escapes_before_truncating() -> None:
    assert mrkdwn_text("<b>", 20) == "&lt;b&gt;"
    assert len(mrkdwn_text("<" * 100, 20)) <= 20


@pytest.mark.parametrize("limit", range(1, 12))
def test_mrkdwn_text_never_cuts_inside_an_entity(limit: int) -> None:
    result = mrkdwn_text("a&b<c>d&&", limit)

    assert len(result) <= limit
    body = result.removesuffix("…")
    assert html.unescape(body) == "a&b<c>d&&"[: len(html.unescape(body))]
    assert body.count("&") == body.count(";")


def test_mrkdwn_text_survives_random_untrusted_text() -> None:
    """Any cut of escaped text is escaped text: within the limit, entities whole."""
    rng = random.Random(1234)
    for _ in range(500):
        raw = "".join(rng.choice("ab&<>;") for _ in range(rng.randint(0, 40)))
        limit = rng.randint(1, 50)
        result = mrkdwn_text(raw, limit)
        body = result.removesuffix("…") if result != raw else result

        assert len(result) <= limit
        assert "<" not in result
        assert ">" not in result
        assert raw.startswith(html.unescape(body))
        assert escape_mrkdwn(html.unescape(body)) == body


def test_mrkdwn_object_never_cuts_inside_a_token() -> None:
    safe = "Answered by <@U0123ABCD> today"

    assert mrkdwn(safe, 20)["text"] == "Answered by …"


def test_mrkdwn_object_keeps_short_text() -> None:
    assert mrkdwn("*hi*", 10) == {"type": "mrkdwn", "text": "*hi*"}


def test_mrkdwn_object_is_never_empty() -> None:
    assert mrkdwn("  ", 10)["text"].strip()


def test_plain_text_is_literal_and_truncated() -> None:
    obj = plain_text("<!channel> " + "x" * 200, 150)

    assert obj["type"] == "plain_text"
    assert obj["emoji"] is True
    assert obj["text"].startswith("<!channel> ")
    assert len(obj["text"]) == 150
    assert obj["text"].endswith("…")


@pytest.mark.parametrize("empty", ["", "   ", "\n"])
def test_plain_text_falls_back_when_empty(empty: str) -> None:
    assert plain_text(empty, 10)["text"] == "(no name)"


def test_plain_text_uses_the_given_fallback() -> None:
    assert plain_text("", 10, fallback="opt-1")["text"] == "opt-1"


def test_limits_are_the_ones_in_slack_notes() -> None:
    assert (text.SECTION_TEXT_MAX, text.HEADER_TEXT_MAX) == (3000, 150)
    assert (text.LABEL_MAX, text.HINT_MAX, text.PLACEHOLDER_MAX) == (2000, 2000, 150)
    assert (text.BUTTON_TEXT_MAX, text.OPTION_TEXT_MAX, text.OPTION_VALUE_MAX) == (75, 75, 150)
    assert (text.OPTIONS_MAX, text.RADIO_OPTIONS_MAX) == (100, 10)
    assert (text.MESSAGE_BLOCKS_MAX, text.VIEW_BLOCKS_MAX) == (50, 100)
    assert (text.VIEW_TITLE_MAX, text.VIEW_SUBMIT_MAX, text.VIEW_CLOSE_MAX) == (24, 24, 24)
    assert (text.PRIVATE_METADATA_MAX, text.CONTEXT_ELEMENTS_MAX) == (3000, 10)
    assert (text.SECTION_FIELDS_MAX, text.SECTION_FIELD_TEXT_MAX) == (10, 2000)
