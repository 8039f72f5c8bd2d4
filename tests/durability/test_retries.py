"""Retries wait as long as Slack or Intercom ask (Retry-After), back off otherwise, and a
job that cannot succeed gives up loudly: in the log with its ids, and on the message."""

from __future__ import annotations

import logging

import pytest

from bot.domain import StepState
from bot.testing.intercom import Reply

from .conftest import Fakes
from .driver import hitl_delivery, step_id_of
from .helpers import messages_for, text_of, wait_jobs_done, wait_state, wait_until
from .in_process import instances

# The fakes stamp arrivals with the monotonic clock; the bot schedules a retry by the
# wall clock, which the host may step or slew meanwhile (a 1 s wait once measured
# 0.999995 s here).
CLOCKS_DISAGREE = 0.01


def _records(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == message]


async def test_slack_retry_after_is_waited_out_before_posting_again(
    fakes: Fakes, sqlite_url: str
) -> None:
    fakes.slack.fail_next("chat.postMessage", status=429, retry_after=1)
    payload = hitl_delivery(fakes.intercom)
    async with instances(sqlite_url, fakes, 1) as (stack,):
        await stack.send_webhook(payload)
        await wait_state(stack.store, step_id_of(payload), StepState.POSTED, timeout=5)

    first, second = [c for c in fakes.slack.calls if c.method == "chat.postMessage"]
    assert first.failed
    assert not second.failed
    assert 1.0 - CLOCKS_DISAGREE <= second.at - first.at < 1.8


async def test_intercom_retry_after_is_waited_out_before_delivering_again(
    fakes: Fakes, sqlite_url: str
) -> None:
    payload = hitl_delivery(fakes.intercom)
    step_id = step_id_of(payload)
    fakes.intercom.script(step_id, Reply(429, retry_after=1))
    async with instances(sqlite_url, fakes, 1) as (stack,):
        await stack.send_webhook(payload)
        await wait_state(stack.store, step_id, StepState.POSTED)
        await stack.click(step_id, "hitl.answer.yes")
        await wait_state(stack.store, step_id, StepState.ANSWERED, timeout=5)

    first, second = fakes.intercom.callbacks
    assert (first.status, second.status) == (429, 200)
    assert 1.0 - CLOCKS_DISAGREE <= second.at - first.at < 1.8


async def test_delivery_that_keeps_failing_gives_up_and_says_why_on_the_message(
    fakes: Fakes, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    payload = hitl_delivery(fakes.intercom)
    step_id = step_id_of(payload)
    conversation_id = payload["data"]["item"]["conversation_id"]
    fakes.intercom.script(step_id, *[Reply.unavailable()] * 20)
    async with instances(sqlite_url, fakes, 1, hitl_give_up_after=0.5) as (stack,):
        await stack.send_webhook(payload)
        await wait_state(stack.store, step_id, StepState.POSTED)
        await stack.click(step_id, "hitl.answer.yes")
        record = await wait_state(stack.store, step_id, StepState.FAILED, timeout=8)
        await wait_jobs_done(stack.store, step_id)

    attempts = len(fakes.intercom.callbacks)
    assert attempts >= 2
    assert record.outcome_detail == f"Gave up after {attempts} attempts: Intercom answered 503"
    (message,) = messages_for(fakes.slack, step_id)
    assert "Not delivered to Fin: Gave up after" in text_of(message)
    retried = _records(caplog, "job will be retried")
    assert len(retried) == attempts - 1
    (gave_up,) = _records(caplog, "giving up delivering the answer")
    for record_ in [*retried, gave_up]:
        assert record_.__dict__["step_id"] == step_id
        assert record_.__dict__["conversation_id"] == conversation_id
    assert gave_up.levelno == logging.ERROR


async def test_post_that_keeps_failing_is_logged_with_its_ids_until_it_gives_up(
    fakes: Fakes, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    fakes.slack.fail_next("chat.postMessage", status=503, times=20)
    payload = hitl_delivery(fakes.intercom)
    step_id = step_id_of(payload)
    conversation_id = payload["data"]["item"]["conversation_id"]
    async with instances(sqlite_url, fakes, 1, hitl_give_up_after=0.5) as (stack,):
        await stack.send_webhook(payload)

        async def gave_up() -> logging.LogRecord | None:
            found = _records(caplog, "giving up on a Slack job")
            return found[0] if found else None

        record = await wait_until(gave_up, "the post job to give up", timeout=8)
        await wait_jobs_done(stack.store, step_id)

    assert record.levelno == logging.ERROR
    assert (record.__dict__["step_id"], record.__dict__["conversation_id"]) == (
        step_id,
        conversation_id,
    )
    retried = _records(caplog, "job will be retried")
    assert retried
    assert all(r.__dict__["conversation_id"] == conversation_id for r in retried)
    assert messages_for(fakes.slack, step_id) == []
