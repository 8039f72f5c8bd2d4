"""Tests that FakeSlack answers slack_sdk over HTTP the way the rest of the suite relies on."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.testing import FakeSlack, slack_command_body, slack_form_body, slack_signature_headers

TOKEN = "xoxb-test-token"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(member_channels={"C1", "C2"}) as fake:
        yield fake


def client_for(fake: FakeSlack, token: str = TOKEN) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=fake.base_url)


async def test_auth_and_unknown_method(slack: FakeSlack) -> None:
    assert slack.base_url == f"{slack.url}/api/"
    auth = await client_for(slack).auth_test()
    assert (auth["user_id"], auth["bot_id"], auth["team_id"]) == ("UBOT", "BBOT", "T0001")

    with pytest.raises(SlackApiError) as bad_token:
        await client_for(slack, "xoxb-wrong").auth_test()
    assert bad_token.value.response["error"] == "invalid_auth"

    with pytest.raises(SlackApiError) as unknown:
        await client_for(slack).api_call("chat.scheduleMessage", json={"channel": "C1"})
    assert unknown.value.response["error"] == "unknown_method"
    assert [c.failed for c in slack.calls] == [False, True, True]


async def test_messages_threads_updates_and_permalink(slack: FakeSlack) -> None:
    client = client_for(slack)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    metadata = {"event_type": "hitl", "event_payload": {"step": "s1"}}
    first = await client.chat_postMessage(channel="C1", text="hi", blocks=blocks, metadata=metadata)
    reply = await client.chat_postMessage(channel="C1", text="in thread", thread_ts=first["ts"])
    other = await client.chat_postMessage(channel="C2", text="elsewhere")
    assert first["ts"] == "1795478400.000100"
    assert float(first["ts"]) < float(reply["ts"]) < float(other["ts"])

    await client.chat_update(channel="C1", ts=first["ts"], text="done", blocks=[])
    stored = slack.messages[("C1", first["ts"])]
    assert (stored["text"], stored["blocks"], stored["updates"]) == ("done", [], 1)
    assert stored["metadata"] == metadata
    assert [m["ts"] for m in slack.posted()] == [first["ts"], other["ts"]]
    assert [m["text"] for m in slack.posted("C1")] == ["done"]
    assert [m["ts"] for m in slack.thread_replies("C1", first["ts"])] == [reply["ts"]]

    with pytest.raises(SlackApiError) as missing:
        await client.chat_update(channel="C1", ts="1.000000", text="x")
    assert missing.value.response["error"] == "message_not_found"
    with pytest.raises(SlackApiError) as outside:
        await client.chat_postMessage(channel="C9", text="x")
    assert outside.value.response["error"] == "not_in_channel"

    link = await client.chat_getPermalink(channel="C1", message_ts=first["ts"])
    assert link["permalink"] == "https://fake.slack.test/archives/C1/p1795478400000100"
    ephemeral = await client.chat_postEphemeral(channel="C1", user="U1", text="psst")
    assert ephemeral["message_ts"]
    assert slack.calls_to("chat.getPermalink") == [{"channel": "C1", "message_ts": first["ts"]}]


async def test_form_encoded_params_are_decoded(slack: FakeSlack) -> None:
    blocks = [{"type": "divider"}]
    async with aiohttp.ClientSession() as session:
        resp = await session.post(
            f"{slack.base_url}chat.postMessage?channel=C1",
            data={"token": TOKEN, "text": "form", "blocks": json.dumps(blocks)},
        )
        assert (await resp.json())["ok"] is True
    params = slack.calls_to("chat.postMessage")[0]
    assert params == {"channel": "C1", "text": "form", "blocks": blocks}


async def test_views_users_groups_and_channels(slack: FakeSlack) -> None:
    client = client_for(slack)
    view = {"type": "modal", "title": {"type": "plain_text", "text": "T"}, "blocks": []}
    opened = await client.views_open(trigger_id="trig", view=view)
    view_id = opened["view"]["id"]
    updated = await client.views_update(
        view_id=view_id, view={**view, "blocks": [{"type": "divider"}]}
    )
    assert updated["view"]["id"] == view_id
    assert slack.views[view_id]["blocks"] == [{"type": "divider"}]
    with pytest.raises(SlackApiError):
        await client.views_open(trigger_id="", view=view)

    await client.views_publish(user_id="U1", view={"type": "home", "blocks": []})
    assert slack.home_views["U1"]["type"] == "home"

    user = (await client.users_info(user="U7"))["user"]
    assert (user["name"], user["profile"]["display_name"]) == ("user-U7", "user-U7")
    slack.usergroups["S1"] = ["U1", "U2"]
    assert (await client.usergroups_users_list(usergroup="S1"))["users"] == ["U1", "U2"]
    assert (await client.conversations_info(channel="C1"))["channel"]["is_member"] is True
    assert (await client.conversations_info(channel="C9"))["channel"]["is_member"] is False


async def test_wait_for_and_response_url(slack: FakeSlack) -> None:
    client = client_for(slack)
    waiter = asyncio.create_task(slack.wait_for("chat.postMessage", count=2))
    await client.chat_postMessage(channel="C1", text="one")
    await client.chat_postMessage(channel="C1", text="two")
    assert [p["text"] for p in await waiter] == ["one", "two"]

    with pytest.raises(TimeoutError, match=r"chat\.update.*chat\.postMessage x2"):
        await slack.wait_for("chat.update", timeout=0.05)

    async with aiohttp.ClientSession() as session:
        await session.post(slack.response_url("r1"), json={"text": "ack", "replace_original": True})
    assert await slack.wait_for_response("r1") == [{"text": "ack", "replace_original": True}]


async def test_fail_next_rate_limit_server_error_and_slow(slack: FakeSlack) -> None:
    client = client_for(slack)
    slack.fail_next("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel="C1", text="x")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"
    assert slack.rate_limited_count == 1

    slack.fail_next("chat.update", status=503)
    slack.fail_next("users.info", error="user_not_visible")
    with pytest.raises(SlackApiError) as unavailable:
        await client.chat_update(channel="C1", ts="1", text="x")
    assert unavailable.value.response.status_code == 503
    with pytest.raises(SlackApiError) as custom:
        await client.users_info(user="U1")
    assert custom.value.response["error"] == "user_not_visible"

    slack.fail_next("auth.test", delay=0.2)
    started = time.monotonic()
    assert (await client.auth_test())["ok"] is True
    assert time.monotonic() - started >= 0.2
    assert [c.failed for c in slack.calls] == [True, True, True, False]
    assert slack.posted() == []


async def test_retry_handler_recovers_from_injected_429(slack: FakeSlack) -> None:
    client = client_for(slack)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
    slack.fail_next("chat.postMessage", status=429, retry_after=0)
    await client.chat_postMessage(channel="C1", text="eventually")
    attempts = slack.calls_to("chat.postMessage", include_failed=True)
    assert len(attempts) == 2
    assert len(slack.calls_to("chat.postMessage")) == 1


async def test_channel_token_bucket() -> None:
    async with FakeSlack(channel_rate_per_second=20, channel_burst=2) as slack:
        client = client_for(slack)
        await client.chat_postMessage(channel="C1", text="1")
        await client.chat_postMessage(channel="C1", text="2")
        with pytest.raises(SlackApiError) as limited:
            await client.chat_postMessage(channel="C1", text="3")
        assert limited.value.response.headers["Retry-After"] == "1"
        await client.chat_postMessage(channel="C2", text="other channel has its own bucket")
        await asyncio.sleep(0.1)  # 20/s refills a token in 50 ms
        await client.chat_postMessage(channel="C1", text="4")
        assert [m["text"] for m in slack.posted("C1")] == ["1", "2", "4"]
        assert slack.rate_limited_count == 1


def test_slack_signing_matches_slack_sdk_verifier() -> None:
    body = slack_form_body({"type": "block_actions", "actions": []})
    headers = slack_signature_headers(body, "shh", timestamp=int(time.time()))
    assert SignatureVerifier("shh").is_valid_request(body, headers)
    assert not SignatureVerifier("other").is_valid_request(body, headers)
    assert slack_command_body({"command": "/hitl", "text": "a b"}) == "command=%2Fhitl&text=a+b"


async def test_conversations_history_lists_newest_first_with_metadata_on_request(
    slack: FakeSlack,
) -> None:
    client = client_for(slack)
    metadata = {"event_type": "hitl_step", "event_payload": {"step_id": "s1"}}
    first = await client.chat_postMessage(channel="C1", text="one", metadata=metadata)
    await client.chat_postMessage(channel="C1", text="two")
    await client.chat_postMessage(channel="C1", text="reply", thread_ts=first["ts"])
    await client.chat_postMessage(channel="C2", text="elsewhere")

    plain = await client.conversations_history(channel="C1")
    page = await client.conversations_history(channel="C1", limit=1, include_all_metadata=True)
    rest = await client.conversations_history(
        channel="C1", include_all_metadata=True, cursor=page["response_metadata"]["next_cursor"]
    )

    assert [m["text"] for m in plain["messages"]] == ["two", "one"]
    assert all("metadata" not in m for m in plain["messages"])
    assert [m["text"] for m in page["messages"]] == ["two"]
    assert page["has_more"] is True
    assert rest["messages"][0]["metadata"] == metadata
    assert rest["response_metadata"]["next_cursor"] == ""


async def test_answer_late_does_the_call_and_holds_only_its_answer(slack: FakeSlack) -> None:
    slack.answer_late("chat.postMessage", delay=30)
    posting = asyncio.create_task(client_for(slack).chat_postMessage(channel="C1", text="hi"))

    (call,) = await slack.wait_for("chat.postMessage")
    assert call["channel"] == "C1"
    assert [m["text"] for m in slack.posted("C1")] == ["hi"]
    await asyncio.sleep(0.1)
    assert not posting.done()  # the caller has not heard
    posting.cancel()
    # Only that one call: the next is answered at once.
    again = await client_for(slack).chat_postMessage(channel="C1", text="again")
    assert again["ok"]
