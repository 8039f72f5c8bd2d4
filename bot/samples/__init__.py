"""Sample Intercom webhook deliveries shipped with the bot, for the local demo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_HERE = Path(__file__).parent

HITL_SAMPLES = ("refund_approval", "single_boolean", "all_types")


def load_sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((_HERE / f"{name}.json").read_text(encoding="utf-8"))
    return data
