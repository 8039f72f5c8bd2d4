"""The real bot served on 127.0.0.1 against the loopback fakes, with a driver that acts as
Intercom and as Slack users would: signed webhooks, button clicks, form submissions.

Used by the test suite, the local demo and the benchmark alike.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web

from bot.app import STORE, create_app
from bot.fakes import slack_payloads
from bot.fakes.intercom import FakeIntercom, ToFakeIntercom
from bot.fakes.signing import (
    sign_intercom,
    slack_command_body,
    slack_form_body,
    slack_signature_headers,
)
from bot.fakes.slack import FakeSlack
from bot.listener import Listener
from bot.settings import Settings
from bot.store import SqlStore

SLACK_TOKEN = "xoxb-local-stack-token"  # noqa: S105 - a made-up token for the fakes
SLACK_SIGNING_SECRET = "local-stack-signing-secret"  # noqa: S105
INTERCOM_TOKEN = "local-stack-intercom-token"  # noqa: S105
INTERCOM_CLIENT_SECRET = "local-stack-client-secret"  # noqa: S105
CHANNEL_ID = "C0HITLTEST"


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: Any

    @property
    def json(self) -> Any:
        return self.body


class LocalStack:
    def __init__(
        self,
        database_url: str,
        *,
        settings_overrides: dict[str, Any] | None = None,
        slack: FakeSlack | None = None,
        intercom: FakeIntercom | None = None,
        intercom_hosts: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`intercom_hosts`: real Intercom API hosts whose requests go to the fake too;
        `clock`: the bot's time (a sample's fixed timestamps can be played unchanged)."""
        self._clock = clock
        self.database_url = database_url
        self.slack = slack or FakeSlack(token=SLACK_TOKEN)
        self.intercom = intercom or FakeIntercom(access_token=INTERCOM_TOKEN)
        self._overrides = settings_overrides or {}
        self._intercom_hosts = intercom_hosts
        self._listener: Listener | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""
        self.settings: Settings | None = None
        self.app: web.Application | None = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def settings_values(self) -> dict[str, Any]:
        """The environment the bot runs with, pointed at the fakes."""
        return {
            "slack_bot_token": SLACK_TOKEN,
            "slack_signing_secret": SLACK_SIGNING_SECRET,
            "slack_channel_id": CHANNEL_ID,
            "slack_api_url": self.slack.base_url,
            "intercom_access_token": INTERCOM_TOKEN,
            "intercom_client_secret": INTERCOM_CLIENT_SECRET,
            "intercom_api_origins": [self.intercom.origin],
            "database_url": self.database_url,
            "hitl_poll_interval": 0.2,
            **self._overrides,
        }

    async def start(self) -> None:
        await self.slack.start()
        await self.intercom.start()
        self.settings = Settings(_env_file=None, **self.settings_values())
        transport = (
            ToFakeIntercom(self.intercom.origin, self._intercom_hosts)
            if self._intercom_hosts
            else None
        )
        self.app = create_app(self.settings, clock=self._clock, intercom_transport=transport)
        self._listener = Listener(
            self.app,
            "127.0.0.1",
            0,
            max_connections=self.settings.hitl_max_connections,
            header_timeout=self.settings.hitl_header_timeout,
        )
        port = await self._listener.start()
        self.url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._listener is not None:
            await self._listener.stop()
        await self.intercom.stop()
        await self.slack.stop()

    @property
    def store(self) -> SqlStore:
        assert self.app is not None
        return self.app[STORE]

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None
        return self._session

    # Intercom's side ---------------------------------------------------------------

    def hitl_payload(self, sample: dict[str, Any], **item_changes: Any) -> dict[str, Any]:
        """A sample delivery with its callback_url pointed at the fake Intercom."""
        payload = copy.deepcopy(sample)
        item = payload["data"]["item"]
        # Samples carry fixed timestamps: move them to now, keeping the step's time window
        # and its conversation's pace, so a sample never arrives already expired.
        sent_at = payload.get("created_at")
        if isinstance(sent_at, int):
            shift = int(time.time()) - sent_at
            for key in ("created_at", "first_sent_at"):
                if isinstance(payload.get(key), int):
                    payload[key] += shift
            if isinstance(item.get("expires_at"), int):
                item["expires_at"] += shift
            for message in item.get("recent_messages") or []:
                if isinstance(message, dict) and isinstance(message.get("created_at"), int):
                    message["created_at"] += shift
        elif isinstance(item.get("expires_at"), int):
            item["expires_at"] = int(time.time()) + 24 * 3600
        item.update(item_changes)
        if "callback_url" not in item_changes:
            item["callback_url"] = self.intercom.callback_url(item["conversation_id"])
        return payload

    async def send_webhook(
        self,
        payload: dict[str, Any] | bytes,
        *,
        signature: str | None = None,
        secret: str = INTERCOM_CLIENT_SECRET,
    ) -> HttpAnswer:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        headers["X-Hub-Signature"] = (
            signature if signature is not None else sign_intercom(body, secret)
        )
        async with self.session.post(
            f"{self.url}/intercom/webhook", data=body, headers=headers
        ) as response:
            return HttpAnswer(response.status, await _body(response))

    # Slack's side --------------------------------------------------------------------

    async def post_to_slack_events(
        self, body: str, *, signing_secret: str = SLACK_SIGNING_SECRET, timestamp: int | None = None
    ) -> HttpAnswer:
        headers = slack_signature_headers(body, signing_secret, timestamp)
        async with self.session.post(
            f"{self.url}/slack/events", data=body.encode(), headers=headers
        ) as response:
            return HttpAnswer(response.status, await _body(response))

    async def click(
        self,
        step_id: str,
        action_id: str,
        *,
        user_id: str = "U0ALICE",
        response_key: str | None = None,
    ) -> HttpAnswer:
        """A button on the step's channel message clicked by `user_id`."""
        record = await self.store.get(step_id)
        message_ts = record.message_ts if record and record.message_ts else "0"
        payload = slack_payloads.block_actions(
            step_id,
            action_id,
            user_id=user_id,
            channel_id=CHANNEL_ID,
            message_ts=message_ts,
            response_url=self.slack.response_url(response_key or f"{action_id}-{user_id}"),
        )
        return await self.post_to_slack_events(slack_form_body(payload))

    async def submit(
        self, view: dict[str, Any], values: dict[str, Any], *, user_id: str = "U0ALICE"
    ) -> HttpAnswer:
        """Submits a form view (as opened by the bot) with Slack's `state.values`."""
        payload = slack_payloads.view_submission(view, values, user_id=user_id)
        return await self.post_to_slack_events(slack_form_body(payload))

    async def load_options(
        self,
        view: dict[str, Any],
        action_id: str,
        block_id: str,
        query: str,
        *,
        user_id: str = "U0ALICE",
    ) -> HttpAnswer:
        payload = slack_payloads.block_suggestion(view, action_id, block_id, query, user_id=user_id)
        return await self.post_to_slack_events(slack_form_body(payload))

    async def open_home(self, *, user_id: str = "U0ALICE") -> HttpAnswer:
        """`user_id` opens the app's Home tab: Slack sends a signed JSON event."""
        body = json.dumps(slack_payloads.app_home_opened(user_id))
        headers = slack_signature_headers(body, SLACK_SIGNING_SECRET)
        headers["Content-Type"] = "application/json"
        async with self.session.post(
            f"{self.url}/slack/events", data=body.encode(), headers=headers
        ) as response:
            return HttpAnswer(response.status, await _body(response))

    async def command(self, text: str = "", *, user_id: str = "U0ALICE") -> HttpAnswer:
        body = slack_command_body(
            slack_payloads.slash_command(
                text,
                user_id=user_id,
                channel_id=CHANNEL_ID,
                response_url=self.slack.response_url(f"command-{user_id}"),
            )
        )
        return await self.post_to_slack_events(body)

    async def open_form(self, step_id: str, *, user_id: str = "U0ALICE") -> dict[str, Any]:
        """Clicks the step's Answer button and returns the modal the bot opened."""
        before = len(self.slack.calls_to("views.open"))
        answer = await self.click(step_id, "hitl.open", user_id=user_id)
        if answer.status != 200:
            raise AssertionError(f"click on hitl.open answered {answer.status}: {answer.body}")
        opened = await self.slack.wait_for("views.open", count=before + 1)
        view: dict[str, Any] = opened[-1]["view"]
        return view


async def _body(response: aiohttp.ClientResponse) -> Any:
    text = await response.text()
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
