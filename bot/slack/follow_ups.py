"""What follows a Slack ack: tasks run after the listener returned, tracked so a stop can
let them finish (or cancel them) and a failure is logged rather than lost.

Bolt runs with `process_before_response=True`: it answers Slack the moment a listener
returns. (Otherwise it runs the listener as a task and polls for the ack every 10 ms, which
added 10 ms to every click, submission and `/hitl`.) So a listener does what the answer
needs, acks, and hands anything after that (opening the form, an ephemeral note) here.
Nothing in a follow-up is durable state: that is the store's and the jobs'.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)


class FollowUps:
    def __init__(self) -> None:
        self._running: set[asyncio.Task[None]] = set()

    def run(self, work: Coroutine[Any, Any, None], what: str) -> None:
        """Runs `work` after the listener returns, i.e. after Slack has its answer."""
        task = asyncio.create_task(work, name=f"slack-{what}")
        self._running.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if task.cancelled() or (exc := task.exception()) is None:
            return
        if isinstance(exc, SlackApiError):
            # Slack refused the call (an expired trigger_id, say): news, not a bug.
            error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
            log.warning(
                "slack follow-up refused by Slack",
                extra={"follow_up": task.get_name(), "error": error or exc.response.status_code},
            )
            return
        log.error("slack follow-up failed", exc_info=exc, extra={"follow_up": task.get_name()})

    async def stop(self, grace: float) -> None:
        """Lets follow-ups still running (single Slack calls) finish within `grace`
        seconds, then cancels the rest."""
        if not self._running:
            return
        _, late = await asyncio.wait(set(self._running), timeout=grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
