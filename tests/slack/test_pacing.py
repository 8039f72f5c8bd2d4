"""Per-channel pacing after a 429: posts into a rate-limited channel take turns, Retry-After
apart, instead of each being refused and retried (a retry storm)."""

from __future__ import annotations

import asyncio
import time
from itertools import pairwise

from bot.slack.messenger import MAX_INLINE_WAIT_SECONDS, ChannelPacer
from bot.testing.local_stack import SLACK_TOKEN, LocalStack
from bot.testing.slack import FakeSlack
from tests.e2e.helpers import fresh_payload, posts_for, send_ok, step_id_of


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_unlimited_channel_is_not_paced() -> None:
    pacer = ChannelPacer(Clock())
    assert [pacer.delay("chat_postMessage", "C1", f"s{i}") for i in range(5)] == [0.0] * 5


def test_after_a_429_each_call_gets_the_next_slot_and_keeps_a_booked_one() -> None:
    clock = Clock()
    pacer = ChannelPacer(clock)
    first = pacer.rate_limited("chat_postMessage", "C1", "s0", 1.0)
    delays = [pacer.delay("chat_postMessage", "C1", f"s{i}") for i in range(1, 5)]

    assert 1.0 <= first < 1.1
    # Slots one interval apart after s0's; other channels and methods are not affected.
    assert all(later - earlier > 0.99 for earlier, later in pairwise([first, *delays]))
    assert pacer.delay("chat_postMessage", "C2", "x") == 0.0
    assert pacer.delay("chat_update", "C1", "x") == 0.0
    # A step sent away to wait longer than MAX_INLINE_WAIT_SECONDS keeps its slot.
    assert delays[-1] > MAX_INLINE_WAIT_SECONDS
    clock.now += delays[-1]
    assert pacer.delay("chat_postMessage", "C1", "s4") == 0.0


def test_a_channel_quiet_for_an_interval_is_no_longer_paced() -> None:
    clock = Clock()
    pacer = ChannelPacer(clock)
    pacer.rate_limited("chat_postMessage", "C1", "s0", 1.0)
    clock.now += 1.1
    assert pacer.delay("chat_postMessage", "C1", "s0") == 0.0  # its booked slot
    clock.now += 3.0
    assert pacer.delay("chat_postMessage", "C1", "s1") == 0.0
    assert pacer.delay("chat_postMessage", "C1", "s2") == 0.0


async def test_a_burst_into_a_one_per_second_channel_posts_everything_with_few_429s(
    sqlite_url: str,
) -> None:
    burst = 10  # more than the worker runs at once (8)
    slack = FakeSlack(token=SLACK_TOKEN, channel_rate_per_second=1)
    async with LocalStack(sqlite_url, slack=slack) as stack:
        payloads = [fresh_payload(stack) for _ in range(burst)]
        started = time.monotonic()
        await asyncio.gather(*(send_ok(stack, p) for p in payloads))
        await slack.wait_for("chat.postMessage", count=burst, timeout=30)
        took = time.monotonic() - started

        assert all(len(posts_for(stack, step_id_of(p))) == 1 for p in payloads)
        # Only the posts already in flight when the first 429 came back are refused.
        assert slack.rate_limited_count <= 8
        # One post a second (the first at once), with some room for timing.
        assert took < (burst - 1) * 1.25
        # A post known not to have gone out is not looked for before it is retried.
        assert slack.calls_to("conversations.history", include_failed=True) == []
