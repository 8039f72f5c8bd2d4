"""The worker on a real store: leases renewed while a job runs, a lost lease stops the job,
a stop hands back what outlives its grace, retries wait as asked or back off with jitter."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.domain import StepRecord, StepState
from bot.errors import BotError, Permanent, Retryable
from bot.store import Job, SqlStore
from bot.worker import RetryRule, Task, Worker, backoff_delay
from tests.store.databases import opened_store
from tests.store.factories import make_step

from .helpers import wait_until

LEASE = 0.4


@pytest.fixture
async def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'worker.db'}"


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[SqlStore]:
    async with opened_store(db_url) as opened:
        yield opened


def _worker(
    store: object,
    handler: object,
    owner: str = "me",
    yield_to: Callable[[], Awaitable[bool]] | None = None,
) -> Worker:
    return Worker(
        store,  # type: ignore[arg-type]
        {"post": handler, "expire": handler},  # type: ignore[dict-item]
        owner=owner,
        poll_interval=0.05,
        lease=LEASE,
        yield_to=yield_to,
    )


async def test_slow_job_keeps_its_lease_and_runs_once_with_two_workers(
    store: SqlStore, db_url: str
) -> None:
    runs: list[str] = []

    async def slow(job: Job) -> None:
        runs.append(job.step_id)
        await asyncio.sleep(LEASE * 2.5)

    other = await SqlStore.open(db_url)
    workers = [_worker(store, slow, "a"), _worker(other, slow, "b")]
    await store.add_steps([make_step()], time.time())
    for worker in workers:
        worker.start()
    try:
        await asyncio.sleep(LEASE * 3.5)
    finally:
        for worker in workers:
            await worker.stop()
        await other.close()
    assert len(runs) == 1
    assert await store.list_jobs() == []


async def test_job_whose_lease_another_instance_took_is_stopped(store: SqlStore) -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def stuck(job: Job) -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    worker = _worker(store, stuck)
    await store.add_steps([make_step()], time.time())
    worker.start()
    try:
        await asyncio.wait_for(started.wait(), 2)
        # As if this worker had stalled past its lease and another instance took the job.
        (taken,) = await store.claim_jobs("other", time.time() + 2 * LEASE, LEASE * 100, 1)
        await asyncio.wait_for(cancelled.wait(), 2)
    finally:
        await worker.stop()
    assert [(j.id, j.locked_by) for j in await store.list_jobs()] == [(taken.id, "other")]


async def test_stop_hands_back_a_job_that_outlives_the_grace(store: SqlStore) -> None:
    started = asyncio.Event()

    async def stuck(job: Job) -> None:
        started.set()
        await asyncio.sleep(60)

    worker = _worker(store, stuck)
    await store.add_steps([make_step()], time.time())
    worker.start()
    await asyncio.wait_for(started.wait(), 2)
    began = time.monotonic()
    await worker.stop(grace=0.2)
    assert time.monotonic() - began < 1.0
    (job,) = await store.list_jobs()
    assert (job.locked_by, job.attempts) == (None, 1)


async def test_stop_lets_a_running_job_finish_within_the_grace(store: SqlStore) -> None:
    started, finished = asyncio.Event(), asyncio.Event()

    async def quick(job: Job) -> None:
        started.set()
        await asyncio.sleep(0.3)
        finished.set()

    worker = _worker(store, quick)
    await store.add_steps([make_step()], time.time())
    worker.start()
    await asyncio.wait_for(started.wait(), 2)
    await worker.stop(grace=5)
    assert finished.is_set()
    assert await store.list_jobs() == []


async def test_retry_later_waits_the_delay_the_server_asked_for(store: SqlStore) -> None:
    async def limited(job: Job) -> None:
        raise Retryable("ratelimited", retry_after=5)

    worker = _worker(store, limited)
    await store.add_steps([make_step()], time.time())
    asked_at = time.time()
    worker.start()
    try:

        async def retried() -> bool:
            return any(j.last_error for j in await store.list_jobs())

        await wait_until(retried, "the job to be retried")
    finally:
        await worker.stop()
    (job,) = await store.list_jobs()
    assert job.last_error == "ratelimited"
    assert asked_at + 5 <= job.run_at < asked_at + 5.5


async def test_each_retry_runs_when_due_not_at_the_next_poll(store: SqlStore) -> None:
    # Three jobs told to come back in 0.6, 1.2 and 1.8 s, with a 1 s poll: a worker that
    # only remembered the earliest retry ran the later ones up to a poll late (a paced
    # burst into one Slack channel drained a second late for every retry it missed).
    delays = {0: 0.6, 1: 1.2, 2: 1.8}
    first_run: dict[str, float] = {}
    runs: dict[str, float] = {}

    # Timed by the worker's own clock (the wall clock, as due times are stored): the
    # monotonic clock once measured a 1.2 s wait as 1.199 s while the host adjusted time.
    async def paced(job: Job) -> None:
        if job.step_id not in first_run:
            first_run[job.step_id] = time.time()
            raise Retryable("ratelimited", retry_after=delays[len(first_run) - 1])
        runs[job.step_id] = time.time() - first_run[job.step_id]

    worker = Worker(store, {"post": paced}, owner="me", poll_interval=1.0, lease=5.0)
    steps = [make_step() for _ in delays]
    await store.add_steps(steps, time.time())
    worker.start()
    try:

        async def all_ran() -> bool:
            return len(runs) == len(steps)

        await wait_until(all_ran, "every job to run again", timeout=5)
    finally:
        await worker.stop()
    order = sorted(first_run, key=first_run.__getitem__)
    for index, step_id in enumerate(order):
        assert delays[index] <= runs[step_id] < delays[index] + 0.3, (index, runs[step_id])


async def test_unexpected_error_is_retried_with_backoff_and_logged_with_ids(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(job: Job) -> None:
        raise ValueError("boom")

    step = make_step()
    worker = _worker(store, broken)
    await store.add_steps([step], time.time())
    worker.start()
    try:

        async def logged() -> bool:
            return any(r.getMessage() == "job will be retried" for r in caplog.records)

        await wait_until(logged, "the retry to be logged")
    finally:
        await worker.stop()
    (record,) = [r for r in caplog.records if r.getMessage() == "job will be retried"]
    assert record.levelno == logging.WARNING
    assert record.__dict__["step_id"] == step.step_id
    assert record.__dict__["conversation_id"] == step.conversation_id
    assert record.__dict__["reason"] == "ValueError: boom"
    assert 0.5 <= record.__dict__["retry_in_s"] <= 1.0


def test_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    for attempts, full in [(0, 1.0), (1, 2.0), (3, 8.0), (12, 300.0), (500, 300.0)]:
        delays = [backoff_delay(attempts, base=1.0, cap=300.0) for _ in range(200)]
        assert all(full / 2 <= d < full for d in delays)
        assert max(delays) - min(delays) > full / 10  # spread, not in lockstep


async def _given_up(store: SqlStore, failure: Exception, rule: RetryRule) -> list[str]:
    """Runs a task failing with `failure` under `rule` until it gives up; the reasons it
    gave up with (after a pause in which a second giving up would have shown)."""
    gave_up: list[str] = []

    async def failing(job: Job) -> None:
        raise failure

    async def give_up(job: Job, error: BotError) -> None:
        gave_up.append(error.reason)

    worker = Worker(store, {"post": Task(failing, rule, give_up)}, owner="me",
                    poll_interval=0.05, lease=LEASE, backoff_base=0.05)  # fmt: skip
    await store.add_steps([make_step()], time.time())
    worker.start()
    try:
        await wait_until(lambda: _async(bool(gave_up)), "the task to give up")
        await asyncio.sleep(0.3)
    finally:
        await worker.stop()
    return gave_up


async def test_a_task_past_its_rules_deadline_gives_up_once_and_ends(store: SqlStore) -> None:
    reasons = await _given_up(store, Retryable("Slack answered 503"), RetryRule(give_up_after=0.3))

    assert reasons == ["Slack answered 503"]
    assert await store.list_jobs() == []


async def test_a_permanent_failure_gives_up_at_once(store: SqlStore) -> None:
    reasons = await _given_up(store, Permanent("invalid_blocks"), RetryRule())

    assert reasons == ["invalid_blocks"]
    assert await store.list_jobs() == []


def test_a_rule_until_the_step_expires_stops_at_the_earlier_deadline() -> None:
    expiring = make_step(expires_at=1_100)
    record = StepRecord(step=expiring, state=StepState.POSTED, received_at=1_000.0)
    job = Job(id=1, step_id=expiring.step_id, kind="post", attempts=0, created_at=1_000.0,
              last_error=None, record=record)  # fmt: skip

    assert RetryRule(give_up_after=500, until_step_expires=True).deadline(job) == 1_100.0
    assert RetryRule(give_up_after=50, until_step_expires=True).deadline(job) == 1_050.0
    assert RetryRule(give_up_after=500).deadline(job) == 1_500.0
    assert RetryRule().deadline(job) is None


async def _async(value: bool) -> bool:
    return value


class _CountingClaims:
    """The real store, with the `limit` of every claim noted."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.limits: list[int] = []

    async def claim_jobs(self, owner: str, now: float, lease: float, limit: int) -> list[Job]:
        self.limits.append(limit)
        return await self.store.claim_jobs(owner, now, lease, limit)

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)


@pytest.mark.parametrize("flooding", [True, False])
async def test_in_a_gap_of_a_flood_the_worker_takes_one_job_at_a_time(
    store: SqlStore, flooding: bool
) -> None:
    ran: list[str] = []

    async def post(job: Job) -> None:
        ran.append(job.step_id)

    counting = _CountingClaims(store)
    worker = _worker(counting, post, yield_to=lambda: _async(flooding))
    steps = [make_step() for _ in range(3)]
    await store.add_steps(steps, time.time())
    worker.start()
    try:
        await wait_until(lambda: _async(len(ran) == len(steps)), "every job to run")
    finally:
        await worker.stop()
    assert sorted(ran) == sorted(s.step_id for s in steps)
    if flooding:
        assert set(counting.limits) == {1}
    else:
        assert counting.limits[0] == 8  # a full share: the worker's concurrency
