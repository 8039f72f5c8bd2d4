"""Intercom's webhook deliveries for tests, the demo and the benchmark: a sample
(bot/samples/) as a new step, ready to sign and send."""

from __future__ import annotations

import copy
import time
import uuid
from typing import Any

from bot.samples import load_sample


def fresh_delivery(
    sample: str | dict[str, Any] = "refund_approval",
    *,
    callback_origin: str,
    now: float | None = None,
    **item_changes: Any,
) -> dict[str, Any]:
    """`sample` (a name in bot/samples/, or a delivery) as a new step.

    It gets its own step id and notification id, and its callback_url on `callback_origin`
    (a fake Intercom) unless `item_changes` gives one. The sample's fixed times move to
    `now` (default: the clock), keeping its window and its conversation's pace, so a
    sample never arrives already expired. `item_changes` then set fields of the item.
    """
    payload = copy.deepcopy(load_sample(sample) if isinstance(sample, str) else sample)
    payload["id"] = f"notif_{uuid.uuid4()}"
    item = payload["data"]["item"]
    item["step_id"] = str(uuid.uuid4())
    sent_at = payload.get("created_at")
    if isinstance(sent_at, int):
        shift = int(time.time() if now is None else now) - sent_at
        for key in ("created_at", "first_sent_at"):
            if isinstance(payload.get(key), int):
                payload[key] += shift
        if isinstance(item.get("expires_at"), int):
            item["expires_at"] += shift
        for message in item.get("recent_messages") or []:
            if isinstance(message, dict) and isinstance(message.get("created_at"), int):
                message["created_at"] += shift
    item.update(item_changes)
    if "callback_url" not in item_changes:
        item["callback_url"] = (
            f"{callback_origin}/procedures/{item.get('conversation_id')}/collect_agent_input"
        )
    return payload


def step_id_of(payload: dict[str, Any]) -> str:
    return str(payload["data"]["item"]["step_id"])
