"""The job queue: due jobs leased to one worker at a time, renewed, finished or handed back.

What a job does is the worker's registry's business (bot/jobs/); here a job is a kind, a
step, a due time and a lease. Leases are how instances share jobs without knowing of each
other: rows are locked with SKIP LOCKED on PostgreSQL, and a lease that runs out (its
instance died) makes the job due again.

A job lives in one of two places. Follow-up work (deliver, refresh, thread replies,
notes, reminders) is a row of `jobs`. A step's first job, posting it, is its own row of
`steps` (`post_at` and a lease beside it), so a webhook writes one row; the worker sees
the same `Job` either way, and hands it back here to be renewed, finished or retried.
Expiry is no job at all: `expire_due` settles the open steps whose time has passed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Table,
    TextClause,
    Update,
    and_,
    bindparam,
    literal,
    null,
    or_,
    select,
    text,
    true,
    union_all,
    update,
)

from bot.domain import JobKind, StepRecord, StepState
from bot.lifecycle import Effects
from bot.store import outbox
from bot.store.base import StoreBase
from bot.store.schema import OPEN_EXPIRING, POST_DUE, jobs, steps
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
    # A step's post, kept on the step's own row rather than in `jobs` (its id is then 0).
    on_step_row: bool = False

    @property
    def key(self) -> str:
        """Unique among running jobs, wherever the job is kept."""
        return _where(self).key_of(_key_value(self))

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


@dataclass(frozen=True)
class _Leases:
    """Where a job is kept, and its lease's columns: a row of `jobs`, or a step's post on
    the step's own row. Renewing, retrying and handing back read the same for both."""

    prefix: str  # of the keys (`Job.key`) of the jobs kept here
    table: Table
    key: Column[Any]
    due: Column[Any]
    locked_by: Column[Any]
    locked_until: Column[Any]
    attempts: Column[Any]
    error: Column[Any]
    # The rows that can be leased (a partial index's condition, where there is one).
    scope: ColumnElement[bool] | TextClause

    def key_of(self, value: object) -> str:
        return f"{self.prefix}:{value}"

    def held(self, keys: Sequence[object], owner: str) -> ColumnElement[bool]:
        return and_(self.key.in_(keys), self.locked_by == owner)


_JOB_ROWS = _Leases(
    prefix="job",
    table=jobs,
    key=jobs.c.id,
    due=jobs.c.run_at,
    locked_by=jobs.c.locked_by,
    locked_until=jobs.c.locked_until,
    attempts=jobs.c.attempts,
    error=jobs.c.last_error,
    scope=true(),
)
_POSTS = _Leases(
    prefix="step",
    table=steps,
    key=steps.c.step_id,
    due=steps.c.post_at,
    locked_by=steps.c.post_locked_by,
    locked_until=steps.c.post_locked_until,
    attempts=steps.c.post_attempts,
    error=steps.c.post_error,
    scope=text(POST_DUE),
)


def _where(job: Job) -> _Leases:
    return _POSTS if job.on_step_row else _JOB_ROWS


def _key_value(job: Job) -> object:
    return job.step_id if job.on_step_row else job.id


