"""Acts as Intercom and as Slack users towards a bot at a URL: signed webhooks, button
clicks, form submissions, options loads, slash commands and Home tab events, each signed
exactly as Intercom and Slack sign them. `LocalStack` is one; a test of a bot in another
process, and the demo, drive it the same way.

Slack's side goes over either transport: signed POSTs to `/slack/events`, or, given a
fake's Socket Mode side (`socket`), envelopes on the bot's socket, answered with the ack's
payload as the body (an HTTP 200's body and an ack's payload carry the same)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.slack import ids
from bot.testing import slack_payloads
from bot.testing.signing import (
    sign_intercom,
    slack_command_body,
    slack_form_body,
    slack_signature_headers,
)
from bot.testing.slack_socket import FakeSocketMode

SLACK_TOKEN = "xoxb-local-stack-token"  # noqa: S105 - a made-up token for the fakes
SLACK_SIGNING_SECRET = "local-stack-signing-secret"  # noqa: S105
INTERCOM_TOKEN = "local-stack-intercom-token"  # noqa: S105
INTERCOM_CLIENT_SECRET = "local-stack-client-secret"  # noqa: S105
CHANNEL_ID = "C0HITLTEST"
# Where a click's response_url points when nobody listens for the bot's answer to it.
UNUSED_RESPONSE_URL = "http://127.0.0.1:9/unused"


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: Any

    @property
    def json(self) -> Any:
        return self.body


class Driver:
    def __init__(
        self,
        url: str = "",
        session: aiohttp.ClientSession | None = None,
        *,
        response_url: Callable[[str], str] | None = None,
        socket: FakeSocketMode | None = None,
    ) -> None:
        """`response_url(key)`: where a click's or command's response_url points (a fake
        Slack's, to read what the bot answered); by default nowhere anyone listens.
        `socket`: Slack's side goes over Socket Mode, through this fake's socket."""
        self.url = url
        self._session = session
        self._response_url = response_url or (lambda _key: UNUSED_RESPONSE_URL)
        self.socket = socket

    @property
    def transport(self) -> str:
        """How Slack reaches the bot: "http" or "socket"."""
        return "http" if self.socket is None else "socket"

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "the driver has no HTTP session yet"
        return self._session

    # Intercom's side -------------------------------------------------------------------

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
        return await self.post("/intercom/webhook", body, headers)

    # Slack's side ----------------------------------------------------------------------

    async def post_to_slack_events(
        self,
        body: str,
        *,
        signing_secret: str = SLACK_SIGNING_SECRET,
        timestamp: int | None = None,
        content_type: str | None = None,
    ) -> HttpAnswer:
        headers = slack_signature_headers(body, signing_secret, timestamp)
        if content_type is not None:
            headers["Content-Type"] = content_type
        return await self.post("/slack/events", body.encode(), headers)

    async def click(
        self,
        step_id: str,
        action_id: str,
        *,
        user_id: str = "U0ALICE",
        message_ts: str = "0",
        response_key: str | None = None,
    ) -> HttpAnswer:
        """A button on the step's channel message clicked by `user_id`."""
        payload = slack_payloads.block_actions(
            step_id,
            action_id,
            user_id=user_id,
            channel_id=CHANNEL_ID,
            message_ts=message_ts,
            response_url=self._response_url(response_key or f"{action_id}-{user_id}"),
        )
        return await self.interactive(payload)

    async def submit(
        self, view: dict[str, Any], values: dict[str, Any], *, user_id: str = "U0ALICE"
    ) -> HttpAnswer:
        """Submits a form view (as opened by the bot) with Slack's `state.values`."""
        payload = slack_payloads.view_submission(view, values, user_id=user_id)
        return await self.interactive(payload)

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
        return await self.interactive(payload)

    async def open_home(self, *, user_id: str = "U0ALICE") -> HttpAnswer:
        """`user_id` opens the app's Home tab: Slack sends a signed JSON event."""
        payload = slack_payloads.app_home_opened(user_id)
        if self.socket is not None:
            return await self._over_socket("events_api", payload)
        body = json.dumps(payload)
        return await self.post_to_slack_events(body, content_type="application/json")

    async def command(self, text: str = "", *, user_id: str = "U0ALICE") -> HttpAnswer:
        fields = slack_payloads.slash_command(
            text,
            user_id=user_id,
            channel_id=CHANNEL_ID,
            response_url=self._response_url(f"command-{user_id}"),
        )
        if self.socket is not None:
            return await self._over_socket("slash_commands", dict(fields))
        return await self.post_to_slack_events(slack_command_body(fields))

    async def interactive(self, payload: dict[str, Any]) -> HttpAnswer:
        """An interactivity payload (a click, a submission, an options load) sent as is."""
        if self.socket is not None:
            return await self._over_socket("interactive", payload)
        return await self.post_to_slack_events(slack_form_body(payload))

    async def _over_socket(self, envelope_type: str, payload: dict[str, Any]) -> HttpAnswer:
        """An envelope on the bot's socket, answered by its ack: a 200 with the ack's
        payload as the body (a refusal is acked empty too; HTTP tells it by its status)."""
        assert self.socket is not None
        ack = await self.socket.request(envelope_type, payload)
        return HttpAnswer(200, ack.payload)

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> HttpAnswer:
        """A POST of exactly `body` with exactly `headers` (nothing signed for you)."""
        # A file-like body: aiohttp warns about (large) raw bytes blocking the loop.
        async with self.session.post(
            f"{self.url}{path}", data=io.BytesIO(body), headers=headers
        ) as response:
            text = await response.text()
        try:
            parsed: Any = json.loads(text) if text else None
        except json.JSONDecodeError:
            parsed = text
        return HttpAnswer(response.status, parsed)


OPEN = ids.OPEN
YES = ids.YES
NO = ids.NO
