"""What follows a Slack ack runs as a tracked task: a stop lets it finish within the
grace, cancels it after, and a failure is logged rather than lost."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.slack.follow_ups import FollowUps


def _interactions() -> FollowUps:
    return FollowUps()


async def test_stop_lets_a_follow_up_finish_within_the_grace() -> None:
    interactions = _interactions()
    finished: list[str] = []

    async def note() -> None:
        await asyncio.sleep(0.05)
        finished.append("note")

    interactions.run(note(), "note")
    await interactions.stop(grace=5.0)

    assert finished == ["note"]


async def test_stop_cancels_a_follow_up_still_running_after_the_grace() -> None:
    interactions = _interactions()
    cancelled = asyncio.Event()

    async def stuck() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    interactions.run(stuck(), "stuck")
    await asyncio.wait_for(interactions.stop(grace=0.05), 5)

    assert cancelled.is_set()


async def test_a_failed_follow_up_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    interactions = _interactions()

    async def broken() -> None:
        raise RuntimeError("views.open said no")

    with caplog.at_level(logging.ERROR, logger="bot.slack.listeners"):
        interactions.run(broken(), "open-form")
        await interactions.stop(grace=1.0)
        await asyncio.sleep(0)  # the done callback runs on the next loop turn

    (record,) = [r for r in caplog.records if r.getMessage() == "slack follow-up failed"]
    assert record.exc_info is not None
    assert "views.open said no" in str(record.exc_info[1])
    assert record.follow_up == "slack-open-form"  # type: ignore[attr-defined]
