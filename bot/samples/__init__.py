"""Sample Intercom webhook deliveries shipped with the bot, for the local demo."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from bot.domain import Attribute, Step

_HERE = Path(__file__).parent

HITL_SAMPLES = ("refund_approval", "single_boolean", "all_types")


def load_sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((_HERE / f"{name}.json").read_text(encoding="utf-8"))
    return data


TEST_PREFIX = "[TEST] "
TEST_INSTRUCTIONS = (
    "🧪 This is a test step, not a real customer conversation. Answering it checks the bot "
    "end to end in Slack; the answer is not sent to Intercom."
)
TEST_EXPIRES_AFTER_SECONDS = 3600
# Never called: the deliver job settles a test step without any HTTP request.
_TEST_CALLBACK = "https://intercom.invalid/procedures/test/collect_agent_input"


def test_step(now: float) -> Step:
    """A sample one-question step, marked as a test, expiring an hour from `now`."""
    item = load_sample("single_boolean")["data"]["item"]
    step_id = f"test-{uuid.uuid4()}"
    return Step(
        step_id=step_id,
        conversation_id=f"test-{step_id[5:13]}",
        callback_url=_TEST_CALLBACK,
        procedure_name=TEST_PREFIX + str(item["procedure"]["name"]),
        instructions=TEST_INSTRUCTIONS,
        attributes=tuple(
            Attribute(
                identifier=a["identifier"], data_type=a["data_type"], name=a.get("name") or ""
            )
            for a in item["attributes_to_collect"]
        ),
        expires_at=int(now) + TEST_EXPIRES_AFTER_SECONDS,
        created_at=int(now),
        test=True,
    )
