"""The real app served in this process (LocalStack), for races that need no kill."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from bot.testing.local_stack import LocalStack

from .conftest import Fakes

# Each field of the boolean sample's form (one Yes/No radio), answered Yes.
YES_FORM = {
    "hitl.attr.0": {
        "hitl.value.0": {
            "type": "radio_buttons",
            "selected_option": {"text": {"type": "plain_text", "text": "Yes"}, "value": "true"},
        }
    }
}


@asynccontextmanager
async def instances(
    database_url: str, fakes: Fakes, count: int, **overrides: Any
) -> AsyncIterator[list[LocalStack]]:
    """`count` app instances on one database, sharing the test's fakes (never restarting them)."""

    async def already_running() -> None:
        return None

    with pytest.MonkeyPatch.context() as patch:
        for fake in (fakes.slack, fakes.intercom):
            patch.setattr(fake, "start", already_running)
            patch.setattr(fake, "stop", already_running)
        stacks = [
            LocalStack(
                database_url,
                slack=fakes.slack,
                intercom=fakes.intercom,
                settings_overrides={"hitl_poll_interval": 0.05, **overrides},
            )
            for _ in range(count)
        ]
        started: list[LocalStack] = []
        try:
            for stack in stacks:
                await stack.start()
                started.append(stack)
            yield stacks
        finally:
            for stack in reversed(started):
                await stack.stop()
