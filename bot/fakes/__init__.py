"""Loopback fakes of Slack's Web API and Intercom's API, plus request signing helpers."""

from bot.fakes.intercom import FakeIntercom, RecordedCallback, RecordedNote, Reply
from bot.fakes.signing import (
    sign_intercom,
    slack_command_body,
    slack_form_body,
    slack_signature_headers,
)
from bot.fakes.slack import FakeSlack, SlackCall

__all__ = [
    "FakeIntercom",
    "FakeSlack",
    "RecordedCallback",
    "RecordedNote",
    "Reply",
    "SlackCall",
    "sign_intercom",
    "slack_command_body",
    "slack_form_body",
    "slack_signature_headers",
]
