"""The channel message a step becomes: what it says, where it links, which buttons it has."""

from __future__ import annotations

import pytest

from bot.slack.form import DEFAULT_PROCEDURE
from bot.testing.local_stack import CHANNEL_ID, LocalStack

from ..slack.helpers import assert_message_within_limits
from .helpers import (
    action_ids,
    all_text,
    fresh_payload,
    item_of,
    send_and_wait_posted,
)

INBOX = "https://app.intercom.com/a/inbox/a86dr8yl/inbox/shared/all/conversation/"


async def test_message_goes_to_the_configured_channel_within_block_kit_limits(
    stack: LocalStack,
) -> None:
    posted = await send_and_wait_posted(stack, fresh_payload(stack))

    assert posted["channel"] == CHANNEL_ID
    assert_message_within_limits({"text": posted["text"], "blocks": posted["blocks"]})


async def test_message_names_the_procedure(stack: LocalStack) -> None:
    posted = await send_and_wait_posted(stack, fresh_payload(stack))

    assert "Refund over $40" in all_text(posted)
    assert "Refund over $40" in posted["text"]


async def test_message_without_a_procedure_has_a_default_title(stack: LocalStack) -> None:
    payload = fresh_payload(stack)
    del item_of(payload)["procedure_name"]

    posted = await send_and_wait_posted(stack, payload)

    headers = [b for b in posted["blocks"] if b["type"] == "header"]
    assert DEFAULT_PROCEDURE in headers[0]["text"]["text"]
    assert "None" not in all_text(posted)


async def test_message_leads_with_what_fin_asks(stack: LocalStack) -> None:
    payload = fresh_payload(stack)

    posted = await send_and_wait_posted(stack, payload)

    # `&` would be escaped, but the sample's question has none.
    first_section = next(b for b in posted["blocks"] if b["type"] == "section")
    assert item_of(payload)["hitl_question"] in first_section["text"]["text"]


async def test_message_lists_every_attribute_asked_for(stack: LocalStack) -> None:
    payload = fresh_payload(stack, "all_types")

    posted = await send_and_wait_posted(stack, payload)

    text = all_text(posted)
    for attribute in item_of(payload)["attributes_to_collect"]:
        assert attribute["name"] in text


async def test_message_shows_the_conversation_and_links_to_it(stack: LocalStack) -> None:
    payload = fresh_payload(stack)
    conversation_id = item_of(payload)["conversation_id"]

    posted = await send_and_wait_posted(stack, payload)

    text = all_text(posted)
    assert conversation_id in text
    assert f"<{INBOX}{conversation_id}|" in text


async def test_the_link_is_intercoms_own_conversation_url(stack: LocalStack) -> None:
    own = "https://app.intercom.com/a/inbox/a86dr8yl/inbox/shared/mentions/conversation/42"
    payload = fresh_payload(stack, conversation_url=own)

    posted = await send_and_wait_posted(stack, payload)

    assert f"<{own}|" in all_text(posted)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/a/inbox/a86dr8yl/inbox/shared/all/conversation/1",
        "http://app.intercom.com/a/inbox/a86dr8yl/inbox/shared/all/conversation/1",
        "https://app.intercom.com.evil.example/a/inbox/x",
        "https://user@app.intercom.com/a/inbox/x",
        "https://app.intercom.com:8443/a/inbox/x",
        "https://app.intercom.com/a|<!channel>",
        "javascript:alert(1)",
    ],
    ids=["other-host", "http", "suffix-host", "userinfo", "other-port", "pipe", "javascript"],
)
async def test_a_conversation_url_off_intercom_is_never_linked(stack: LocalStack, url: str) -> None:
    payload = fresh_payload(stack, conversation_url=url)
    cid = item_of(payload)["conversation_id"]

    posted = await send_and_wait_posted(stack, payload)

    text = all_text(posted)
    assert "evil" not in text
    assert "8443" not in text
    assert "javascript" not in text
    assert f"<{INBOX}{cid}|" in text


async def test_eu_step_without_intercoms_link_links_to_the_eu_inbox(prod_stack: LocalStack) -> None:
    payload = fresh_payload(prod_stack, "single_boolean")
    item = item_of(payload)
    cid = item["conversation_id"]
    item["callback_url"] = f"https://api.eu.intercom.io/procedures/{cid}/collect_agent_input"

    posted = await send_and_wait_posted(prod_stack, payload)

    del item["conversation_url"]
    eu_inbox = f"https://app.eu.intercom.com/a/inbox/a86dr8yl/inbox/shared/all/conversation/{cid}"
    assert f"<{eu_inbox}|" in all_text(posted)
    assert "https://app.intercom.com" not in all_text(posted)


async def test_message_shows_the_expiry_when_known(stack: LocalStack) -> None:
    payload = fresh_payload(stack)
    expires_at = item_of(payload)["expires_at"]

    posted = await send_and_wait_posted(stack, payload)

    assert "Expires" in all_text(posted)
    assert f"<!date^{expires_at}^" in all_text(posted)


async def test_message_without_expiry_shows_none(stack: LocalStack) -> None:
    posted = await send_and_wait_posted(stack, fresh_payload(stack, "single_boolean"))

    assert "Expires" not in all_text(posted)
    assert "Deadline" not in all_text(posted)


async def test_message_has_an_answer_button_that_opens_the_form(stack: LocalStack) -> None:
    payload = fresh_payload(stack)

    posted = await send_and_wait_posted(stack, payload)

    buttons = [e for b in posted["blocks"] if b["type"] == "actions" for e in b["elements"]]
    opens = [b for b in buttons if b["action_id"].startswith("hitl.open")]
    assert len(opens) == 1
    assert opens[0]["value"] == item_of(payload)["step_id"]


async def test_single_boolean_step_offers_one_click_yes_and_no(stack: LocalStack) -> None:
    posted = await send_and_wait_posted(stack, fresh_payload(stack, "single_boolean"))

    ids = action_ids(posted)
    assert "hitl.answer.yes" in ids
    assert "hitl.answer.no" in ids
    assert any(i.startswith("hitl.open") for i in ids)


async def test_step_with_several_attributes_offers_no_one_click_answers(
    stack: LocalStack,
) -> None:
    posted = await send_and_wait_posted(stack, fresh_payload(stack))

    ids = action_ids(posted)
    assert "hitl.answer.yes" not in ids
    assert "hitl.answer.no" not in ids
    assert all(i.startswith("hitl.") for i in ids)
