"""Runs durable jobs from the store: claims them under a lease, runs them, retries with backoff.

The worker is woken at once when this instance writes a job, and polls for jobs written by
other instances or falling due later; nothing here knows what a job does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping

from bot.store import Job, SqlStore

log = logging.getLogger(__name__)

JobHandler = Callable[[Job], Awaitable[None]]


class RetryLater(Exception):
    """Raised by a handler: run this job again after `delay` seconds (None: backoff)."""

    def __init__(self, reason: str, *, delay: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


def backoff_delay(attempts: int, *, base: float, cap: float) -> float:
    """Exponential backoff with full jitter in [d/2, d): retries of many jobs spread out."""
    delay = min(cap, base * (2 ** min(attempts, 30)))
    return delay * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not a secret


class Worker:
    def __init__(
        self,
        store: SqlStore,
        handlers: Mapping[str, JobHandler],
        *,
        owner: str,
        poll_interval: float = 1.0,
        lease: float = 20.0,
        concurrency: int = 8,
        backoff_base: float = 1.0,
        backoff_cap: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._handlers = dict(handlers)
        self._owner = owner
        self._poll_interval = poll_interval
        self._lease = lease
        self._concurrency = concurrency
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._clock = clock
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._next_retry: float | None = None
        self._loop_task: asyncio.Task[None] | None = None

    @property
    def owner(self) -> str:
        return self._owner

    def wake(self) -> None:
        """Look for jobs now (this instance has just written one)."""
        self._wake.set()

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop(), name="worker")

    async def _loop(self) -> None:
        while not self._stopping:
            free = self._concurrency - len(self._running)
            claimed: list[Job] = []
            if free > 0:
                try:
                    claimed = await self._store.claim_jobs(
                        self._owner, self._clock(), self._lease, free
                    )
                except Exception:
                    log.exception("could not claim jobs; trying again shortly")
            for job in claimed:
                task = asyncio.create_task(self._run_one(job), name=f"job-{job.kind}-{job.id}")
                self._running.add(task)
                task.add_done_callback(self._on_done)
            if claimed and len(claimed) == free:
                continue  # there may be more due right now
            await self._sleep()

    def _on_done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()  # a slot is free

    async def _sleep(self) -> None:
        timeout = self._poll_interval
        if self._next_retry is not None:
            timeout = max(0.0, min(timeout, self._next_retry - self._clock()))
            self._next_retry = None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()

    async def _run_one(self, job: Job) -> None:
        handler = self._handlers.get(job.kind)
        try:
            if handler is None:
                raise RuntimeError(f"no handler for job kind {job.kind!r}")
            await handler(job)
        except RetryLater as exc:
            await self._retry(job, exc.reason, exc.delay)
        except asyncio.CancelledError:
            # Stopping hard: the lease runs out and the job is taken up again.
            raise
        except Exception as exc:
            log.exception("job failed", extra={"job_kind": job.kind, "step_id": job.step_id})
            await self._retry(job, f"{exc.__class__.__name__}: {exc}", None)
        else:
            await self._store.finish_job(job.id, self._owner)

    async def _retry(self, job: Job, reason: str, delay: float | None) -> None:
        backoff = backoff_delay(job.attempts, base=self._backoff_base, cap=self._backoff_cap)
        # A server's Retry-After is the pace it asked for: neither sooner nor later.
        wait = delay if delay is not None else backoff
        run_at = self._clock() + wait
        log.warning(
            "job will be retried",
            extra={
                "job_kind": job.kind,
                "step_id": job.step_id,
                "attempt": job.attempts + 1,
                "retry_in_s": round(wait, 2),
                "reason": reason,
            },
        )
        await self._store.retry_job(job.id, self._owner, run_at, reason)
        if self._next_retry is None or run_at < self._next_retry:
            self._next_retry = run_at

    async def stop(self, grace: float = 10.0) -> None:
        """Stops claiming, lets running jobs finish within `grace`, hands back the rest."""
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            await self._loop_task
        if self._running:
            _, pending = await asyncio.wait(set(self._running), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        await self._store.release_jobs(self._owner)
