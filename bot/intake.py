"""Group commit for webhooks: steps arriving while a transaction runs share the next one.

One writer task takes whatever has queued up and stores it all with one `add_deliveries`, so 32
concurrent deliveries cost about one transaction instead of 32 queued behind each other.
A backend may allow a few such transactions in flight (`write_concurrency`); both of ours
take one at a time, so each batch is as large as the wait for the previous one made it.
Each caller still waits for the transaction holding ITS step: nothing is acknowledged
before it is committed, and a failed transaction fails every request it carried (none of
its steps is stored, so Intercom's retry of each is safe).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable

from bot.intercom.webhook import Received
from bot.store import SqlStore

log = logging.getLogger(__name__)

# Bounds one transaction (and its statement's parameters); more waits for the next one.
MAX_BATCH = 256
# While webhooks pour in, the worker waits for a gap this long before taking more jobs
# (see `quiet`) …
QUIET_SECONDS = 0.002
# A gap that comes this soon after the latest webhook is a gap in a flood: the worker
# then takes one job, not a full share.
FLOOD_SECONDS = 0.05
# … but never longer than this, so a flood that never stops still lets it work: up to
# `concurrency` jobs every half second, still faster than Slack takes posts into a channel
# (about one a second). 0.5 s gave 8 % more webhooks/s in the benchmark than 0.1 s; 2 s
# gave nothing more (the worker's jobs in a flood start in its gaps, not at this bound).
MAX_YIELD_SECONDS = 0.5


class IntakeClosed(Exception):
    """The intake is stopping (or was never started): the step was not stored."""


_Pending = tuple[Received, asyncio.Future[bool]]


class StepIntake:
    def __init__(
        self,
        store: SqlStore,
        *,
        clock: Callable[[], float] = time.time,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._store = store
        self._clock = clock
        self._max_batch = max_batch
        self._queue: list[_Pending] = []
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._last_arrival = -math.inf  # event-loop time of the latest add()
        self._waiting = 0  # add() calls not yet answered

    async def add(self, step: Received) -> bool:
        """Stores `step`; True if new. Returns once it is committed."""
        if self._task is None or self._closing:
            raise IntakeClosed("not accepting steps")
        loop = asyncio.get_running_loop()
        self._last_arrival = loop.time()
        future: asyncio.Future[bool] = loop.create_future()
        self._queue.append((step, future))
        self._ready.set()
        self._waiting += 1
        try:
            # An abandoned request cancels its future; the step may still be committed,
            # and Intercom's retry of it is then a duplicate, which is fine.
            return await future
        finally:
            self._waiting -= 1

    async def quiet(self) -> bool:
        """Returns once no webhook waits for its commit and none has arrived for
        QUIET_SECONDS (at once if none is arriving), or after MAX_YIELD_SECONDS whatever
        happens. True when it returns in a gap of webhooks that are pouring in (one
        arrived within FLOOD_SECONDS).

        The worker calls this before taking jobs: acknowledging Intercom is what must be
        fast, and a post to Slack that starts a few milliseconds later loses nothing.
        Webhooks waiting for a commit count as busy: senders that wait for their answer
        send nothing meanwhile, so without them every commit would look like a gap.
        After a gap in a flood the worker takes one job, not a full share (see
        bot/worker.py); after the bound, with no gap at all, a full share, so a flood that
        never pauses still lets it work.
        """
        loop = asyncio.get_running_loop()
        give_up = loop.time() + MAX_YIELD_SECONDS
        while True:
            now = loop.time()
            if now >= give_up:
                return False
            quiet_at = self._last_arrival + QUIET_SECONDS
            if self._waiting == 0 and now >= quiet_at:
                return now - self._last_arrival < FLOOD_SECONDS
            await asyncio.sleep(min(max(quiet_at - now, QUIET_SECONDS), give_up - now))

    def start(self) -> None:
        self._closing = False
        self._task = asyncio.create_task(self._write_loop(), name="step-intake")

    async def stop(self) -> None:
        """Stores what is already queued, then stops taking steps."""
        self._closing = True
        self._ready.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _write_loop(self) -> None:
        slots = asyncio.Semaphore(self._store.write_concurrency)
        writing: set[asyncio.Task[None]] = set()

        async def write(batch: list[_Pending]) -> None:
            try:
                await self._write(batch)
            finally:
                slots.release()

        try:
            while True:
                await self._ready.wait()
                self._ready.clear()
                while self._queue:
                    await slots.acquire()
                    batch = self._queue[: self._max_batch]
                    del self._queue[: self._max_batch]
                    task = asyncio.create_task(write(batch))
                    writing.add(task)
                    task.add_done_callback(writing.discard)
                if self._closing:
                    return
        finally:
            if writing:
                await asyncio.gather(*writing, return_exceptions=True)

    async def _write(self, batch: list[_Pending]) -> None:
        try:
            results = await self._store.add_deliveries([step for step, _ in batch], self._clock())
        except Exception as exc:
            if len(batch) > 1:
                # One step the database refuses must not fail the others: store each
                # alone, so only its own request fails (and is retried by Intercom).
                log.warning(
                    "could not store webhook steps together; storing them one by one",
                    extra={"steps": len(batch), "reason": f"{exc.__class__.__name__}: {exc}"},
                )
                for pending in batch:
                    await self._write([pending])
                return
            log.exception("could not store a webhook step", extra={"step_id": batch[0][0].step_id})
            _settle(batch, exc)
            return
        except BaseException:
            _settle(batch, IntakeClosed("stopped before the step was stored"))
            raise
        for (_, future), is_new in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(is_new)


def _settle(batch: list[_Pending], exc: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)
