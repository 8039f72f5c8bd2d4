"""Bolt's listeners, registered by id (bot/slack/ids.py): answering a step
(bot/slack/answering.py), working it (claims and Undo: bot/slack/working.py), `/hitl` and
the Home tab (bot/slack/commands.py).

Each listener acks within Slack's 3 seconds; anything slow or failure-prone is left to
durable jobs, which the worker is woken for, or runs after the ack (bot/slack/follow_ups.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from slack_bolt.async_app import AsyncApp

from bot.lifecycle import Lifecycle
from bot.metrics import Metrics
from bot.routing import Router
from bot.slack import ids
from bot.slack.answering import Answering
from bot.slack.commands import Commands
from bot.slack.follow_ups import FollowUps
from bot.slack.working import Working
from bot.store import SqlStore


class Interactions:
    def __init__(
        self,
        store: SqlStore,
        wake_worker: Callable[[], None],
        *,
        router: Router,
        lifecycle: Lifecycle,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        follow_ups = self._follow_ups = FollowUps()
        self.answering = Answering(
            store, router, lifecycle, follow_ups, wake_worker, clock, metrics
        )
        self.commands = Commands(store, router, follow_ups, wake_worker, clock)
        self.working = Working(store, router, lifecycle, follow_ups, wake_worker, clock)

    def register(self, app: AsyncApp) -> None:
        answering, commands, working = self.answering, self.commands, self.working
        app.action(ids.OPEN_PATTERN)(answering.open_form)
        app.action(ids.CLAIM)(working.claim)
        app.action(ids.RELEASE)(working.release)
        app.action(ids.TAKEOVER)(working.take_over)
        app.action(ids.UNDO)(working.undo)
        app.action(ids.YES)(answering.answer_yes)
        app.action(ids.NO)(answering.answer_no)
        app.view(ids.SUBMIT)(answering.submit_form)
        app.options(ids.OPTIONS_PATTERN)(answering.list_options)
        app.command("/hitl")(commands.hitl)
        app.event("app_home_opened")(commands.home_opened)

    async def stop(self, grace: float) -> None:
        """Lets what follows acks finish within `grace` seconds, then cancels it."""
        await self._follow_ups.stop(grace)
