"""Conversation HTML to plain text: a real parser, paragraphs kept, links written out."""

from __future__ import annotations

import pytest

from bot.intercom.html_text import html_to_text

CASES = {
    "paragraph": ("<p>Hi, I'd like a refund.</p>", "Hi, I'd like a refund."),
    "paragraphs-and-breaks": ("<p>One</p><p>Two<br>Three<br/>Four</p>", "One\nTwo\nThree\nFour"),
    "entities-decoded": ("<p>A &amp; B &lt;b&gt; &#x263A; &eacute;</p>", "A & B <b> ☺ é"),
    "tags-dropped": ("<p><b>bold</b> <i>it</i> <span style='x'>s</span></p>", "bold it s"),
    "whitespace-collapsed": ("<p>  lots \n\t of   space </p>", "lots of space"),
    "list-items": ("<ul><li>one</li><li>two</li></ul>", "• one\n• two"),
    "script-and-style-dropped": (
        "<style>p{}</style><p>kept</p><script>alert('x')</script>",
        "kept",
    ),
    "link-target-written-out": (
        '<a href="https://evil.example/login">https://bank.example</a>',
        "https://bank.example (https://evil.example/login)",
    ),
    "link-whose-label-is-its-target": (
        '<a href="https://example.com/a">https://example.com/a</a>',
        "https://example.com/a",
    ),
    "link-without-href": ("<a>just text</a>", "just text"),
    "image": ('<img src="https://x.example/p.png" alt="photo">', "[image: photo] (https://x.example/p.png)"),
    "slack-syntax-as-a-declaration": ("<p>a <!channel> b</p>", "a b"),
    "unclosed-tags": ("<p>open <b>bold", "open bold"),
    "plain-text": ("no markup at all", "no markup at all"),
    "empty": ("", ""),
}  # fmt: skip


@pytest.mark.parametrize(("html", "text"), CASES.values(), ids=CASES)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_a_huge_body_is_bounded() -> None:
    assert len(html_to_text("<p>" + "x" * 1_000_000 + "</p>")) <= 20_000
