"""`GET /metrics` moves when work happens."""

from __future__ import annotations

import re

from bot.samples import load_sample
from bot.testing.intercom import Reply
from bot.testing.local_stack import LocalStack


async def _scrape(stack: LocalStack) -> dict[str, float]:
    async with stack.session.get(f"{stack.url}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        match = re.match(r"^(hitl_[^\s]+)\s+([-+0-9.eE]+|NaN)$", line)
        if match:
            samples[match.group(1)] = float(match.group(2))
    return samples


async def test_metrics_count_webhooks_by_outcome(stack: LocalStack) -> None:
    payload = stack.hitl_payload(load_sample("refund_approval"))
    await stack.send_webhook(payload)
    await stack.send_webhook(payload)
    await stack.send_webhook(payload, signature="sha1=bad")
    samples = await _scrape(stack)
    assert samples['hitl_webhooks_received_total{outcome="accepted"}'] == 1
    assert samples['hitl_webhooks_received_total{outcome="duplicate"}'] == 1
    assert samples['hitl_webhooks_received_total{outcome="unauthorized"}'] == 1


async def test_metrics_report_pending_steps_and_oldest_age(stack: LocalStack) -> None:
    before = await _scrape(stack)
    assert before["hitl_pending_steps"] == 0
    await stack.send_webhook(stack.hitl_payload(load_sample("refund_approval")))
    await stack.slack.wait_for("chat.postMessage")
    samples = await _scrape(stack)
    assert samples["hitl_pending_steps"] == 1
    # Whether the worker has saved the message's ts yet is a race; either open state counts.
    open_steps = samples['hitl_steps{state="posted"}'] + samples['hitl_steps{state="received"}']
    assert open_steps == 1
    assert samples["hitl_oldest_pending_age_seconds"] >= 0


async def test_metrics_record_answers_callbacks_and_time_to_answer(stack: LocalStack) -> None:
    payload = stack.hitl_payload(load_sample("single_boolean"))
    step_id = payload["data"]["item"]["step_id"]
    stack.intercom.script(step_id, Reply.unavailable())
    await stack.send_webhook(payload)
    await stack.slack.wait_for("chat.postMessage")
    await stack.click(step_id, "hitl.answer.yes")
    await stack.intercom.wait_for_callbacks(1, status=200, timeout=10)
    await stack.slack.wait_for(
        "chat.update", predicate=lambda p: "Answered by" in str(p.get("blocks")), timeout=10
    )
    samples = await _scrape(stack)
    assert samples['hitl_callback_attempts_total{status="503"}'] == 1
    assert samples['hitl_callback_attempts_total{status="200"}'] == 1
    assert samples['hitl_answers_total{outcome="answered"}'] == 1
    assert samples["hitl_time_to_answer_seconds_count"] == 1
    assert samples["hitl_callback_latency_seconds_count"] == 2
    assert samples['hitl_steps{state="answered"}'] == 1


async def test_metrics_count_slack_errors_by_method(stack: LocalStack) -> None:
    stack.slack.fail_next("chat.postMessage", error="not_in_channel")
    await stack.send_webhook(stack.hitl_payload(load_sample("refund_approval")))
    await stack.slack.wait_for("chat.postMessage", timeout=10)
    samples = await _scrape(stack)
    assert (
        samples['hitl_slack_api_errors_total{error="not_in_channel",method="chat.postMessage"}']
        == 1
    )
