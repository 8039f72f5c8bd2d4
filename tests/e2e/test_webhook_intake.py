"""Group commit of webhooks (bot/intake.py): concurrent deliveries share a transaction, yet
each is acknowledged only once its own step is stored, and a failure stores nothing."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DataError

from bot.intake import (
    FLOOD_SECONDS,
    MAX_YIELD_SECONDS,
    QUIET_SECONDS,
    IntakeClosed,
    StepIntake,
)
from bot.intercom.webhook import Received
from bot.store import SqlStore
from bot.store import steps as store_steps
from bot.testing.local_stack import LocalStack
from tests.store.factories import make_received

from .helpers import fresh_payload, posts_for, step_id_of, wait_posted


def _count_batches(stack: LocalStack) -> list[int]:
    """Records the size of every add_deliveries call the intake makes."""
    sizes: list[int] = []
    add_deliveries = stack.store.add_deliveries

    async def counting(new_steps: Sequence[Received], now: float) -> list[bool]:
        sizes.append(len(new_steps))
        return await add_deliveries(new_steps, now)

    stack.store.add_deliveries = counting  # type: ignore[method-assign]
    return sizes


async def _wait_posts_done(stack: LocalStack, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Until no post job is left (a second post would have to come from one)."""
    deadline = time.monotonic() + timeout
    while any(job.kind == "post" for job in await stack.store.list_jobs()):
        assert time.monotonic() < deadline, await stack.store.list_jobs()
        await asyncio.sleep(0.05)


async def test_concurrent_webhooks_are_committed_together_stored_and_posted_once(
    stack: LocalStack,
) -> None:
    payloads = [fresh_payload(stack) for _ in range(50)]
    batches = _count_batches(stack)

    # Each delivery twice, all at once: the second copy is a duplicate, never a second post.
    answers = await asyncio.gather(*(stack.send_webhook(p) for p in payloads + payloads))

    assert [a.status for a in answers] == [200] * 100
    duplicates = [a.json["duplicate"] for a in answers]
    assert duplicates.count(False) == 50
    assert sum(batches) == 100
    assert len(batches) < 100  # they shared transactions
    for payload in payloads:
        assert await stack.store.get(step_id_of(payload)) is not None
        await wait_posted(stack, step_id_of(payload), timeout=15)
    await _wait_posts_done(stack)
    assert all(len(posts_for(stack, step_id_of(p))) == 1 for p in payloads)


async def test_store_failure_answers_503_and_leaves_nothing_half_stored(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    payloads = [fresh_payload(stack) for _ in range(10)]
    # The steps' INSERT succeeds, then the transaction fails before its commit, so the
    # whole of it must roll back.
    real_insert = store_steps._add_new_steps_sqlite

    def insert_then_fail(conn: Any, rows: Any, job_rows: Any) -> set[str]:
        real_insert(conn, rows, job_rows)
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store_steps, "_add_new_steps_sqlite", insert_then_fail)
    answers = await asyncio.gather(*(stack.send_webhook(p) for p in payloads))

    assert [a.status for a in answers] == [503] * 10
    for payload in payloads:
        assert await stack.store.get(step_id_of(payload)) is None
    assert await stack.store.list_jobs() == []

    # Intercom's retries, once the store works again, store and post each step once.
    monkeypatch.setattr(store_steps, "_add_new_steps_sqlite", real_insert)
    answers = await asyncio.gather(*(stack.send_webhook(p) for p in payloads))
    assert [a.status for a in answers] == [200] * 10
    for payload in payloads:
        await wait_posted(stack, step_id_of(payload))
    await _wait_posts_done(stack)
    assert all(len(posts_for(stack, step_id_of(p))) == 1 for p in payloads)


async def test_a_step_the_database_refuses_fails_only_its_own_delivery(
    stack: LocalStack,
) -> None:
    good = [fresh_payload(stack) for _ in range(20)]
    poison = fresh_payload(stack)
    add_deliveries = stack.store.add_deliveries
    refused: list[int] = []

    async def refusing(new_steps: Sequence[Received], now: float) -> list[bool]:
        # As a database refuses one row (a value too long for its column, say): the
        # whole transaction fails, whichever other steps it carried.
        if any(step.step_id == step_id_of(poison) for step in new_steps):
            refused.append(len(new_steps))
            raise sql_error()
        return await add_deliveries(new_steps, now)

    stack.store.add_deliveries = refusing  # type: ignore[method-assign]
    answers = await asyncio.gather(
        *(stack.send_webhook(p) for p in [*good[:10], poison, *good[10:]])
    )

    statuses = [a.status for a in answers]
    assert statuses[10] == 503
    assert statuses[:10] + statuses[11:] == [200] * 20
    assert await stack.store.get(step_id_of(poison)) is None
    for payload in good:
        await wait_posted(stack, step_id_of(payload))
    assert refused[0] > 1  # it failed a shared transaction first, then its own
    assert refused[-1] == 1


def sql_error() -> Exception:
    return DataError("INSERT INTO steps ...", {}, ValueError("value too long"))


async def test_intake_stop_commits_what_is_queued_then_refuses(sqlite_url: str) -> None:
    store = await SqlStore.open(sqlite_url)
    try:
        intake = StepIntake(store)
        intake.start()
        steps = [make_received() for _ in range(5)]
        adds = [asyncio.ensure_future(intake.add(step)) for step in steps]
        await asyncio.sleep(0)  # all five queued
        await intake.stop()

        assert [await add for add in adds] == [True] * 5
        for step in steps:
            assert await store.get(step.step_id) is not None
        with pytest.raises(IntakeClosed):
            await intake.add(make_received())
    finally:
        await store.close()


