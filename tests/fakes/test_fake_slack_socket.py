"""The fake's Socket Mode side, spoken to as a bare WebSocket client: the URL, hello,
envelopes and acks, disconnect, drops, lost acks and redelivery."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.testing import FakeSlack

APP_TOKEN = "xapp-1-A0HITL-1-fake-socket-test"
BOT_TOKEN = "xoxb-test-token"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(token=BOT_TOKEN, app_token=APP_TOKEN) as fake:
        yield fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


async def open_url(slack: FakeSlack, token: str = APP_TOKEN) -> str:
    answer = await AsyncWebClient(base_url=slack.base_url).apps_connections_open(app_token=token)
    return str(answer["url"])


async def receive(socket: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message = await socket.receive(timeout=5)
    assert message.type == aiohttp.WSMsgType.TEXT, message
    parsed: dict[str, Any] = json.loads(message.data)
    return parsed


async def connect(
    slack: FakeSlack, session: aiohttp.ClientSession
) -> aiohttp.ClientWebSocketResponse:
    socket = await session.ws_connect(await open_url(slack))
    assert (await receive(socket))["type"] == "hello"
    return socket


async def test_connections_open_takes_only_the_app_token(slack: FakeSlack) -> None:
    url = await open_url(slack)

    assert url.startswith(f"ws://127.0.0.1:{slack.url.rsplit(':', 1)[1]}/socket/")
    for token, error in [(BOT_TOKEN, "not_allowed_token_type"), ("xapp-wrong", "invalid_auth")]:
        with pytest.raises(SlackApiError) as refused:
            await open_url(slack, token)
        assert refused.value.response["error"] == error


async def test_a_socket_url_works_once(slack: FakeSlack, session: aiohttp.ClientSession) -> None:
    url = await open_url(slack)
    socket = await session.ws_connect(url)
    await socket.close()

    with pytest.raises(aiohttp.WSServerHandshakeError):
        await session.ws_connect(url)


async def test_an_envelope_and_its_ack_are_recorded(
    slack: FakeSlack, session: aiohttp.ClientSession
) -> None:
    socket = await connect(slack, session)

    envelope_id = await slack.socket.send("slash_commands", {"command": "/hitl"})
    envelope = await receive(socket)
    await socket.send_str(json.dumps({"envelope_id": envelope_id, "payload": {"text": "hi"}}))
    ack = await slack.socket.wait_ack(envelope_id)

    assert envelope == {
        "envelope_id": envelope_id,
        "type": "slash_commands",
        "payload": {"command": "/hitl"},
        "accepts_response_payload": True,
    }
    assert ack.payload == {"text": "hi"}
    assert ack.connection == 1
    assert 0 <= ack.seconds < 1
    await socket.close()


async def test_events_carry_their_retry_fields(
    slack: FakeSlack, session: aiohttp.ClientSession
) -> None:
    socket = await connect(slack, session)

    await slack.socket.send("events_api", {"event_id": "Ev1"})
    envelope = await receive(socket)

    assert envelope["accepts_response_payload"] is False
    assert (envelope["retry_attempt"], envelope["retry_reason"]) == (0, "")
    await socket.close()


async def test_an_unacked_envelope_comes_again_on_the_next_socket(
    slack: FakeSlack, session: aiohttp.ClientSession
) -> None:
    first = await connect(slack, session)
    envelope_id = await slack.socket.send("interactive", {"type": "block_actions"})
    await receive(first)
    await slack.socket.drop()

    second = await connect(slack, session)
    again = await receive(second)

    assert again["envelope_id"] == envelope_id
    assert again["retry_attempt"] == 1
    assert slack.socket.envelopes[envelope_id].connections == [1, 2]
    await second.close()


async def test_a_lost_ack_drops_the_socket_and_is_not_recorded(
    slack: FakeSlack, session: aiohttp.ClientSession
) -> None:
    socket = await connect(slack, session)
    slack.socket.lose_next_acks(1)
    envelope_id = await slack.socket.send("interactive", {"type": "block_actions"})
    await receive(socket)

    await socket.send_str(json.dumps({"envelope_id": envelope_id}))
    closing = await socket.receive(timeout=5)

    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert slack.socket.lost_acks == [envelope_id]
    assert slack.socket.acks == []


async def test_disconnect_asks_the_client_to_reconnect(
    slack: FakeSlack, session: aiohttp.ClientSession
) -> None:
    socket = await connect(slack, session)

    await slack.socket.disconnect("warning")

    assert (await receive(socket))["type"] == "disconnect"
    await socket.close()


async def test_redelivery_on_demand_uses_the_current_socket(
    slack: FakeSlack, session: aiohttp.ClientSession
) -> None:
    socket = await connect(slack, session)
    envelope_id = await slack.socket.send("interactive", {"type": "block_actions"})
    await receive(socket)

    assert await slack.socket.redeliver_unacked() == [envelope_id]
    assert (await receive(socket))["retry_attempt"] == 1
    await socket.close()
