"""The durability tests' words for driving a bot in another process: each a line over
bot/testing/driver.py's `Driver` and bot/testing/deliveries.py's `fresh_delivery`."""

from __future__ import annotations

from typing import Any

import aiohttp

from bot.testing.deliveries import fresh_delivery, step_id_of
from bot.testing.driver import YES, Driver
from bot.testing.intercom import FakeIntercom

__all__ = ["YES", "click", "hitl_delivery", "send_webhook", "step_id_of", "submit"]


def hitl_delivery(
    intercom: FakeIntercom, sample: str = "single_boolean", **item_changes: Any
) -> dict[str, Any]:
    """A sample webhook as a new step, its callback at the fake Intercom."""
    return fresh_delivery(sample, callback_origin=intercom.origin, **item_changes)


async def send_webhook(session: aiohttp.ClientSession, url: str, payload: dict[str, Any]) -> int:
    return (await Driver(url, session).send_webhook(payload)).status


async def click(
    session: aiohttp.ClientSession,
    url: str,
    step_id: str,
    action_id: str = YES,
    *,
    user_id: str = "U0ALICE",
    message_ts: str = "0",
) -> int:
    """A button on the step's channel message clicked by `user_id`, as Slack posts it."""
    driver = Driver(url, session)
    return (await driver.click(step_id, action_id, user_id=user_id, message_ts=message_ts)).status


async def submit(
    session: aiohttp.ClientSession,
    url: str,
    view: dict[str, Any],
    values: dict[str, Any],
    *,
    user_id: str = "U0ALICE",
) -> tuple[int, Any]:
    """Submits a form the bot opened, with Slack's `state.values`; returns status and body."""
    answer = await Driver(url, session).submit(view, values, user_id=user_id)
    return answer.status, answer.body
