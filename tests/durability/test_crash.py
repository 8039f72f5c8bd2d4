"""`kill -9` at the worst moments loses nothing: the real bot runs as a child process, is
killed while a call to Slack or Intercom hangs, and a new process finishes the work.

The fakes make the first call slow (30 s, far past the kill) so the process dies with the
request in flight, after the webhook or the answer was acknowledged.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import aiohttp

from bot.domain import JobKind, StepState
from bot.testing.intercom import Reply

from .conftest import BotFactory, Fakes
from .driver import click, hitl_delivery, send_webhook, step_id_of
from .helpers import (
    live_buttons,
    messages_for,
    observe,
    start_with_posted_step,
    text_of,
    wait_jobs_done,
    wait_leased,
    wait_state,
)
from .server import BotProcess

HANGS = 30.0  # longer than any test: the call is still in flight when the bot is killed
IN_FLIGHT = 0.1  # after the job is leased, time for its request to reach the fake


async def _bot_sent_a_step(
    fakes: Fakes, bots: BotFactory, session: aiohttp.ClientSession, database_url: str
) -> tuple[BotProcess, str]:
    """A bot started, and a new step it acknowledged: (the bot, the step's id)."""
    bot = bots(database_url)
    await bot.start()
    payload = hitl_delivery(fakes.intercom)
    assert await send_webhook(session, bot.url, payload) == 200
    return bot, step_id_of(payload)


async def test_webhook_acknowledged_before_a_kill_is_posted_after_restart(
    fakes: Fakes, bots: BotFactory, session: aiohttp.ClientSession, sqlite_url: str
) -> None:
    fakes.slack.fail_next("chat.postMessage", status=503, delay=HANGS)
    first, step_id = await _bot_sent_a_step(fakes, bots, session, sqlite_url)
    async with observe(sqlite_url) as db:
        await wait_leased(db, step_id, JobKind.POST)
        await asyncio.sleep(IN_FLIGHT)
        await first.kill()
        assert messages_for(fakes.slack, step_id) == []

        await bots(sqlite_url).start()
        record = await wait_state(db, step_id, StepState.POSTED)

    (message,) = messages_for(fakes.slack, step_id)
    assert record.message_ts == message["ts"]
    assert live_buttons(message)


async def test_post_that_reached_slack_before_a_kill_is_not_posted_again(
    fakes: Fakes, bots: BotFactory, session: aiohttp.ClientSession, sqlite_url: str
) -> None:
    """chat.postMessage succeeded, then the bot died before it stored the message's ts."""
    fakes.slack.answer_late("chat.postMessage", delay=HANGS)
    first, step_id = await _bot_sent_a_step(fakes, bots, session, sqlite_url)
    await fakes.slack.wait_for("chat.postMessage")
    await asyncio.sleep(IN_FLIGHT)
    await first.kill()
    async with observe(sqlite_url) as db:
        assert (await db.get(step_id)).message_ts is None  # type: ignore[union-attr]

        await bots(sqlite_url).start()
        record = await wait_state(db, step_id, StepState.POSTED)
        await wait_jobs_done(db, step_id)

    (message,) = messages_for(fakes.slack, step_id)
    assert record.message_ts == message["ts"]
    assert len(fakes.slack.calls_to("chat.postMessage")) == 1


async def _killed_while_delivering(
    fakes: Fakes,
    bots: BotFactory,
    session: aiohttp.ClientSession,
    database_url: str,
    reply: Reply,
) -> str:
    """A posted step answered with a click, the bot killed while Intercom holds the
    callback (answering `reply` late); the step's id."""
    first = bots(database_url)
    step_id = await start_with_posted_step(fakes, first, session, database_url)
    fakes.intercom.script(step_id, reply)
    assert await click(session, first.url, step_id) == 200
    async with observe(database_url) as db:
        await wait_leased(db, step_id, JobKind.DELIVER)
        await asyncio.sleep(IN_FLIGHT)
        await first.kill()
    return step_id


async def test_answer_acknowledged_before_a_kill_is_delivered_after_restart(
    fakes: Fakes, bots: BotFactory, session: aiohttp.ClientSession, sqlite_url: str
) -> None:
    step_id = await _killed_while_delivering(
        fakes, bots, session, sqlite_url, Reply(503, delay=HANGS)
    )
    assert fakes.intercom.callbacks == []
    async with observe(sqlite_url) as db:
        await bots(sqlite_url).start()
        await wait_state(db, step_id, StepState.ANSWERED)
        await wait_jobs_done(db, step_id)

    (accepted,) = fakes.intercom.accepted
    assert accepted.body["step_id"] == step_id
    (message,) = messages_for(fakes.slack, step_id)
    assert "Answered by" in text_of(message)
    assert live_buttons(message) == []


async def test_answer_that_reached_intercom_before_a_kill_is_reported_honestly(
    fakes: Fakes, bots: BotFactory, session: aiohttp.ClientSession, sqlite_url: str
) -> None:
    """Intercom took the answer, the bot died before hearing so; the retry meets a 409."""
    step_id = await _killed_while_delivering(
        fakes, bots, session, sqlite_url, Reply(200, delay=HANGS)
    )
    async with observe(sqlite_url) as db:
        await bots(sqlite_url).start()
        record = await wait_state(db, step_id, StepState.FULFILLED_ELSEWHERE)
        await wait_jobs_done(db, step_id)

    assert record.outcome_detail is not None
    assert "may have reached it" in record.outcome_detail
    assert [c.status for c in fakes.intercom.callbacks] == [409]  # the first is still held
    (message,) = messages_for(fakes.slack, step_id)
    assert "may have reached it" in text_of(message)
    assert live_buttons(message) == []


async def test_message_of_a_step_settled_before_a_kill_loses_its_buttons_after_restart(
    fakes: Fakes, bots: BotFactory, session: aiohttp.ClientSession, sqlite_url: str
) -> None:
    first = bots(sqlite_url)
    step_id = await start_with_posted_step(fakes, first, session, sqlite_url)
    fakes.slack.fail_next("chat.update", status=503, delay=HANGS)

    assert await click(session, first.url, step_id) == 200
    async with observe(sqlite_url) as db:
        await wait_state(db, step_id, StepState.ANSWERED)
        await wait_leased(db, step_id, JobKind.REFRESH)
        await asyncio.sleep(IN_FLIGHT)
        await first.kill()
        (stale,) = messages_for(fakes.slack, step_id)
        assert live_buttons(stale)  # the step is settled, the message does not say so yet

        await bots(sqlite_url).start()
        await wait_jobs_done(db, step_id)

    (message,) = messages_for(fakes.slack, step_id)
    assert live_buttons(message) == []
    assert "Answered by" in text_of(message)


async def test_kills_at_random_moments_lose_nothing_and_double_nothing(
    fakes: Fakes, bots: BotFactory, session: aiohttp.ClientSession, sqlite_url: str
) -> None:
    """Steps arrive, the bot dies; answers arrive, it dies again; the third run finishes.

    Slack and Intercom answer slowly, so the kills land mid-call as often as between calls.
    """
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    fakes.slack.fail_next("chat.postMessage", delay=0.3, times=100)
    fakes.slack.fail_next("chat.update", delay=0.1, times=100)
    fakes.intercom.script_all(Reply(200, delay=0.1))
    payloads = [hitl_delivery(fakes.intercom) for _ in range(6)]
    step_ids = [step_id_of(p) for p in payloads]

    first = bots(sqlite_url)
    await first.start()
    assert {await send_webhook(session, first.url, p) for p in payloads} == {200}
    await asyncio.sleep(rng.uniform(0.05, 0.6))
    await first.kill()

    second = bots(sqlite_url)
    await second.start()
    assert {await click(session, second.url, s) for s in step_ids} == {200}
    await asyncio.sleep(rng.uniform(0.05, 0.6))
    await second.kill()

    await bots(sqlite_url).start()
    async with observe(sqlite_url) as db:
        records = [
            await wait_state(db, s, StepState.ANSWERED, StepState.FULFILLED_ELSEWHERE, timeout=15)
            for s in step_ids
        ]
        for step_id in step_ids:
            await wait_jobs_done(db, step_id)

    accepted = Counter(c.step_id for c in fakes.intercom.accepted)
    for record in records:
        step_id = record.step.step_id
        why = f"step {step_id} (seed {seed})"
        (message,) = messages_for(fakes.slack, step_id)
        assert record.message_ts == message["ts"], why
        assert live_buttons(message) == [], why
        assert accepted[step_id] == 1, why
        if record.state == StepState.FULFILLED_ELSEWHERE:
            assert "may have reached it" in (record.outcome_detail or ""), why