# What claim_jobs may lease. Built once, with the time and the limit bound at each claim:
# building these statements anew for every claim cost about 1.5 ms of the event loop's
# time, more than running them.
_other = jobs.alias("other")
_JOB_CANDIDATES = (
    select(jobs.c.id, jobs.c.step_id, jobs.c.locked_by, jobs.c.run_at)
    .where(
        jobs.c.run_at <= bindparam("now"),
        or_(jobs.c.locked_until.is_(None), jobs.c.locked_until <= bindparam("now")),
        ~select(_other.c.id)
        .where(
            and_(
                _other.c.step_id == jobs.c.step_id,
                _other.c.id != jobs.c.id,
                _other.c.locked_until.is_not(None),
                _other.c.locked_until > bindparam("now"),
            )
        )
        .exists(),
        # Nor while a worker posts the step (its post is kept on the step's row).
        ~select(steps.c.step_id)
        .where(
            steps.c.step_id == jobs.c.step_id,
            steps.c.post_locked_until.is_not(None),
            steps.c.post_locked_until > bindparam("now"),
        )
        .exists(),
    )
    .order_by(jobs.c.run_at, jobs.c.id)
    # A few per step may be due: enough candidates for `limit` steps, most of the time.
    .limit(bindparam("limit") * 4)
    .with_for_update(skip_locked=True, of=jobs)
)
_POST_CANDIDATES = (
    select(steps.c.step_id, steps.c.post_locked_by, steps.c.post_at)
    .where(
        text(POST_DUE),  # as the partial index says it, so SQLite uses the index
        steps.c.post_at <= bindparam("now"),
        or_(steps.c.post_locked_until.is_(None), steps.c.post_locked_until <= bindparam("now")),
    )
    .order_by(steps.c.post_at)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True, of=steps)
)


# … and what it does with those it chose: each is leased, and claiming counts as an
# attempt.
def _lease(place: _Leases) -> Update:
    return (
        update(place.table)
        .where(place.key.in_(bindparam("ids", expanding=True)))
        .values(
            {
                place.locked_by: bindparam("owner"),
                place.locked_until: bindparam("until"),
                place.attempts: place.attempts + 1,
            }
        )
    )


# Both kinds of candidate in one statement (on PostgreSQL a round trip fewer per claim),
# each row saying where it is kept: posts first, as a step's post comes before its jobs.
_posts, _job_rows = _POST_CANDIDATES.subquery(), _JOB_CANDIDATES.subquery()
_CANDIDATES = union_all(
    select(
        literal(0).label("place"),
        _posts.c.post_at.label("due"),
        _posts.c.step_id,
        null().label("job_id"),
        _posts.c.post_locked_by.label("locked_by"),
    ),
    select(
        literal(1),
        _job_rows.c.run_at,
        _job_rows.c.step_id,
        _job_rows.c.id,
        _job_rows.c.locked_by,
    ),
)

_LEASE_JOBS = _lease(_JOB_ROWS).returning(
    jobs.c.id,
    jobs.c.step_id,
    jobs.c.kind,
    jobs.c.attempts,
    jobs.c.created_at,
    jobs.c.last_error,
    jobs.c.detail,
)
# A leased post comes back with its step's row: the post needs nothing more read.
_LEASE_POSTS = _lease(_POSTS).returning(*steps.c)

# A job done, if `owner` still holds it: a post done is the step no longer due to be
# posted; a job row is deleted.
_FINISH_POST = (
    update(steps)
    .where(steps.c.step_id == bindparam("key"), steps.c.post_locked_by == bindparam("owner"))
    .values(post_at=None, post_locked_by=None, post_locked_until=None)
    .returning(steps.c.step_id)
)
_FINISH_JOB = (
    jobs.delete()
    .where(jobs.c.id == bindparam("key"), jobs.c.locked_by == bindparam("owner"))
    .returning(jobs.c.id)
)
_STEPS_OF = select(steps).where(steps.c.step_id.in_(bindparam("ids", expanding=True)))


