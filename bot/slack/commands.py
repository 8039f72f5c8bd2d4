"""`/hitl` (the pending list, `stats`, `test`, `help`) and the App Home tab.

Lists show a person only the steps they may answer (bot/slack/visibility.py).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.routing import Router
from bot.samples import test_step
from bot.slack.access import NOT_ALLOWED
from bot.slack.follow_ups import FollowUps
from bot.slack.lists import (
    HOME_MINE_SHOWN_MAX,
    HOME_PENDING_SHOWN_MAX,
    PENDING_SHOWN_MAX,
    home_view,
    pending_list,
    stats_message,
)
from bot.slack.visibility import PendingVisibility
from bot.stats import STATS_WINDOW_SECONDS, procedure_stats
from bot.store import SqlStore

log = logging.getLogger(__name__)

HITL_HELP = (
    "*/hitl* lists the Fin steps waiting for a teammate, newest first, with a link to each.\n"
    "*/hitl stats* shows, per procedure over the last 7 days, how many steps were answered "
    "and expired, and the median and 90th-percentile time to answer.\n"
    "*/hitl test* posts a test step to the channel; its answer is not sent to Intercom.\n"
    "*/hitl help* shows this text.\n"
    "Answer a step with its *Answer* button (or *Yes* / *No*) on the channel message."
)
TEST_QUEUED = (
    "🧪 A test step is on its way to the channel. Answer it there: the answer is shown "
    "but not sent to Intercom."
)
# `/hitl test` posts at most this many test steps per person per window: a typo'd loop of
# slash commands must not fill the channel.
TESTS_PER_WINDOW = 3
TEST_WINDOW_SECONDS = 60.0
TEST_LIMITED = (
    "You have posted {count} test steps in the last minute; the next one can go in {seconds} s."
)


@dataclass(frozen=True)
class Commands:
    store: SqlStore
    router: Router
    follow_ups: FollowUps
    wake_worker: Callable[[], None]
    clock: Callable[[], float]
    visibility: PendingVisibility = field(init=False)
    test_limit: PerUserLimit = field(
        init=False, default_factory=lambda: PerUserLimit(TESTS_PER_WINDOW, TEST_WINDOW_SECONDS)
    )

    def __post_init__(self) -> None:
        # Frozen, so the one derived part is set this way.
        object.__setattr__(self, "visibility", PendingVisibility(self.store, self.router))

    async def hitl(self, ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient) -> None:
        text = str(command.get("text") or "").strip().lower()
        user_id = str(command.get("user_id") or "")
        if text == "test":
            await ack(response_type="ephemeral", text=await self._send_test(user_id, client))
            return
        if text == "help":
            await ack(response_type="ephemeral", text=HITL_HELP)
            return
        if text == "stats":
            settled = await self.store.settled_since(self.clock() - STATS_WINDOW_SECONDS)
            stats = stats_message(procedure_stats(settled))
            await ack(response_type="ephemeral", text=stats["text"], blocks=stats["blocks"])
            return
        pending = await self.visibility.for_viewer(user_id, client, PENDING_SHOWN_MAX)
        message = pending_list(
            pending.records,
            total=pending.total,
            for_others=pending.for_others,
            permalinks={r.step.step_id: r.permalink for r in pending.records if r.permalink},
            now=self.clock(),
        )
        await ack(response_type="ephemeral", text=message["text"], blocks=message["blocks"])

    async def _send_test(self, user_id: str, client: AsyncWebClient) -> str:
        """Queues a test step for the channel; says what happens (mrkdwn)."""
        if not await self.router.access_for(None).allows(user_id, client):
            return NOT_ALLOWED
        wait = self.test_limit.wait(user_id, self.clock())
        if wait > 0:
            return TEST_LIMITED.format(count=TESTS_PER_WINDOW, seconds=max(1, round(wait)))
        step = test_step(self.clock())
        await self.store.add_steps([step], self.clock())
        self.wake_worker()
        log.info("test step queued", extra={"step_id": step.step_id, "user_id": user_id})
        return TEST_QUEUED

    async def home_opened(self, event: dict[str, Any], client: AsyncWebClient) -> None:
        """Publishes the viewer's Home tab: open steps to answer, and their recent answers.

        Bolt acks an event when its listener returns: the work runs after that."""
        user_id = str(event.get("user") or "")
        if event.get("tab", "home") == "home" and user_id:
            self.follow_ups.run(self._publish_home(user_id, client), "home")

    async def _publish_home(self, user_id: str, client: AsyncWebClient) -> None:
        pending = await self.visibility.for_viewer(user_id, client, HOME_PENDING_SHOWN_MAX)
        mine = await self.store.answered_by(user_id, HOME_MINE_SHOWN_MAX)
        view = home_view(
            pending.records,
            pending_total=pending.total,
            for_others=pending.for_others,
            mine=mine,
            now=self.clock(),
        )
        await client.views_publish(user_id=user_id, view=view)


class PerUserLimit:
    """At most `count` uses per person in any `window` seconds (this instance's memory)."""

    def __init__(self, count: int, window: float) -> None:
        self._count = count
        self._window = window
        self._uses: dict[str, deque[float]] = {}

    def wait(self, user_id: str, now: float) -> float:
        """0 (and the use counted) if `user_id` may go now; else seconds until they may."""
        uses = self._uses.setdefault(user_id, deque())
        while uses and uses[0] <= now - self._window:
            uses.popleft()
        if len(uses) >= self._count:
            return uses[0] + self._window - now
        uses.append(now)
        if len(self._uses) > 10_000:  # forget people who stopped
            self._uses = {u: q for u, q in self._uses.items() if q and q[-1] > now - self._window}
        return 0.0
