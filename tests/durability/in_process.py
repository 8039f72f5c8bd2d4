"""The real app served in this process (LocalStack), for races that need no kill."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from bot.domain import StepState
from bot.testing.deliveries import fresh_delivery, step_id_of
from bot.testing.local_stack import LocalStack

from .conftest import Fakes
from .helpers import wait_state

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


@asynccontextmanager
async def one_posted_step(
    database_url: str, fakes: Fakes, **overrides: Any
) -> AsyncIterator[tuple[LocalStack, str]]:
    """One app instance with a new boolean step posted to the channel: (stack, step id)."""
    payload = fresh_delivery("single_boolean", callback_origin=fakes.intercom.origin)
    step_id = step_id_of(payload)
    async with instances(database_url, fakes, 1, **overrides) as (stack,):
        await stack.send_webhook(payload)
        await wait_state(stack.store, step_id, StepState.POSTED)
        yield stack, step_id
