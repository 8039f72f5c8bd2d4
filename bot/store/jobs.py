"""The job queue: due jobs leased to one worker at a time, renewed, finished or handed back.

What a job does is the worker's registry's business (bot/jobs/); here a job is a kind, a
step, a due time and a lease. Leases are how instances share jobs without knowing of each
other: rows are locked with SKIP LOCKED on PostgreSQL, and a lease that runs out (its
instance died) makes the job due again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update

from bot.domain import StepRecord
from bot.store.base import StoreBase
from bot.store.schema import jobs, steps
from bot.store.steps import record_of

# Any fixed number works; it only has to be the same for every instance.
_CLAIM_LOCK_KEY = 0x48_49_54_4D


@dataclass(frozen=True)
class Job:
    """A job as its handler gets it, leased to one worker."""

    id: int
    step_id: str
    kind: str
    # Attempts started before this one, including any cut short by a crash: more than
    # zero means an earlier attempt may already have had its effect.
    attempts: int
    created_at: float
    last_error: str | None
    conversation_id: str | None = None
    # The step as it stood when the job was claimed (read in the claim's transaction, so
    # a handler needs no read of its own); None if the step is gone.
    record: StepRecord | None = None
    # The instance whose lease on this job ran out before it finished (it died, most
    # likely); None when the job was never claimed or was handed back.
    taken_over_from: str | None = None
    # What the job is about beyond its kind (JSON; bot/lifecycle.py's FollowUp.detail).
    detail: str | None = None

    def log_fields(self) -> dict[str, object]:
        """What every log line about this job carries."""
        return {
            "job_id": self.id,
            "job_kind": self.kind,
            "step_id": self.step_id,
            "conversation_id": self.conversation_id,
            "attempt": self.attempts + 1,
        }


@dataclass(frozen=True)
class QueuedJob:
    """A job as it stands in the table (for operators and tests)."""

    id: int
    step_id: str
    kind: str
    run_at: float
    attempts: int
    locked_by: str | None
    locked_until: float | None
    last_error: str | None


class JobRows(StoreBase):
    async def claim_jobs(self, owner: str, now: float, lease: float, limit: int) -> list[Job]:
        """Leases due jobs to `owner`, at most one per step so a step's jobs run in order.

        Rows are locked with SKIP LOCKED on PostgreSQL, so instances never take the same
        job; a lease that runs out (its instance died) makes the job due again. Claiming
        counts as an attempt, so a job taken over from a dead instance knows it may have
        run before.
        """
        other = jobs.alias("other")
        candidates = (
            select(jobs.c.id, jobs.c.step_id, jobs.c.locked_by)
            .where(
                jobs.c.run_at <= now,
                or_(jobs.c.locked_until.is_(None), jobs.c.locked_until <= now),
                ~select(other.c.id)
                .where(
                    and_(
                        other.c.step_id == jobs.c.step_id,
                        other.c.id != jobs.c.id,
                        other.c.locked_until.is_not(None),
                        other.c.locked_until > now,
                    )
                )
                .exists(),
            )
            .order_by(jobs.c.run_at, jobs.c.id)
            .limit(limit * 4)
            .with_for_update(skip_locked=True, of=jobs)
        )
        previous_owner: dict[int, str | None] = {}

        def work(conn: Connection) -> tuple[Sequence[Any], dict[str, Any]]:
            if self._dialect == "postgresql":
                # Row locks keep two instances off the same job, but not off two jobs of
                # one step: the NOT EXISTS above reads a snapshot that cannot see another
                # instance's claim still committing. Claims are two short statements, so
                # taking them one at a time costs little and makes "one per step" hold.
                # (SQLite's BEGIN IMMEDIATE already serialises them.)
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_CLAIM_LOCK_KEY})")
            chosen: dict[str, int] = {}
            for row in conn.execute(candidates).all():
                if len(chosen) >= limit:
                    break
                if row.step_id not in chosen:
                    chosen[row.step_id] = row.id
                    previous_owner[row.id] = row.locked_by
            if not chosen:
                return [], {}
            claimed = conn.execute(
                update(jobs)
                .where(jobs.c.id.in_(list(chosen.values())))
                .values(
                    locked_by=owner,
                    locked_until=now + lease,
                    attempts=jobs.c.attempts + 1,
                )
                .returning(
                    jobs.c.id,
                    jobs.c.step_id,
                    jobs.c.kind,
                    jobs.c.attempts,
                    jobs.c.created_at,
                    jobs.c.last_error,
                    jobs.c.detail,
                )
            ).all()
            step_rows = {
                row.step_id: row
                for row in conn.execute(select(steps).where(steps.c.step_id.in_(list(chosen))))
            }
            return claimed, step_rows

        claimed, step_rows = await self._write(work)
        records = {step_id: record_of(row) for step_id, row in step_rows.items()}
        return sorted(
            (
                Job(
                    id=row.id,
                    step_id=row.step_id,
                    kind=row.kind,
                    attempts=row.attempts - 1,
                    created_at=row.created_at,
                    last_error=row.last_error,
                    conversation_id=(
                        records[row.step_id].step.conversation_id
                        if row.step_id in records
                        else None
                    ),
                    record=records.get(row.step_id),
                    taken_over_from=previous_owner.get(row.id),
                    detail=row.detail,
                )
                for row in claimed
            ),
            key=lambda job: job.id,
        )

    async def extend_leases(self, owner: str, job_ids: Sequence[int], until: float) -> set[int]:
        """Keeps `owner`'s running jobs leased; returns the ids it still holds."""
        if not job_ids:
            return set()
        query = (
            update(jobs)
            .where(jobs.c.id.in_(list(job_ids)), jobs.c.locked_by == owner)
            .values(locked_until=until)
            .returning(jobs.c.id)
        )
        # Urgent even for the worker: a lease left to run out would hand a running job
        # to another instance.
        return await self._write(lambda conn: set(conn.execute(query).scalars()), urgent=True)

    async def finish_job(self, job_id: int, owner: str) -> bool:
        """Deletes a done job; False if `owner` no longer held it (another took it over)."""
        query = (
            jobs.delete().where(jobs.c.id == job_id, jobs.c.locked_by == owner).returning(jobs.c.id)
        )
        return await self._write(lambda conn: conn.execute(query).first() is not None)

    async def retry_job(self, job_id: int, owner: str, run_at: float, error: str) -> bool:
        """Hands a job back, due again at `run_at`; False if `owner` no longer held it."""
        query = (
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.locked_by == owner)
            .values(run_at=run_at, locked_by=None, locked_until=None, last_error=error[:2000])
            .returning(jobs.c.id)
        )
        return await self._write(lambda conn: conn.execute(query).first() is not None)

    async def release_jobs(self, owner: str) -> None:
        """Hands back every job `owner` holds (a graceful stop), due at once elsewhere."""
        query = (
            update(jobs).where(jobs.c.locked_by == owner).values(locked_by=None, locked_until=None)
        )
        await self._write(lambda conn: conn.execute(query))

    async def list_jobs(self, step_id: str | None = None) -> list[QueuedJob]:
        """Every job still to run (or running), oldest first; for operators and tests."""
        query = select(jobs).order_by(jobs.c.id)
        if step_id is not None:
            query = query.where(jobs.c.step_id == step_id)
        rows = await self._read(lambda conn: conn.execute(query).all())
        return [
            QueuedJob(
                id=row.id,
                step_id=row.step_id,
                kind=row.kind,
                run_at=row.run_at,
                attempts=row.attempts,
                locked_by=row.locked_by,
                locked_until=row.locked_until,
                last_error=row.last_error,
            )
            for row in rows
        ]
