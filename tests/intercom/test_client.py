"""The callback client alone, against the fake Intercom on loopback: the request it sends,
and what each of Intercom's answers becomes."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.domain import AnswerValue, Step
from bot.intercom.client import (
    CallbackOutcome,
    IntercomClient,
    IntercomRefused,
    IntercomRetryable,
)
from bot.metrics import Metrics
from bot.testing.intercom import FakeIntercom, Reply, error_list
from tests.store.factories import make_step

TOKEN = "client-test-token-1234"


@pytest.fixture
async def intercom() -> AsyncIterator[FakeIntercom]:
    async with FakeIntercom(access_token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def client(intercom: FakeIntercom) -> AsyncIterator[IntercomClient]:
    async with httpx.AsyncClient(timeout=2) as http:
        yield IntercomClient(http, TOKEN, metrics=Metrics())


def _step(intercom: FakeIntercom) -> Step:
    step = make_step()
    return step.model_copy(update={"callback_url": intercom.callback_url(step.conversation_id)})


VALUES = (AnswerValue(identifier="approve", value=True, display="Yes"),)


async def test_an_answer_is_posted_as_intercom_documents(
    intercom: FakeIntercom, client: IntercomClient
) -> None:
    step = _step(intercom)

    result = await client.send_answer(step, VALUES)

    assert result.outcome is CallbackOutcome.ACCEPTED
    (callback,) = intercom.callbacks
    assert callback.body == {
        "step_id": step.step_id,
        "attribute_values": [{"identifier": "approve", "value": True}],
    }
    headers = {k.lower(): v for k, v in callback.headers.items()}
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["intercom-version"] == "Preview"


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [
        (Reply.expired(), CallbackOutcome.EXPIRED),
        (Reply.conflict(), CallbackOutcome.ALREADY_ANSWERED),
        (Reply.unauthorized(), CallbackOutcome.REFUSED),
        (Reply.forbidden(), CallbackOutcome.REFUSED),
        (Reply(422), CallbackOutcome.REFUSED),
    ],
    ids=["404", "409", "401", "403", "422"],
)
async def test_final_answers_become_outcomes(
    intercom: FakeIntercom, client: IntercomClient, reply: Reply, outcome: CallbackOutcome
) -> None:
    step = _step(intercom)
    intercom.script(step.step_id, reply)

    result = await client.send_answer(step, VALUES)

    assert (result.outcome, result.status) == (outcome, reply.status)
    assert result.detail.strip()


@pytest.mark.parametrize(
    ("reply", "retry_after"),
    [(Reply.rate_limited(7), 7.0), (Reply.unavailable(), None), (Reply(drop=True), None)],
    ids=["429", "503", "dropped"],
)
async def test_answers_worth_retrying_raise_retryable(
    intercom: FakeIntercom, client: IntercomClient, reply: Reply, retry_after: float | None
) -> None:
    step = _step(intercom)
    intercom.script(step.step_id, reply)

    with pytest.raises(IntercomRetryable) as raised:
        await client.send_answer(step, VALUES)

    assert raised.value.retry_after == retry_after


async def test_an_error_that_echoes_the_token_is_redacted(
    intercom: FakeIntercom, client: IntercomClient
) -> None:
    step = _step(intercom)
    intercom.script(step.step_id, Reply(403, error_list("forbidden", f"bad token {TOKEN}")))

    result = await client.send_answer(step, VALUES)

    assert TOKEN not in result.detail
    assert "[redacted]" in result.detail


async def test_an_answer_that_does_not_match_the_attributes_is_not_sent(
    intercom: FakeIntercom, client: IntercomClient
) -> None:
    with pytest.raises(ValueError, match="attributes"):
        await client.send_answer(_step(intercom), ())
    assert intercom.callbacks == []


async def test_the_note_goes_to_the_conversation_as_the_admin(
    intercom: FakeIntercom, client: IntercomClient
) -> None:
    step = _step(intercom)

    await client.add_note(step, "991", "Answered in Slack")

    (note,) = intercom.notes
    assert note.conversation_id == step.conversation_id
    assert note.body == {
        "message_type": "note",
        "type": "admin",
        "admin_id": "991",
        "body": "Answered in Slack",
    }


async def test_a_refused_note_is_permanent_and_a_throttled_one_retryable(
    intercom: FakeIntercom, client: IntercomClient
) -> None:
    step = _step(intercom)
    intercom.script_notes(Reply(404), Reply.rate_limited(3))

    with pytest.raises(IntercomRefused):
        await client.add_note(step, "991", "x")
    with pytest.raises(IntercomRetryable) as raised:
        await client.add_note(step, "991", "x")
    assert raised.value.retry_after == 3.0


class _ImportSearches:
    """Counts module searches: an import that fails is searched for again every time."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        self.names.append(name)
        return None  # let the real finders answer


async def test_a_callback_imports_nothing_once_the_client_is_warm(
    intercom: FakeIntercom, client: IntercomClient
) -> None:
    """httpcore imports sniffio inside every request; without it installed each callback
    paid a failed search of the whole import path (about 1 ms here)."""
    step = _step(intercom)
    await client.send_answer(step, VALUES)  # lazy imports happen once, here

    searches = _ImportSearches()
    sys.meta_path.insert(0, searches)
    try:
        for _ in range(3):
            await client.send_answer(step, VALUES)
    finally:
        sys.meta_path.remove(searches)

    assert searches.names == []
