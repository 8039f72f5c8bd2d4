"""Logs carry step ids and never a secret."""

from __future__ import annotations

import json
import logging

import pytest

from bot.logs import JsonFormatter, SecretScrubber, configure_logging
from bot.samples import load_sample
from bot.testing.intercom import Reply
from bot.testing.local_stack import (
    INTERCOM_CLIENT_SECRET,
    INTERCOM_TOKEN,
    SLACK_SIGNING_SECRET,
    SLACK_TOKEN,
    LocalStack,
)

SECRETS = (SLACK_TOKEN, SLACK_SIGNING_SECRET, INTERCOM_TOKEN, INTERCOM_CLIENT_SECRET)


async def test_a_full_round_trip_logs_no_secret(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    """Runs failures and successes with DEBUG logging on, then greps every line."""
    configure_logging("DEBUG", "json", SECRETS)
    try:
        payload = stack.hitl_payload(load_sample("single_boolean"))
        step_id = payload["data"]["item"]["step_id"]
        stack.intercom.script(step_id, Reply.unauthorized())
        await stack.send_webhook(payload, signature="sha1=wrong")
        await stack.send_webhook(payload)
        await stack.slack.wait_for("chat.postMessage")
        await stack.click(step_id, "hitl.answer.yes")
        await stack.slack.wait_for(
            "chat.update", predicate=lambda p: "Not delivered" in str(p.get("blocks"))
        )
    finally:
        logging.getLogger().handlers.clear()
    output = capsys.readouterr().err
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(line.get("step_id") == step_id for line in lines)
    for secret in SECRETS:
        assert secret not in output


def test_scrubber_redacts_secrets_in_messages_fields_and_tracebacks() -> None:
    scrubber = SecretScrubber([SLACK_TOKEN])
    try:
        raise RuntimeError(f"token {SLACK_TOKEN} refused")
    except RuntimeError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "got %s", (SLACK_TOKEN,), None)
        import sys

        record.exc_info = sys.exc_info()
    record.detail = f"Bearer {SLACK_TOKEN}"
    record.authorization = "anything"
    assert scrubber.filter(record)
    line = JsonFormatter().format(record)
    assert SLACK_TOKEN not in line
    assert "[redacted]" in line
