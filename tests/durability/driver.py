"""Acts as Intercom and as Slack users towards a bot at a URL: signed, as they sign."""

from __future__ import annotations

import copy
import json
import time
import uuid
from typing import Any

import aiohttp

from bot.fakes import slack_payloads
from bot.fakes.intercom import FakeIntercom
from bot.fakes.local_stack import CHANNEL_ID, INTERCOM_CLIENT_SECRET, SLACK_SIGNING_SECRET
from bot.fakes.signing import sign_intercom, slack_form_body, slack_signature_headers
from bot.samples import load_sample

YES = "hitl.answer.yes"


def hitl_delivery(
    intercom: FakeIntercom, sample: str = "single_boolean", **item_changes: Any
) -> dict[str, Any]:
    """A sample webhook as a new step: fresh ids, its callback at the fake, and an expiry
    (if the sample has one) a day from now rather than the sample's fixed date."""
    payload = copy.deepcopy(load_sample(sample))
    payload["id"] = f"notif_{uuid.uuid4()}"
    item = payload["data"]["item"]
    item["step_id"] = f"step-{uuid.uuid4().hex[:12]}"
    if "expires_at" in item:
        item["expires_at"] = int(time.time()) + 86_400
    item.update(item_changes)
    item["callback_url"] = intercom.callback_url(item["conversation_id"])
    return payload


def step_id_of(payload: dict[str, Any]) -> str:
    return str(payload["data"]["item"]["step_id"])


def conversation_id_of(payload: dict[str, Any]) -> str:
    return str(payload["data"]["item"]["conversation_id"])


async def send_webhook(session: aiohttp.ClientSession, url: str, payload: dict[str, Any]) -> int:
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature": sign_intercom(body, INTERCOM_CLIENT_SECRET),
    }
    async with session.post(f"{url}/intercom/webhook", data=body, headers=headers) as response:
        await response.read()
        return response.status


async def click(
    session: aiohttp.ClientSession,
    url: str,
    step_id: str,
    action_id: str = YES,
    *,
    user_id: str = "U0ALICE",
    message_ts: str = "0",
    response_url: str = "http://127.0.0.1:9/unused",
) -> int:
    """A button on the step's channel message clicked by `user_id`, as Slack posts it."""
    payload = slack_payloads.block_actions(
        step_id,
        action_id,
        user_id=user_id,
        channel_id=CHANNEL_ID,
        message_ts=message_ts,
        response_url=response_url,
    )
    body = slack_form_body(payload)
    headers = slack_signature_headers(body, SLACK_SIGNING_SECRET)
    async with session.post(f"{url}/slack/events", data=body.encode(), headers=headers) as response:
        await response.read()
        return response.status


async def submit(
    session: aiohttp.ClientSession,
    url: str,
    view: dict[str, Any],
    values: dict[str, Any],
    *,
    user_id: str = "U0ALICE",
) -> tuple[int, Any]:
    """Submits a form the bot opened, with Slack's `state.values`; returns status and body."""
    payload = slack_payloads.view_submission(view, values, user_id=user_id)
    body = slack_form_body(payload)
    headers = slack_signature_headers(body, SLACK_SIGNING_SECRET)
    async with session.post(f"{url}/slack/events", data=body.encode(), headers=headers) as response:
        text = await response.text()
        return response.status, json.loads(text) if text else None
