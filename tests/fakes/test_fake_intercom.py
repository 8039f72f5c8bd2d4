"""Tests that FakeIntercom answers HITL callbacks and notes over HTTP as Intercom would."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.testing import FakeIntercom, Reply, sign_intercom

TOKEN = "intercom-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Intercom-Version": "Preview"}


def answer(step_id: str) -> dict[str, Any]:
    return {"step_id": step_id, "attribute_values": [{"identifier": "approved", "value": True}]}


@pytest.fixture
async def intercom() -> AsyncIterator[FakeIntercom]:
    async with FakeIntercom() as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post(
    http: aiohttp.ClientSession, url: str, body: Any, headers: dict[str, str] = AUTH
) -> tuple[int, dict[str, Any], aiohttp.ClientResponse]:
    async with http.post(url, json=body, headers=headers) as resp:
        return resp.status, await resp.json(), resp


async def test_default_accept_then_conflict(
    intercom: FakeIntercom, http: aiohttp.ClientSession
) -> None:
    url = intercom.callback_url("215473853299345")
    assert url == f"{intercom.origin}/procedures/215473853299345/collect_agent_input"
    assert (await post(http, url, answer("s1")))[:2] == (200, {})
    status, body, _ = await post(http, url, answer("s1"))
    assert status == 409
    assert body["type"] == "error.list"
    assert body["request_id"]
    assert body["errors"][0] == {
        "code": "conflict",
        "message": "This HITL request has already been fulfilled",
    }
    [accepted] = intercom.accepted
    assert (accepted.conversation_id, accepted.step_id) == ("215473853299345", "s1")
    assert accepted.headers["Intercom-Version"] == "Preview"
    assert accepted.body == answer("s1")


async def test_auth_validation_and_expiry(
    intercom: FakeIntercom, http: aiohttp.ClientSession
) -> None:
    url = intercom.callback_url("c1")
    status, body, _ = await post(http, url, answer("s1"), headers={"Authorization": "Bearer x"})
    assert (status, body["errors"][0]["code"]) == (401, "unauthorized")
    assert body["errors"][0]["message"] == "Access Token Invalid"

    status, body, _ = await post(http, url, {"step_id": "s1", "attribute_values": "nope"})
    assert (status, body["errors"][0]["code"]) == (400, "parameter_invalid")

    intercom.expire("s2")
    status, body, _ = await post(http, url, answer("s2"))
    assert (status, body["errors"][0]["message"]) == (404, "This HITL request has expired")
    assert [(c.step_id, c.status) for c in intercom.callbacks] == [
        ("s1", 401),
        ("s1", 400),
        ("s2", 404),
    ]
    assert intercom.accepted == []


async def test_scripted_replies_then_default(
    intercom: FakeIntercom, http: aiohttp.ClientSession
) -> None:
    url = intercom.callback_url("c1")
    intercom.script("s1", Reply.rate_limited(retry_after=3), Reply.forbidden(), Reply.unavailable())
    status, _, resp = await post(http, url, answer("s1"))
    assert (status, resp.headers["Retry-After"]) == (429, "3")
    status, body, _ = await post(http, url, answer("s1"))
    assert (status, body["errors"][0]["message"]) == (
        403,
        "Admin does not have access to this conversation",
    )
    assert (await post(http, url, answer("s1")))[0] == 503
    assert (await post(http, url, answer("s1")))[0] == 200
    assert (await post(http, url, answer("s1")))[0] == 409


async def test_drop_and_delay_provoke_client_errors(
    intercom: FakeIntercom, http: aiohttp.ClientSession
) -> None:
    url = intercom.callback_url("c1")
    intercom.script("s1", Reply(drop=True), Reply(delay=5.0))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await post(http, url, answer("s1"))
    with pytest.raises(TimeoutError):
        await http.post(
            url, json=answer("s1"), headers=AUTH, timeout=aiohttp.ClientTimeout(total=0.2)
        )
    # The dropped request did not fulfil the step; the delayed one did, unseen by the client.
    assert intercom.callbacks[0].status == 0
    assert (await post(http, url, answer("s1")))[0] == 409


async def test_script_all_gives_every_step_its_own_copy(
    intercom: FakeIntercom, http: aiohttp.ClientSession
) -> None:
    url = intercom.callback_url("c1")
    intercom.script_all(Reply.unavailable())
    statuses = [(await post(http, url, answer(step)))[0] for step in ("a", "b", "a", "b")]
    assert statuses == [503, 503, 200, 200]
    assert [c.step_id for c in await intercom.wait_for_callbacks(2, status=200)] == ["a", "b"]


async def test_notes_and_waiting(intercom: FakeIntercom, http: aiohttp.ClientSession) -> None:
    note = {"message_type": "note", "type": "admin", "admin_id": "42", "body": "Approved"}
    waiter = asyncio.create_task(intercom.wait_for_notes())
    url = f"{intercom.origin}/conversations/c1/reply"
    status, body, _ = await post(http, url, note)
    assert (status, body["type"], body["id"]) == (200, "conversation", "c1")
    [recorded] = await waiter
    assert (recorded.conversation_id, recorded.body) == ("c1", note)

    intercom.script_notes(Reply.forbidden())
    assert (await post(http, url, note))[0] == 403
    with pytest.raises(TimeoutError, match="wanted 1 callback"):
        await intercom.wait_for_callbacks(timeout=0.05)


def test_sign_intercom_is_hmac_sha1_of_the_raw_body() -> None:
    body = b'{"type":"notification_event"}'
    expected = hmac.new(b"secret", body, hashlib.sha1).hexdigest()
    assert sign_intercom(body, "secret") == f"sha1={expected}"
