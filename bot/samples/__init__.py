"""Sample Intercom webhook deliveries in the published shape (README.md here), shipped with
the bot: the one copy the demo, the tests and the benchmark all load."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from bot.domain import Step

_HERE = Path(__file__).parent

# The published payload's samples (README.md here): Intercom's own example, then ours.
HITL_SAMPLES = ("documented_example", "refund_approval", "single_boolean", "all_types")


def sample_bytes(name: str) -> bytes:
    """The sample delivery's body exactly as the file holds it (`name` without `.json`)."""
    return (_HERE / f"{name}.json").read_bytes()


def load_sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(sample_bytes(name))
    return data


TEST_PREFIX = "[TEST] "
TEST_NOTE = (
    "🧪 This is a test step, not a real customer conversation. Answering it checks the bot "
    "end to end in Slack; the answer is not sent to Intercom."
)
TEST_EXPIRES_AFTER_SECONDS = 3600
# Never called: the deliver job settles a test step without any HTTP request.
_TEST_CALLBACK = "https://intercom.invalid/procedures/test/collect_agent_input"


def test_step(now: float) -> Step:
    """The single-boolean sample as a test step, expiring an hour from `now`."""
    item = load_sample("single_boolean")["data"]["item"]
    step_id = f"test-{uuid.uuid4()}"
    messages = item["recent_messages"]
    # The sample's conversation, moved to just before now.
    shift = int(now) - max((m["created_at"] for m in messages), default=int(now)) - 60
    return Step.model_validate(
        {
            "step_id": step_id,
            "conversation_id": f"test-{step_id[5:13]}",
            "callback_url": _TEST_CALLBACK,
            "procedure_name": TEST_PREFIX + item["procedure_name"],
            "hitl_question": f"{TEST_NOTE}\n{item['hitl_question']}",
            "attributes": [
                {k: a[k] for k in ("identifier", "data_type", "name", "label")}
                for a in item["attributes_to_collect"]
            ],
            "expires_at": int(now) + TEST_EXPIRES_AFTER_SECONDS,
            "priority": item["priority"],
            "recent_messages": [
                {
                    "id": m["id"],
                    "part_type": m["part_type"],
                    "created_at": m["created_at"] + shift,
                    "author": {k: m["author"][k] for k in ("type", "id", "name", "email")},
                    "body": m["body"],
                }
                for m in messages
            ],
            "test": True,
        }
    )
