"""The real bot served on 127.0.0.1 against the loopback fakes, driven as Intercom and as
Slack users would drive it (bot/testing/driver.py).

Used by the test suite, the local demo and the benchmark alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

import aiohttp
from aiohttp import web

from bot.app import STORE, create_app
from bot.listener import Listener
from bot.settings import Settings
from bot.slack import ids
from bot.store import SqlStore
from bot.testing.deliveries import fresh_delivery
from bot.testing.driver import (
    CHANNEL_ID,
    INTERCOM_CLIENT_SECRET,
    INTERCOM_TOKEN,
    SLACK_SIGNING_SECRET,
    SLACK_TOKEN,
    Driver,
    HttpAnswer,
)
from bot.testing.intercom import FakeIntercom, ToFakeIntercom
from bot.testing.loopback import StartStop
from bot.testing.slack import FakeSlack

# How soon the bot's socket client notices a dead socket, in the tests (Bolt's is 10 s).
SOCKET_PING_INTERVAL_SECONDS = 1.0
SLACK_APP_TOKEN = "xapp-1-A0HITL-1-local-stack-app-token"  # noqa: S105 - a made-up token
Transport = Literal["http", "socket"]

__all__ = [
    "CHANNEL_ID",
    "INTERCOM_CLIENT_SECRET",
    "INTERCOM_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_TOKEN",
    "HttpAnswer",
    "LocalStack",
]


class LocalStack(Driver, StartStop):
    def __init__(
        self,
        database_url: str,
        *,
        settings_overrides: dict[str, Any] | None = None,
        slack: FakeSlack | None = None,
        intercom: FakeIntercom | None = None,
        intercom_hosts: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.time,
        transport: Transport = "http",
    ) -> None:
        """`intercom_hosts`: real Intercom API hosts whose requests go to the fake too;
        `clock`: the bot's time (a sample's fixed timestamps can be played unchanged);
        `transport`: how Slack reaches the bot, `POST /slack/events` or Socket Mode (the
        same settings, plus SLACK_APP_TOKEN)."""
        self.slack = slack or FakeSlack(token=SLACK_TOKEN, app_token=SLACK_APP_TOKEN)
        super().__init__(
            response_url=self.slack.response_url,
            socket=self.slack.socket if transport == "socket" else None,
        )
        self._clock = clock
        self.database_url = database_url
        self.intercom = intercom or FakeIntercom(access_token=INTERCOM_TOKEN)
        self._overrides = settings_overrides or {}
        self._intercom_hosts = intercom_hosts
        self._listener: Listener | None = None
        self.settings: Settings | None = None
        self.app: web.Application | None = None

    def settings_values(self) -> dict[str, Any]:
        """The environment the bot runs with, pointed at the fakes."""
        return {
            "slack_bot_token": SLACK_TOKEN,
            "slack_signing_secret": SLACK_SIGNING_SECRET,
            **({"slack_app_token": self.slack.app_token} if self.transport == "socket" else {}),
            "slack_channel_id": CHANNEL_ID,
            "slack_api_url": self.slack.base_url,
            "intercom_access_token": INTERCOM_TOKEN,
            "intercom_client_secret": INTERCOM_CLIENT_SECRET,
            "intercom_api_origins": [self.intercom.origin],
            "database_url": self.database_url,
            "hitl_poll_interval": 0.2,
            # Tests of the undo window turn it on; the rest answer straight away.
            "hitl_undo_seconds": 0,
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
        self.app = create_app(
            self.settings,
            clock=self._clock,
            intercom_transport=transport,
            socket_ping_interval=SOCKET_PING_INTERVAL_SECONDS,
        )
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
        if self.socket is not None:
            await self.socket.wait_connected()

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

    # Acting as Intercom and Slack: bot/testing/driver.py -------------------------------

    def hitl_payload(self, sample: dict[str, Any], **item_changes: Any) -> dict[str, Any]:
        """A sample delivery as a new step, its callback_url at the fake Intercom."""
        return fresh_delivery(sample, callback_origin=self.intercom.origin, **item_changes)

    async def click(
        self,
        step_id: str,
        action_id: str,
        *,
        user_id: str = "U0ALICE",
        message_ts: str | None = None,
        response_key: str | None = None,
    ) -> HttpAnswer:
        """A button on the step's channel message (as the store knows it) clicked."""
        if message_ts is None:
            record = await self.store.get(step_id)
            message_ts = record.message_ts if record and record.message_ts else "0"
        return await super().click(
            step_id, action_id, user_id=user_id, message_ts=message_ts, response_key=response_key
        )

    async def open_form(self, step_id: str, *, user_id: str = "U0ALICE") -> dict[str, Any]:
        """Clicks the step's Answer button and returns the modal the bot opened."""
        before = len(self.slack.calls_to("views.open"))
        answer = await self.click(step_id, ids.OPEN, user_id=user_id)
        if answer.status != 200:
            raise AssertionError(f"click on hitl.open answered {answer.status}: {answer.body}")
        opened = await self.slack.wait_for("views.open", count=before + 1)
        view: dict[str, Any] = opened[-1]["view"]
        return view
