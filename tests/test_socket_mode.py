"""bot/socket_mode.py without a socket: which ack an answer gets, what identifies an envelope
delivered again, and the memory that handles a repeat once."""

from __future__ import annotations

import asyncio

import pytest
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.socket_mode import NOT_ACKNOWLEDGED, Ack, RecentEnvelopes, ack_for, envelope_keys


def request(envelope_id: str, **payload: object) -> SocketModeRequest:
    return SocketModeRequest(type="interactive", envelope_id=envelope_id, payload=dict(payload))


def test_a_json_answer_is_the_acks_payload() -> None:
    ack = ack_for(200, '{"response_action": "errors", "errors": {"b": "x"}}', "application/json")

    assert ack == Ack(sent=True, payload={"response_action": "errors", "errors": {"b": "x"}})


def test_an_empty_answer_is_an_empty_ack() -> None:
    assert ack_for(200, "", "application/json") == Ack(sent=True)


def test_a_refusal_is_acked_empty_and_a_server_error_not_at_all() -> None:
    assert ack_for(403, '{"ok": false}', "application/json") == Ack(sent=True)
    assert ack_for(404, "unhandled", "text/plain") == Ack(sent=True)
    assert ack_for(503, '{"ok": false}', "application/json") == NOT_ACKNOWLEDGED


def test_a_text_answer_is_sent_as_text() -> None:
    assert ack_for(200, "hello", "text/plain") == Ack(sent=True, payload={"text": "hello"})


def test_an_envelope_is_known_by_its_id_trigger_id_and_event_id() -> None:
    assert envelope_keys(request("E1", trigger_id="T1")) == ("envelope:E1", "trigger_id:T1")
    assert envelope_keys(request("E2", event_id="Ev1")) == ("envelope:E2", "event_id:Ev1")
    assert envelope_keys(request("E3")) == ("envelope:E3",)


async def test_a_repeat_is_answered_with_the_first_ack_without_handling_it() -> None:
    recent = RecentEnvelopes()
    handled: list[str] = []

    async def handle() -> Ack:
        handled.append("x")
        return Ack(sent=True, payload={"n": len(handled)})

    first = await recent.once(("envelope:E1", "trigger_id:T1"), handle)
    # Delivered again under another envelope id: the trigger id still matches.
    again = await recent.once(("envelope:E9", "trigger_id:T1"), handle)

    assert first == (Ack(sent=True, payload={"n": 1}), False)
    assert again == (Ack(sent=True, payload={"n": 1}), True)
    assert handled == ["x"]


async def test_a_repeat_arriving_while_the_first_is_handled_waits_for_it() -> None:
    recent = RecentEnvelopes()
    release = asyncio.Event()
    calls = 0

    async def slow() -> Ack:
        nonlocal calls
        calls += 1
        await release.wait()
        return Ack(sent=True)

    first = asyncio.create_task(recent.once(("envelope:E1",), slow))
    await asyncio.sleep(0)
    second = asyncio.create_task(recent.once(("envelope:E1",), slow))
    await asyncio.sleep(0)
    release.set()

    assert await first == (Ack(sent=True), False)
    assert await second == (Ack(sent=True), True)
    assert calls == 1


async def test_an_envelope_not_acked_is_forgotten_so_its_repeat_is_handled() -> None:
    recent = RecentEnvelopes()
    answers = [NOT_ACKNOWLEDGED, Ack(sent=True)]

    async def handle() -> Ack:
        return answers.pop(0)

    assert await recent.once(("envelope:E1",), handle) == (NOT_ACKNOWLEDGED, False)
    assert await recent.once(("envelope:E1",), handle) == (Ack(sent=True), False)
    assert answers == []


async def test_a_failure_while_handling_is_forgotten_too() -> None:
    recent = RecentEnvelopes()

    async def broken() -> Ack:
        raise RuntimeError("bug")

    async def fine() -> Ack:
        return Ack(sent=True)

    with pytest.raises(RuntimeError):
        await recent.once(("envelope:E1",), broken)
    assert await recent.once(("envelope:E1",), fine) == (Ack(sent=True), False)


async def test_only_the_latest_envelopes_are_remembered() -> None:
    recent = RecentEnvelopes(size=3)

    async def handle() -> Ack:
        return Ack(sent=True)

    for n in range(5):
        await recent.once((f"envelope:E{n}", f"trigger_id:T{n}"), handle)

    assert len(recent) == 3
    assert (await recent.once(("trigger_id:T0",), handle))[1] is False
    assert (await recent.once(("trigger_id:T4",), handle))[1] is True
