"""Reading who acted and on what from a Slack payload, and answering them privately."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.notices import notice_view

log = logging.getLogger(__name__)


def user_id_of(body: dict[str, Any]) -> str:
    user = body.get("user") or {}
    return str(user.get("id") or "unknown")


def action_value(body: dict[str, Any]) -> str:
    """The value of the button clicked: the step's id."""
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value") or "")


async def tell(respond: AsyncRespond, text: str) -> None:
    """An ephemeral note to the person who clicked; the channel message stays as it is."""
    if respond.response_url is None:
        # Clicks from Slack's own UI carry one; a request without it gets its ack only.
        log.info("no response_url to send a note to; the ack is the whole answer")
        return
    await respond(text=text, response_type="ephemeral", replace_original=False)


async def tell_clicker(
    body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond, text: str
) -> None:
    """An ephemeral note, or a small modal when the click came from the Home tab (which
    has no response_url to answer)."""
    if body.get("response_url"):
        await tell(respond, text)
    else:
        await client.views_open(trigger_id=body["trigger_id"], view=notice_view(text))
