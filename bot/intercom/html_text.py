"""Intercom's conversation HTML as plain text: paragraphs and line breaks kept, tags dropped,
entities decoded, and every link written out so its label cannot hide where it goes.

The text is still untrusted: whoever shows it escapes it for their medium (Slack's mrkdwn
in `bot/slack/text.py`).
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

# Tags that end a line of text before and after them.
_BLOCK_TAGS = frozenset(
    {
        "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
        "blockquote", "pre", "tr", "table", "hr", "section", "article", "header",
        "footer", "dl", "dt", "dd", "figure", "figcaption",
    }
)  # fmt: skip
# Tags whose content is never text for people.
_HIDDEN_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript", "iframe"})
# More than any conversation part needs; bounds the parser's work on a hostile body.
MAX_HTML_CHARS = 20_000
_URL_SHOWN_MAX = 300
_WHITESPACE = re.compile(r"\s+")


class _Break:
    """A line break between blocks (several in a row make one blank line at most)."""


_BREAK = _Break()


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str | _Break] = []
        self._hidden = 0
        self._pre = 0
        # (href, index of the first piece of the link's label) of each open <a>.
        self._links: list[tuple[str | None, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden += 1
            return
        if tag in _BLOCK_TAGS:
            self.pieces.append(_BREAK)
        if tag == "li":
            self.pieces.append("• ")
        elif tag == "pre":
            self._pre += 1
        elif tag == "a":
            self._links.append((_attr(attrs, "href"), len(self.pieces)))
        elif tag == "img":
            src = _attr(attrs, "src")
            alt = (_attr(attrs, "alt") or "").strip()
            label = f"[image: {alt}]" if alt else "[image]"
            self.pieces.append(f"{label} ({_shown_url(src)})" if src else label)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in ("br", "img", "hr"):
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden = max(0, self._hidden - 1)
            return
        if tag == "a" and self._links:
            href, first = self._links.pop()
            label = "".join(p for p in self.pieces[first:] if isinstance(p, str)).strip()
            if href and _WHITESPACE.sub("", href) != _WHITESPACE.sub("", label):
                # Written out, so "https://bank.example" can't lead somewhere else.
                self.pieces.append(f" ({_shown_url(href)})")
        elif tag == "pre":
            self._pre = max(0, self._pre - 1)
        if tag in _BLOCK_TAGS:
            self.pieces.append(_BREAK)

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        if self._pre:
            lines = data.split("\n")
            for index, line in enumerate(lines):
                if index:
                    self.pieces.append(_BREAK)
                self.pieces.append(line)
        else:
            self.pieces.append(_WHITESPACE.sub(" ", data))


def _attr(attrs: list[tuple[str, str | None]], name: str) -> str | None:
    for key, value in attrs:
        if key == name and value and value.strip():
            return value.strip()
    return None


def _shown_url(url: str) -> str:
    url = _WHITESPACE.sub("", url)
    return url if len(url) <= _URL_SHOWN_MAX else url[: _URL_SHOWN_MAX - 1] + "…"


def _lines(pieces: list[str | _Break]) -> str:
    lines: list[str] = []
    current: list[str] = []
    breaks = 0
    for piece in [*pieces, _BREAK]:
        if isinstance(piece, str):
            current.append(piece)
            continue
        line = _WHITESPACE.sub(" ", "".join(current)).strip()
        current = []
        if line:
            if lines and breaks > 1:
                lines.append("")  # a blank line between paragraphs, never more than one
            lines.append(line)
            breaks = 0
        else:
            breaks += 1
    return "\n".join(lines)


def html_to_text(body: str) -> str:
    """Plain text of one conversation part's HTML body."""
    body = body[:MAX_HTML_CHARS]
    parser = _TextParser()
    try:
        parser.feed(body)
        parser.close()
    except Exception:
        # Markup no parser can read still has words in it.

        return _WHITESPACE.sub(" ", html.unescape(re.sub(r"<[^>]*>", " ", body))).strip()
    return _lines(parser.pieces)
