"""Text from Intercom can never ping, mention or forge a link: not in the message, form or update.

Slack parses mrkdwn (and a message's fallback `text`) for `<!channel>`, `<@U…>` and `<url|…>`;
it shows plain_text objects literally (see SLACK_NOTES.md), so those keep the text as it was.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.testing.local_stack import LocalStack

from .helpers import (
    ESCAPED_TOKENS,
    NASTY,
    RAW_TOKENS,
    attribute,
    custom_payload,
    mrkdwn_strings,
    select_state,
    send_and_wait_posted,
    step_id_of,
    text_objects,
    text_state,
    wait_updated,
)


def nasty_payload(stack: LocalStack) -> dict[str, Any]:
    return custom_payload(
        stack,
        [
            attribute(
                0,
                "list",
                name=f"list {NASTY}",
                label=f"pick {NASTY}",
                options=[{"id": "opt-1", "label": f"label {NASTY}"}],
            ),
            attribute(1, "string", name=f"text {NASTY}", label=f"say {NASTY}"),
        ],
        procedure_name=f"proc {NASTY}",
        hitl_question=f"do {NASTY}",
        assign_to={"type": "team", "id": "1", "name": f"team {NASTY}"},
        recent_messages=[
            {
                "type": "conversation_part",
                "id": "1",
                "part_type": "comment",
                "created_at": 1795478100,
                "body": NASTY_HTML,
                "author": {"type": "user", "id": "u", "name": f"Jane {NASTY}", "email": None},
            }
        ],
    )


# A conversation part as HTML: entities that decode to Slack tokens, a link whose label
# names one host and whose target is another, a script, and Slack's syntax written raw.
NASTY_HTML = (
    "<p>&lt;!channel&gt; &lt;@U0BOSS&gt; &lt;https://evil.example|bank&gt;</p>"
    '<p><a href="https://evil.example/login">https://bank.example</a></p>'
    "<script>alert('<!here>')</script><p>raw <!channel> and <@U0RAW></p>"
)


def assert_inert(payload: Any) -> None:
    """No raw token in anything Slack parses; the escaped forms are there instead."""
    parsed = list(mrkdwn_strings(payload))
    for text in parsed:
        for token in RAW_TOKENS:
            assert token not in text, f"raw {token!r} in {text[:200]!r}"
    joined = "\n".join(parsed)
    for escaped in ESCAPED_TOKENS:
        assert escaped in joined


def assert_plain_text_is_literal(payload: Any) -> None:
    """Shown as written, not double-escaped into `&amp;lt;` for people to read."""
    for obj in text_objects(payload):
        if obj["type"] == "plain_text":
            assert "&lt;" not in obj["text"], obj["text"]
            assert "&amp;" not in obj["text"], obj["text"]


@pytest.fixture
async def nasty_step(stack: LocalStack) -> tuple[dict[str, Any], dict[str, Any]]:
    payload = nasty_payload(stack)
    posted = await send_and_wait_posted(stack, payload)
    return payload, posted


async def test_request_message_escapes_untrusted_text(
    nasty_step: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    _, posted = nasty_step

    assert_inert({"text": posted["text"], "blocks": posted["blocks"]})
    assert_plain_text_is_literal(posted["blocks"])


async def test_conversation_html_and_names_stay_inert_in_the_form(
    stack: LocalStack, nasty_step: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    payload, _ = nasty_step

    view = await stack.open_form(step_id_of(payload))

    recent = next(b for b in view["blocks"] if b.get("block_id") == "hitl.recent.0")
    text = recent["text"]["text"]
    assert "&lt;!channel&gt; &lt;@U0BOSS&gt; &lt;https://evil.example|bank&gt;" in text
    # The link's target is written out beside the label that named another host.
    assert "https://bank.example (https://evil.example/login)" in text
    assert "alert" not in text
    assert "<@U0" not in text
    assert "<!" not in text.replace("<!date^", "")
    assert "*Jane &lt;!channel&gt;" in text
    intro = next(b for b in view["blocks"] if b.get("block_id") == "hitl.intro")
    assert "Assigned in Intercom to *team &lt;!channel&gt;" in intro["text"]["text"]


async def test_the_customers_latest_message_stays_inert_on_the_message(
    nasty_step: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    _, posted = nasty_step

    latest = next(b for b in posted["blocks"] if b["block_id"].startswith("hitl.latest."))
    text = latest["text"]["text"]
    assert "&lt;@U0BOSS&gt;" in text
    assert "(https://evil.example/login)" in text
    assert "<@U0" not in text


async def test_fallback_text_is_escaped(
    nasty_step: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    _, posted = nasty_step

    assert "<!channel>" not in posted["text"]
    assert "&lt;!channel&gt;" in posted["text"]


async def test_form_escapes_untrusted_text(
    stack: LocalStack, nasty_step: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    payload, _ = nasty_step

    view = await stack.open_form(step_id_of(payload))

    assert_inert(view)
    assert_plain_text_is_literal(view)
    labels = [o["text"] for o in text_objects(view) if o["type"] == "plain_text"]
    assert f"label {NASTY}" in labels


async def test_answered_update_escapes_untrusted_text(
    stack: LocalStack, nasty_step: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    payload, _ = nasty_step
    view = await stack.open_form(step_id_of(payload))

    await stack.submit(view, select_state(0, 0) | text_state(1, f"typed {NASTY}"))
    update = await wait_updated(stack, step_id_of(payload), "Answered by")

    assert_inert({"text": update["text"], "blocks": update["blocks"]})
    assert_plain_text_is_literal(update["blocks"])


async def test_closed_view_for_a_late_submission_escapes_untrusted_text(
    stack: LocalStack, nasty_step: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    """The loser's view names the winner; an odd user id must not turn into a mention."""
    payload, _ = nasty_step
    view = await stack.open_form(step_id_of(payload))
    await stack.submit(view, select_state(0, 0) | text_state(1, "ok"), user_id="<!channel>")

    late = await stack.submit(view, select_state(0, 0) | text_state(1, "ok"), user_id="U0BOB")

    assert late.body["response_action"] == "update"
    for text in mrkdwn_strings(late.body["view"]):
        assert "<!channel>" not in text
