"""Loopback fakes of Slack's Web API and Intercom's API, plus request signing helpers."""

from bot.testing.intercom import FakeIntercom, RecordedCallback, RecordedNote, Reply
from bot.testing.signing import (
    sign_intercom,
    slack_command_body,
    slack_form_body,
    slack_signature_headers,
)
from bot.testing.slack import FakeSlack, SlackCall

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
