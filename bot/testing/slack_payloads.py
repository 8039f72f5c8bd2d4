"""The payloads Slack posts to `/slack/events` for clicks, form submissions, options loads and
slash commands, built as pure dicts so every driver (tests, demo, benchmark) sends the same."""

from __future__ import annotations

import time
import uuid
from typing import Any

TEAM = {"id": "T0001", "domain": "fake"}
APP_ID = "A0HITL"


def _user(user_id: str) -> dict[str, str]:
    return {"id": user_id, "username": user_id.lower(), "team_id": TEAM["id"]}


def _trigger_id() -> str:
    return f"trigger-{uuid.uuid4().hex}"


def block_actions(
    step_id: str,
    action_id: str,
    *,
    user_id: str,
    channel_id: str,
    message_ts: str,
    response_url: str,
) -> dict[str, Any]:
    """A button on a step's channel message clicked by `user_id`."""
    return {
        "type": "block_actions",
        "team": TEAM,
        "user": _user(user_id),
        "api_app_id": APP_ID,
        "token": "legacy-unused",
        "trigger_id": _trigger_id(),
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel_id},
        "channel": {"id": channel_id, "name": "hitl"},
        "message": {"ts": message_ts, "text": ""},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "hitl.actions",
                "value": step_id,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def view_submission(
    view: dict[str, Any], values: dict[str, Any], *, user_id: str
) -> dict[str, Any]:
    """A form the bot opened, submitted with Slack's `state.values`."""
    return {
        "type": "view_submission",
        "team": TEAM,
        "user": _user(user_id),
        "api_app_id": APP_ID,
        "token": "legacy-unused",
        "trigger_id": _trigger_id(),
        "view": {
            **view,
            "id": "V0FORM",
            "team_id": TEAM["id"],
            "state": {"values": values},
            "hash": "h",
        },
        "response_urls": [],
    }


def block_suggestion(
    view: dict[str, Any], action_id: str, block_id: str, query: str, *, user_id: str
) -> dict[str, Any]:
    """A type-ahead options load from an external select in a form."""
    return {
        "type": "block_suggestion",
        "user": {"id": user_id, "team_id": TEAM["id"]},
        "team": TEAM,
        "api_app_id": APP_ID,
        "token": "legacy-unused",
        "action_id": action_id,
        "block_id": block_id,
        "value": query,
        "view": {**view, "id": "V0FORM", "team_id": TEAM["id"]},
    }


def slash_command(text: str, *, user_id: str, channel_id: str, response_url: str) -> dict[str, str]:
    """The form fields of a `/hitl` slash command."""
    return {
        "token": "legacy-unused",
        "team_id": TEAM["id"],
        "team_domain": TEAM["domain"],
        "channel_id": channel_id,
        "channel_name": "hitl",
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": "/hitl",
        "text": text,
        "api_app_id": APP_ID,
        "response_url": response_url,
        "trigger_id": _trigger_id(),
    }


def app_home_opened(user_id: str) -> dict[str, Any]:
    """The Events API callback Slack sends when `user_id` opens the app's Home tab."""
    return {
        "token": "legacy-unused",
        "team_id": TEAM["id"],
        "api_app_id": APP_ID,
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "event": {
            "type": "app_home_opened",
            "user": user_id,
            "channel": "D0HOME",
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        },
    }