async def test_worker_gap_comes_at_once_when_no_webhook_is_arriving(sqlite_url: str) -> None:
    store = await SqlStore.open(sqlite_url)
    try:
        intake = StepIntake(store)
        started = time.monotonic()
        flooding = await intake.quiet()

        assert time.monotonic() - started < QUIET_SECONDS
        assert flooding is False  # the worker takes a full share of jobs
    finally:
        await store.close()


class _InstantStore:
    """Stores nothing, at once: keeps the event loop free so the flood below is dense."""

    write_concurrency = 1

    async def add_deliveries(self, new_steps: Sequence[Received], now: float) -> list[bool]:
        return [True] * len(new_steps)


async def test_worker_waits_for_a_gap_in_webhooks_but_never_longer_than_the_bound() -> None:
    loop = asyncio.get_running_loop()
    intake = StepIntake(_InstantStore())  # type: ignore[arg-type]
    intake.start()
    try:
        await intake.add(make_received())
        started = loop.time()
        await intake.quiet()
        after_one = loop.time() - started
        arrivals: list[float] = []
        adds: list[asyncio.Future[bool]] = []

        async def arrive() -> bool:
            arrivals.append(loop.time())  # in the same step as add() notes its arrival
            return await intake.add(make_received())

        async def flood() -> None:
            while True:  # a webhook every half millisecond, scheduling permitting
                adds.append(asyncio.ensure_future(arrive()))
                await asyncio.sleep(QUIET_SECONDS / 4)

        flooding = asyncio.create_task(flood())
        await asyncio.sleep(0.01)
        started = loop.time()
        in_a_gap = await intake.quiet()
        returned = loop.time()
        flooding.cancel()
        await asyncio.gather(*adds)

        assert QUIET_SECONDS * 0.9 <= after_one < MAX_YIELD_SECONDS
        # A loaded machine may pause the flood for longer than QUIET_SECONDS; then the
        # worker rightly goes at once. Either way it went at a real gap or at the bound.
        assert len(arrivals) > 5, "the flood hardly ran"
        gap = returned - max(at for at in arrivals if at <= returned)
        if in_a_gap:  # of a flood: the worker takes one job
            assert QUIET_SECONDS * 0.99 <= gap < FLOOD_SECONDS
        else:  # no gap for the whole bound (or one too long to be a flood's)
            assert returned - started >= MAX_YIELD_SECONDS * 0.99 or gap >= FLOOD_SECONDS
        assert returned - started < MAX_YIELD_SECONDS * 3
    finally:
        await intake.stop()


class _HeldStore:
    """Commits only when the test says so: a webhook stays waiting for its commit."""

    def __init__(self, write_concurrency: int = 1) -> None:
        self.write_concurrency = write_concurrency
        self.release = asyncio.Event()
        self.writing: list[int] = []  # batch sizes of the transactions now running
        self.most_at_once = 0

    async def add_deliveries(self, new_steps: Sequence[Received], now: float) -> list[bool]:
        self.writing.append(len(new_steps))
        self.most_at_once = max(self.most_at_once, len(self.writing))
        try:
            await self.release.wait()
        finally:
            self.writing.remove(len(new_steps))
        return [True] * len(new_steps)


async def test_worker_waits_while_a_webhook_waits_for_its_commit() -> None:
    loop = asyncio.get_running_loop()
    store = _HeldStore()
    intake = StepIntake(store)  # type: ignore[arg-type]
    intake.start()
    try:
        waiting = asyncio.ensure_future(intake.add(make_received()))
        await asyncio.sleep(QUIET_SECONDS * 5)  # long after the arrival: no gap by time alone
        started = loop.time()
        quiet = asyncio.ensure_future(intake.quiet())
        await asyncio.sleep(QUIET_SECONDS * 10)
        assert not quiet.done(), "the worker went while a webhook still waited for its commit"

        store.release.set()
        assert await waiting is True
        await asyncio.wait_for(quiet, MAX_YIELD_SECONDS)
        assert loop.time() - started < MAX_YIELD_SECONDS * 0.9, "it waited for the bound"
    finally:
        store.release.set()
        await intake.stop()


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_intake_keeps_as_many_transactions_in_flight_as_the_backend_takes(
    concurrency: int,
) -> None:
    store = _HeldStore(write_concurrency=concurrency)
    intake = StepIntake(store)  # type: ignore[arg-type]
    intake.start()
    try:
        adds = []
        for _ in range(5):  # one at a time, so each would be a batch of its own
            adds.append(asyncio.ensure_future(intake.add(make_received())))
            await asyncio.sleep(0.01)

        assert len(store.writing) == concurrency  # the rest wait for a free slot
        assert not any(add.done() for add in adds)  # nobody is answered before a commit

        store.release.set()
        assert await asyncio.gather(*adds) == [True] * 5
        assert store.most_at_once == concurrency
    finally:
        store.release.set()
        await intake.stop()


async def test_a_delivery_is_stored_as_the_bytes_intercom_signed(stack: LocalStack) -> None:
    """Through HTTP: the body is kept byte for byte (its key order and spacing too), and
    the step posted from it is the one it holds."""
    payload = fresh_payload(stack)
    body = json.dumps(payload, indent=1, sort_keys=True).encode()

    answer = await stack.send_webhook(body)

    assert answer.status == 200
    step_id = step_id_of(payload)
    stored = await stack.store.run_in_transaction(
        lambda conn: conn.execute(
            text("SELECT delivery FROM steps WHERE step_id = :id"), {"id": step_id}
        ).scalar_one()
    )
    assert bytes(stored) == body
    await wait_posted(stack, step_id)
    (post,) = posts_for(stack, step_id)
    assert payload["data"]["item"]["hitl_question"] in json.dumps(post["blocks"])