class JobRows(StoreBase):
    async def claim_jobs(self, owner: str, now: float, lease: float, limit: int) -> list[Job]:
        """Leases due jobs to `owner`, oldest due first, at most one per step so a step's
        jobs run in order: rows of `jobs`, and steps due to be posted.

        Rows are locked with SKIP LOCKED on PostgreSQL, so instances never take the same
        job; a lease that runs out (its instance died) makes the job due again. Claiming
        counts as an attempt, so a job taken over from a dead instance knows it may have
        run before.
        """

        def work(conn: Connection) -> tuple[Sequence[Any], Sequence[Any], dict[str, Any]]:
            if self._dialect == "postgresql":
                # Row locks keep two instances off the same job, but not off two jobs of
                # one step: the NOT EXISTS above reads a snapshot that cannot see another
                # instance's claim still committing. Claims are two short statements, so
                # taking them one at a time costs little and makes "one per step" hold.
                # (SQLite's BEGIN IMMEDIATE already serialises them.)
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_CLAIM_LOCK_KEY})")
            # Both kinds in due order; a step's post comes before its other jobs.
            due = sorted(
                conn.execute(_CANDIDATES, {"now": now, "limit": limit}).all(),
                key=lambda c: (c.due, c.place, c.job_id or 0),
            )
            post_ids: list[str] = []
            job_ids: list[int] = []
            chosen: set[str] = set()
            for _, _, step_id, job_id, locked_by in due:
                if len(chosen) >= limit:
                    break
                if step_id in chosen:
                    continue
                chosen.add(step_id)
                if job_id is None:
                    post_ids.append(step_id)
                    previous_owner[_POSTS.key_of(step_id)] = locked_by
                else:
                    job_ids.append(job_id)
                    previous_owner[_JOB_ROWS.key_of(job_id)] = locked_by
            if not chosen:
                return [], [], {}
            claimed: Sequence[Any] = []
            step_rows: dict[str, Any] = {}
            if post_ids:
                leased = {"ids": post_ids, "owner": owner, "until": now + lease}
                step_rows = {row.step_id: row for row in conn.execute(_LEASE_POSTS, leased)}
            if job_ids:
                leased = {"ids": job_ids, "owner": owner, "until": now + lease}
                claimed = conn.execute(_LEASE_JOBS, leased).all()
                unread = [row.step_id for row in claimed if row.step_id not in step_rows]
                if unread:
                    step_rows |= {
                        row.step_id: row for row in conn.execute(_STEPS_OF, {"ids": unread})
                    }
            return claimed, post_ids, step_rows

        previous_owner: dict[str, str | None] = {}
        claimed, post_ids, step_rows = await self._write(work)
        records = {step_id: record_of(row) for step_id, row in step_rows.items()}

        def conversation(step_id: str) -> str | None:
            record = records.get(step_id)
            return record.step.conversation_id if record is not None else None

        posts = [
            Job(
                id=0,
                step_id=step_id,
                kind=JobKind.POST.value,
                attempts=step_rows[step_id].post_attempts - 1,
                created_at=step_rows[step_id].received_at,
                last_error=step_rows[step_id].post_error,
                conversation_id=conversation(step_id),
                record=records.get(step_id),
                taken_over_from=previous_owner.get(_POSTS.key_of(step_id)),
                on_step_row=True,
            )
            for step_id in post_ids
        ]
        others = sorted(
            (
                Job(
                    id=row.id,
                    step_id=row.step_id,
                    kind=row.kind,
                    attempts=row.attempts - 1,
                    created_at=row.created_at,
                    last_error=row.last_error,
                    conversation_id=conversation(row.step_id),
                    record=records.get(row.step_id),
                    taken_over_from=previous_owner.get(_JOB_ROWS.key_of(row.id)),
                    detail=row.detail,
                )
                for row in claimed
            ),
            key=lambda job: job.id,
        )
        return posts + others

    async def extend_leases(self, owner: str, running: Sequence[Job], until: float) -> set[str]:
        """Keeps `owner`'s running jobs leased; returns the keys of those it still holds."""

        def work(conn: Connection) -> set[str]:
            kept: set[str] = set()
            for place in (_JOB_ROWS, _POSTS):
                keys = [_key_value(job) for job in running if _where(job) is place]
                if keys:
                    query = (
                        update(place.table)
                        .where(place.held(keys, owner))
                        .values({place.locked_until: until})
                        .returning(place.key)
                    )
                    kept |= {place.key_of(key) for key in conn.execute(query).scalars()}
            return kept

        if not running:
            return set()
        # Urgent even for the worker: a lease left to run out would hand a running job
        # to another instance.
        return await self._write(work, urgent=True)

    async def finish_job(self, job: Job, owner: str) -> bool:
        """Ends a done job; False if `owner` no longer held it (another took it over)."""
        query = _FINISH_POST if job.on_step_row else _FINISH_JOB
        held = {"key": _key_value(job), "owner": owner}
        return await self._write(lambda conn: conn.execute(query, held).first() is not None)

    async def retry_job(self, job: Job, owner: str, run_at: float, error: str) -> bool:
        """Hands a job back, due again at `run_at`; False if `owner` no longer held it."""
        place = _where(job)
        query = (
            update(place.table)
            .where(place.held([_key_value(job)], owner))
            .values(
                {
                    place.due: run_at,
                    place.locked_by: None,
                    place.locked_until: None,
                    place.error: error[:2000],
                }
            )
            .returning(place.key)
        )
        return await self._write(lambda conn: conn.execute(query).first() is not None)

    async def release_jobs(self, owner: str) -> None:
        """Hands back every job `owner` holds (a graceful stop), due at once elsewhere."""

        def work(conn: Connection) -> None:
            for place in (_JOB_ROWS, _POSTS):
                conn.execute(
                    update(place.table)
                    .where(place.scope, place.locked_by == owner)
                    .values({place.locked_by: None, place.locked_until: None})
                )

        await self._write(work)

    async def expire_due(
        self, now: float, effects: Callable[[StepRecord], Effects], limit: int = 200
    ) -> list[StepRecord]:
        """Settles as expired the open steps whose `expires_at` has passed (at most
        `limit`, oldest first), each with the `effects` of settling; returns them.

        Expiry is a sweep over an index of open steps, not a job per step: a webhook then
        writes no job row for it. Each step moves with a compare-and-set on its state, so
        an answer racing the sweep either wins or finds the step expired.
        """
        # Written out: SQLite, without statistics, prefers the index on state and walks
        # every open step; INDEXED BY makes it use the one holding only those that expire.
        # (PostgreSQL has statistics, and row locks: instances sweep different steps.)
        sqlite_side, postgres_side = "INDEXED BY ix_steps_open_expiry", "FOR UPDATE SKIP LOCKED"
        hint, lock = (sqlite_side, "") if self._dialect == "sqlite" else ("", postgres_side)
        due = text(
            f"SELECT * FROM steps {hint} WHERE {OPEN_EXPIRING} AND expires_at <= :now "  # noqa: S608 - constants only
            f"ORDER BY expires_at LIMIT :limit {lock}"
        ).bindparams(now=now, limit=limit)

        def work(conn: Connection) -> list[StepRecord]:
            expired = []
            for row in conn.execute(due).all():
                conn.execute(
                    update(steps)
                    .where(steps.c.step_id == row.step_id)
                    .values(state=StepState.EXPIRED.value, settled_at=now)
                )
                record = record_of(row)
                outbox.write(conn, row.step_id, effects(record))
                expired.append(record)
            return expired

        return await self._write(work)

    async def list_jobs(self, step_id: str | None = None) -> list[QueuedJob]:
        """Every job still to run (or running), a step's post first, then oldest first;
        for operators and tests."""
        query = select(jobs).order_by(jobs.c.id)
        posts = select(steps).where(text(POST_DUE))
        if step_id is not None:
            query = query.where(jobs.c.step_id == step_id)
            posts = posts.where(steps.c.step_id == step_id)
        posts = posts.order_by(steps.c.post_at)

        def work(conn: Connection) -> tuple[Sequence[Any], Sequence[Any]]:
            return conn.execute(posts).all(), conn.execute(query).all()

        post_rows, rows = await self._read(work)
        return [
            QueuedJob(
                id=0,
                step_id=row.step_id,
                kind=JobKind.POST.value,
                run_at=row.post_at,
                attempts=row.post_attempts,
                locked_by=row.post_locked_by,
                locked_until=row.post_locked_until,
                last_error=row.post_error,
            )
            for row in post_rows
        ] + [
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
