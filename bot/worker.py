"""Runs durable jobs from the store: claims them under a lease, runs them, retries with backoff.

The worker knows nothing of what a job does: each kind is a `Task`, its handler and its
retry rule, registered in bot/jobs/. A handler that raises `Retryable` runs again (after
the peer's `retry_after`, else with backoff) until its rule's deadline, when the task's
`give_up` says how it ended; `Permanent` ends the job at once. Handlers hold no retry code.

The worker is woken at once when this instance writes a job, and polls for jobs written by
other instances or falling due later.

A lease is how instances share jobs without knowing of each other: while a job runs, its
lease is renewed every third of its length, so a slow job is never taken over; when an
instance dies its leases simply run out and any instance takes the jobs up again.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.errors import BotError, Permanent, Retryable
from bot.store import Job

log = logging.getLogger(__name__)

JobHandler = Callable[[Job], Awaitable[None]]
# Work the registry hands the worker to run once per poll (expiring steps, say): like
# tasks, the worker knows nothing of what it does.
Sweep = Callable[[], Awaitable[None]]
GiveUp = Callable[[Job, BotError], Awaitable[None]]

DEFAULT_LEASE_SECONDS = 20.0
DEFAULT_STOP_GRACE_SECONDS = 10.0
# Beyond this many pending retries, the rest are found by polling (bounds the memory).
_MAX_RETRY_TIMES = 10_000


class JobQueue(Protocol):
    """What the worker needs of the store (bot/store/jobs.py)."""

    async def claim_jobs(self, owner: str, now: float, lease: float, limit: int) -> list[Job]: ...

    async def extend_leases(self, owner: str, running: Sequence[Job], until: float) -> set[str]: ...

    async def finish_job(self, job: Job, owner: str) -> bool: ...

    async def retry_job(self, job: Job, owner: str, run_at: float, error: str) -> bool: ...

    async def release_jobs(self, owner: str) -> None: ...


@dataclass(frozen=True)
class RetryRule:
    """How long a kind of job keeps being retried: `give_up_after` seconds from the job's
    creation (None: no limit), and, with `until_step_expires`, no longer than its step
    accepts an answer."""

    give_up_after: float | None = None
    until_step_expires: bool = False

    def deadline(self, job: Job) -> float | None:
        deadlines = []
        if self.give_up_after is not None:
            deadlines.append(job.created_at + self.give_up_after)
        expires_at = job.record.step.expires_at if job.record is not None else None
        if self.until_step_expires and expires_at is not None:
            deadlines.append(float(expires_at))
        return min(deadlines) if deadlines else None


async def log_giving_up(job: Job, error: BotError) -> None:
    log.error("giving up on a job", extra=job.log_fields() | {"reason": error.reason})


@dataclass(frozen=True)
class Task:
    """A kind of job: what runs it, how long it is retried, and what giving up does."""

    run: JobHandler
    retry: RetryRule = RetryRule()
    # Called once the deadline has passed with the job still failing (or at once for a
    # Permanent failure); the job then ends.
    give_up: GiveUp = log_giving_up


def backoff_delay(attempts: int, *, base: float, cap: float) -> float:
    """Exponential backoff with full jitter in [d/2, d): retries of many jobs spread out."""
    delay = min(cap, base * (2.0 ** min(attempts, 30)))
    return delay * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not a secret


class Worker:
    def __init__(
        self,
        store: JobQueue,
        tasks: Mapping[str, Task | JobHandler],
        *,
        owner: str,
        poll_interval: float = 1.0,
        lease: float = DEFAULT_LEASE_SECONDS,
        concurrency: int = 8,
        backoff_base: float = 1.0,
        backoff_cap: float = 300.0,
        clock: Callable[[], float] = time.time,
        yield_to: Callable[[], Awaitable[bool]] | None = None,
        sweeps: Sequence[Sweep] = (),
    ) -> None:
        """`yield_to`: awaited before each claim, so foreground work (acknowledging
        webhooks) can go first; it must return within a bounded time, True if it returned
        in a gap of foreground work that is pouring in (the worker then takes one job, not
        a full share). `sweeps`: run before a claim at most once per `poll_interval`."""
        if lease <= 0:
            raise ValueError("lease must be positive")
        self._store = store
        # A bare handler is a task retried with backoff for as long as it takes.
        self._tasks = {kind: t if isinstance(t, Task) else Task(t) for kind, t in tasks.items()}
        self._owner = owner
        self._poll_interval = poll_interval
        self._lease = lease
        self._concurrency = concurrency
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._clock = clock
        self._yield_to = yield_to
        self._wake = asyncio.Event()
        self._running: dict[asyncio.Task[None], Job] = {}
        self._stopping = False
        # When this instance's own retries fall due (a heap): each is looked for on time,
        # not at the next poll. Jobs other instances schedule are found by polling.
        self._retry_times: list[float] = []
        self._sweeps = tuple(sweeps)
        self._next_sweep = -1.0  # event-loop time
        self._loop_task: asyncio.Task[None] | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None

    @property
    def owner(self) -> str:
        return self._owner

    @property
    def lease(self) -> float:
        return self._lease

    def wake(self) -> None:
        """Look for jobs now (this instance has just written one)."""
        self._wake.set()

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop(), name="worker")
        self._heartbeat_task = asyncio.create_task(self._heartbeat(), name="worker-leases")

    async def _loop(self) -> None:
        while not self._stopping:
            free = self._concurrency - len(self._running)
            claimed: list[Job] = []
            one_per_gap = False
            if free > 0:
                if self._yield_to is not None and await self._yield_to():
                    # A gap in a flood: each job started now delays the answers to the
                    # requests behind it, so one job, and the next after the next wake.
                    free, one_per_gap = 1, True
                await self._sweep()
                try:
                    claimed = await self._store.claim_jobs(
                        self._owner, self._clock(), self._lease, free
                    )
                except Exception:
                    log.exception("could not claim jobs; trying again shortly")
            for job in claimed:
                if job.taken_over_from is not None:
                    # Its lease ran out before it finished: that instance died mid-job.
                    log.warning(
                        "job taken over",
                        extra=job.log_fields() | {"taken_over_from": job.taken_over_from},
                    )
                task = asyncio.create_task(self._run_one(job), name=f"job-{job.kind}-{job.id}")
                self._running[task] = job
                task.add_done_callback(self._on_done)
            if claimed and len(claimed) == free and not one_per_gap:
                continue  # there may be more due right now
            await self._sleep()

    async def _sweep(self) -> None:
        now = asyncio.get_running_loop().time()
        if not self._sweeps or now < self._next_sweep:
            return
        self._next_sweep = now + self._poll_interval
        for sweep in self._sweeps:
            try:
                await sweep()
            except Exception:
                log.exception("a sweep failed; trying again at the next poll")

    def _on_done(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task, None)
        self._wake.set()  # a slot is free

    async def _sleep(self) -> None:
        timeout = self._poll_interval
        now = self._clock()
        while self._retry_times and self._retry_times[0] <= now:
            heapq.heappop(self._retry_times)  # due already: the claim just made saw it
        if self._retry_times:
            timeout = min(timeout, self._retry_times[0] - now)
        if self._sweeps:
            timeout = min(timeout, self._next_sweep - asyncio.get_running_loop().time())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()

    async def _heartbeat(self) -> None:
        """Renews the leases of running jobs; stops any that another instance took over."""
        while True:
            await asyncio.sleep(self._lease / 3)
            running = {job.key: (task, job) for task, job in self._running.items()}
            if not running:
                continue
            try:
                kept = await self._store.extend_leases(
                    self._owner, [job for _, job in running.values()], self._clock() + self._lease
                )
            except Exception:
                log.exception("could not renew job leases; trying again shortly")
                continue
            for key, (task, job) in running.items():
                if key not in kept and not task.done():
                    # Only happens when this instance stalled past its lease: the other
                    # instance now runs the job, so this one must stop acting on it.
                    log.error(
                        "job lease lost to another instance; stopping it here",
                        extra=job.log_fields(),
                    )
                    task.cancel()

    async def _run_one(self, job: Job) -> None:
        task = self._tasks.get(job.kind)
        try:
            if task is None:
                raise RuntimeError(f"no handler for job kind {job.kind!r}")
            await task.run(job)
        except Retryable as exc:
            assert task is not None
            deadline = task.retry.deadline(job)
            if deadline is None or self._clock() < deadline:
                await self._retry(job, exc.reason, exc.retry_after)
            else:
                await self._end(job, task, exc)
        except Permanent as exc:
            assert task is not None
            await self._end(job, task, exc)
        except asyncio.CancelledError:
            # Stopping hard or lease lost: the job is taken up again, here or elsewhere.
            raise
        except Exception as exc:
            log.exception("job failed", extra=job.log_fields())
            await self._retry(job, f"{exc.__class__.__name__}: {exc}", None)
        else:
            await self._finish(job)

    async def _end(self, job: Job, task: Task, error: BotError) -> None:
        """The job failed for good (or for longer than its rule allows): say so, finish."""
        try:
            await task.give_up(job, error)
        except Exception:
            log.exception("giving up on a job failed", extra=job.log_fields())
            await self._retry(job, f"giving up failed: {error.reason}", None)
            return
        await self._finish(job)

    async def _finish(self, job: Job) -> None:
        try:
            held = await self._store.finish_job(job, self._owner)
        except Exception:
            # It runs again when its lease runs out; every handler is safe to repeat.
            log.exception("job done but could not be marked done", extra=job.log_fields())
            return
        if not held:
            log.warning("job finished after another instance took it over", extra=job.log_fields())

    async def _retry(self, job: Job, reason: str, delay: float | None) -> None:
        backoff = backoff_delay(job.attempts, base=self._backoff_base, cap=self._backoff_cap)
        # A server's Retry-After is the pace it asked for: neither sooner nor later.
        wait = delay if delay is not None else backoff
        run_at = self._clock() + wait
        log.warning(
            "job will be retried",
            extra=job.log_fields() | {"retry_in_s": round(wait, 2), "reason": reason},
        )
        try:
            await self._store.retry_job(job, self._owner, run_at, reason)
        except Exception:
            # It runs again when its lease runs out.
            log.exception("could not reschedule job", extra=job.log_fields())
            return
        if len(self._retry_times) < _MAX_RETRY_TIMES:
            heapq.heappush(self._retry_times, run_at)

    async def stop(self, grace: float = DEFAULT_STOP_GRACE_SECONDS) -> None:
        """Stops claiming, lets running jobs finish within `grace`, hands back the rest."""
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            await self._loop_task
        running = dict(self._running)
        if running:
            log.info(
                "stopping: waiting for running jobs",
                extra={"running_jobs": len(running), "grace_s": grace},
            )
            _, pending = await asyncio.wait(set(running), timeout=grace)
            for task in pending:
                # Handed back below: it resumes at the next start or on another instance.
                log.warning("job stopped before it finished", extra=running[task].log_fields())
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        # Leases were renewed until here, so no other instance started a job still running.
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat_task
        await self._store.release_jobs(self._owner)
