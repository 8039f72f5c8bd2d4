"""The SQL store (SQLite or PostgreSQL through SQLAlchemy Core): steps, answers and jobs.

Every state change and the jobs it causes are written in one transaction (a transactional
outbox), so a crash can never leave a change without the work that must follow it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, and_, event, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.domain import Answer, Step, StepRecord, StepState
from bot.store.schema import jobs, steps

log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed numbers work; they only have to be the same for every instance.
_MIGRATION_LOCK_KEY = 0x48_49_54_4C
_CLAIM_LOCK_KEY = 0x48_49_54_4D
# Read-only work on SQLite starts a deferred transaction instead of taking the write lock.
_READ_ONLY = "hitl_read_only"

OPEN_STATES = (StepState.RECEIVED.value, StepState.POSTED.value)


class JobKind:
    POST = "post"  # post the request message to Slack
    DELIVER = "deliver"  # send the claimed answer to Intercom
    REFRESH = "refresh"  # bring the Slack message in line with the step's state
    EXPIRE = "expire"  # settle an unanswered step when its expiry passes
    TRAIL = "trail"  # say in the step's thread how it settled
    REMIND = "remind"  # remind the channel, in the thread, of an unanswered step
    NOTE = "note"  # add the audit note to the Intercom conversation after an answer


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
    # The instance whose lease on this job ran out before it finished (it died, most
    # likely); None when the job was never claimed or was handed back.
    taken_over_from: str | None = None


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
class ClaimResult:
    """Whether this answer won the step, and the step as it now stands."""

    won: bool
    record: StepRecord | None


def async_url(database_url: str) -> str:
    """Maps the operator's URL to SQLAlchemy's async driver URL."""
    if database_url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + database_url.removeprefix("sqlite:///")
    for prefix in ("postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+asyncpg://" + database_url.removeprefix(prefix)
    raise ValueError("DATABASE_URL must start with sqlite:/// or postgresql://")


def _record(row: Any) -> StepRecord:
    return StepRecord(
        step=Step.model_validate_json(row.step_json),
        state=StepState(row.state),
        received_at=row.received_at,
        channel_id=row.channel_id,
        message_ts=row.message_ts,
        permalink=row.permalink,
        answer=Answer.model_validate_json(row.answer_json) if row.answer_json else None,
        outcome_detail=row.outcome_detail,
        settled_at=row.settled_at,
        reminders_sent=row.reminders_sent,
    )


# Built once: executed with a list of rows they become one multi-row INSERT each
# (SQLAlchemy's "insertmanyvalues"), RETURNING the steps actually inserted.
_ADD_STEPS = {
    name: dialect.insert(steps)
    .on_conflict_do_nothing(index_elements=["step_id"])
    .returning(steps.c.step_id)
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}
_ADD_JOBS = jobs.insert()


class SqlStore:
    """One interface over SQLite (embedded default) and PostgreSQL (several instances)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # Same pool; on SQLite its transactions are deferred, so reads never wait for
        # (or hold) the write lock another process may have.
        self._reader = engine.execution_options(**{_READ_ONLY: True})
        self._dialect = engine.dialect.name

    @classmethod
    def connect(cls, database_url: str) -> SqlStore:
        """A store whose connections open lazily; call `migrate()` before use."""
        url = make_url(async_url(database_url))
        if url.get_backend_name() == "sqlite":
            # One connection: SQLite has one writer anyway, and this keeps every
            # transaction free of "database is locked" between our own connections.
            engine = create_async_engine(url, pool_size=1, max_overflow=0)
            _tune_sqlite(engine)
        else:
            engine = create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
        return cls(engine)

    @classmethod
    async def open(cls, database_url: str) -> SqlStore:
        """Connects and migrates to the newest schema."""
        store = cls.connect(database_url)
        try:
            await store.migrate()
        except BaseException:
            await store.close()
            raise
        return store

    async def close(self) -> None:
        await self._engine.dispose()

    async def migrate(self) -> None:
        async with self._engine.begin() as conn:
            if self._dialect == "postgresql":
                # Instances starting together must not race each other's CREATE TABLE.
                await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})")
            await conn.run_sync(_upgrade_to_head)

    def _insert(self, table: Any) -> Any:
        dialect = postgresql if self._dialect == "postgresql" else sqlite
        return dialect.insert(table)

    # Steps ---------------------------------------------------------------------------

    async def add_steps(self, new_steps: Sequence[Step], now: float) -> list[bool]:
        """Stores steps not seen before, each with its post (and expiry) job.

        Returns, per step, whether it was new: a retried delivery changes nothing.
        One transaction whatever the number of steps (the webhook intake commits
        concurrent deliveries together), with two fixed statements sent as batches.
        """
        if not new_steps:
            return []
        unique = {step.step_id: step for step in new_steps}
        rows = [
            {
                "step_id": step.step_id,
                "conversation_id": step.conversation_id,
                "state": StepState.RECEIVED.value,
                "step_json": step.model_dump_json(),
                "received_at": now,
                "expires_at": step.expires_at,
            }
            for step in unique.values()
        ]
        async with self._engine.begin() as conn:
            inserted = set((await conn.execute(_ADD_STEPS[self._dialect], rows)).scalars())
            job_rows = [_job_row(step_id, JobKind.POST, now) for step_id in inserted]
            job_rows += [
                _job_row(step.step_id, JobKind.EXPIRE, float(step.expires_at))
                for step in unique.values()
                if step.step_id in inserted and step.expires_at is not None
            ]
            if job_rows:
                await conn.execute(_ADD_JOBS, job_rows)
        seen: set[str] = set()
        result = []
        for step in new_steps:
            result.append(step.step_id in inserted and step.step_id not in seen)
            seen.add(step.step_id)
        return result

    async def get(self, step_id: str) -> StepRecord | None:
        async with self._reader.connect() as conn:
            row = (await conn.execute(select(steps).where(steps.c.step_id == step_id))).first()
        return _record(row) if row else None

    async def claim_answer(self, step_id: str, answer: Answer, now: float) -> ClaimResult:
        """Compare-and-set: the first answer for an open step wins; later ones see it."""
        async with self._engine.begin() as conn:
            changed = await conn.execute(
                update(steps)
                .where(steps.c.step_id == step_id, steps.c.state.in_(OPEN_STATES))
                .values(
                    state=StepState.SUBMITTED.value,
                    answer_json=answer.model_dump_json(),
                    answered_by=answer.user_id,
                )
            )
            won = changed.rowcount == 1
            if won:
                await conn.execute(jobs.insert(), [_job_row(step_id, JobKind.DELIVER, now)])
                await self._enqueue_refresh(conn, step_id, now)
            row = (await conn.execute(select(steps).where(steps.c.step_id == step_id))).first()
        return ClaimResult(won=won, record=_record(row) if row else None)

    async def mark_posted(
        self,
        step_id: str,
        channel_id: str,
        message_ts: str,
        permalink: str | None,
        *,
        remind_at: float | None = None,
    ) -> StepRecord | None:
        """Remembers where the request message is; a step still `received` becomes `posted`.

        With `remind_at`, the step's first reminder is scheduled in the same transaction,
        once: only the move to `posted` schedules it.
        """
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    select(steps.c.state).where(steps.c.step_id == step_id).with_for_update()
                )
            ).first()
            if row is None:
                return None
            values: dict[str, Any] = {
                "channel_id": channel_id,
                "message_ts": message_ts,
                "permalink": permalink,
            }
            if row.state == StepState.RECEIVED.value:
                values["state"] = StepState.POSTED.value
                if remind_at is not None:
                    await conn.execute(
                        jobs.insert(), [_job_row(step_id, JobKind.REMIND, remind_at)]
                    )
            else:
                # The step moved on while it was being posted: show where it is now.
                await self._enqueue_refresh(conn, step_id, 0.0)
            await conn.execute(update(steps).where(steps.c.step_id == step_id).values(values))
            fresh = (await conn.execute(select(steps).where(steps.c.step_id == step_id))).first()
        return _record(fresh) if fresh else None

    async def settle(
        self,
        step_id: str,
        state: StepState,
        detail: str | None,
        now: float,
        *,
        from_states: Sequence[StepState],
        then: Sequence[str] = (),
    ) -> bool:
        """Moves a step to a settled state if it is still in one of `from_states`.

        The jobs of kinds `then` are added in the same transaction, so they exist exactly
        once per settling; reminders still waiting are dropped.
        """
        async with self._engine.begin() as conn:
            changed = await conn.execute(
                update(steps)
                .where(
                    steps.c.step_id == step_id,
                    steps.c.state.in_([s.value for s in from_states]),
                )
                .values(state=state.value, outcome_detail=detail, settled_at=now)
            )
            if changed.rowcount != 1:
                return False
            await self._enqueue_refresh(conn, step_id, now)
            if then:
                await conn.execute(jobs.insert(), [_job_row(step_id, kind, now) for kind in then])
            await conn.execute(
                jobs.delete().where(
                    jobs.c.step_id == step_id,
                    jobs.c.kind == JobKind.REMIND,
                    jobs.c.locked_by.is_(None),
                )
            )
        return True

    async def reminder_sent(self, step_id: str, next_at: float | None) -> None:
        """Counts a posted reminder; schedules the next at `next_at` if the step is open."""
        async with self._engine.begin() as conn:
            changed = await conn.execute(
                update(steps)
                .where(steps.c.step_id == step_id)
                .values(reminders_sent=steps.c.reminders_sent + 1)
                .returning(steps.c.state)
            )
            state = changed.scalar_one_or_none()
            if next_at is not None and state in OPEN_STATES:
                await conn.execute(jobs.insert(), [_job_row(step_id, JobKind.REMIND, next_at)])

    async def settled_since(self, since: float) -> list[StepRecord]:
        """Steps answered or expired at or after `since` (for `/hitl stats`)."""
        settled = (StepState.ANSWERED.value, StepState.EXPIRED.value)
        async with self._reader.connect() as conn:
            rows = (
                await conn.execute(
                    select(steps).where(steps.c.state.in_(settled), steps.c.settled_at >= since)
                )
            ).all()
        return [_record(row) for row in rows]

    async def answered_by(self, user_id: str, limit: int) -> list[StepRecord]:
        """The steps `user_id`'s answer won, newest first."""
        async with self._reader.connect() as conn:
            rows = (
                await conn.execute(
                    select(steps)
                    .where(steps.c.answered_by == user_id)
                    .order_by(steps.c.received_at.desc())
                    .limit(limit)
                )
            ).all()
        return [_record(row) for row in rows]

    async def pending(self, limit: int) -> tuple[list[StepRecord], int]:
        """The newest open steps (at most `limit`) and how many are open in all."""
        async with self._reader.connect() as conn:
            total = (
                await conn.execute(
                    select(func.count()).select_from(steps).where(steps.c.state.in_(OPEN_STATES))
                )
            ).scalar_one()
            rows = (
                await conn.execute(
                    select(steps)
                    .where(steps.c.state.in_(OPEN_STATES))
                    .order_by(steps.c.received_at.desc())
                    .limit(limit)
                )
            ).all()
        return [_record(row) for row in rows], int(total)

    async def state_counts(self) -> dict[StepState, int]:
        """How many steps are in each state (states with none are left out)."""
        async with self._reader.connect() as conn:
            rows = (
                await conn.execute(select(steps.c.state, func.count()).group_by(steps.c.state))
            ).all()
        return {StepState(state): int(count) for state, count in rows}

    async def oldest_open_received_at(self) -> float | None:
        """When the longest-waiting open step arrived; None when no step is open."""
        async with self._reader.connect() as conn:
            oldest = (
                await conn.execute(
                    select(func.min(steps.c.received_at)).where(steps.c.state.in_(OPEN_STATES))
                )
            ).scalar_one_or_none()
        return float(oldest) if oldest is not None else None

    # Jobs ----------------------------------------------------------------------------

    async def _enqueue_refresh(self, conn: AsyncConnection, step_id: str, now: float) -> None:
        # A refresh not yet taken will render the latest state anyway: one is enough.
        # Callers hold the step's row (they have just changed or locked it), so two
        # transactions cannot both find none waiting and both add one.
        waiting = (
            await conn.execute(
                select(jobs.c.id, jobs.c.run_at).where(
                    jobs.c.step_id == step_id,
                    jobs.c.kind == JobKind.REFRESH,
                    jobs.c.locked_by.is_(None),
                )
            )
        ).first()
        if waiting is None:
            await conn.execute(jobs.insert(), [_job_row(step_id, JobKind.REFRESH, now)])
        elif waiting.run_at > now:
            # One backing off after a failed update: the news should not wait for it.
            await conn.execute(update(jobs).where(jobs.c.id == waiting.id).values(run_at=now))

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
        async with self._engine.begin() as conn:
            if self._dialect == "postgresql":
                # Row locks keep two instances off the same job, but not off two jobs of
                # one step: the NOT EXISTS above reads a snapshot that cannot see another
                # instance's claim still committing. Claims are two short statements, so
                # taking them one at a time costs little and makes "one per step" hold.
                # (SQLite's BEGIN IMMEDIATE already serialises them.)
                await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_CLAIM_LOCK_KEY})")
            rows = (await conn.execute(candidates)).all()
            chosen: dict[str, int] = {}
            previous_owner: dict[int, str | None] = {}
            for row in rows:
                if len(chosen) >= limit:
                    break
                if row.step_id not in chosen:
                    chosen[row.step_id] = row.id
                    previous_owner[row.id] = row.locked_by
            if not chosen:
                return []
            claimed = (
                await conn.execute(
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
                    )
                )
            ).all()
            conversations: dict[str, str] = {
                row.step_id: row.conversation_id
                for row in await conn.execute(
                    select(steps.c.step_id, steps.c.conversation_id).where(
                        steps.c.step_id.in_(list(chosen))
                    )
                )
            }
        return sorted(
            (
                Job(
                    id=row.id,
                    step_id=row.step_id,
                    kind=row.kind,
                    attempts=row.attempts - 1,
                    created_at=row.created_at,
                    last_error=row.last_error,
                    conversation_id=conversations.get(row.step_id),
                    taken_over_from=previous_owner.get(row.id),
                )
                for row in claimed
            ),
            key=lambda job: job.id,
        )

    async def extend_leases(self, owner: str, job_ids: Sequence[int], until: float) -> set[int]:
        """Keeps `owner`'s running jobs leased; returns the ids it still holds."""
        if not job_ids:
            return set()
        async with self._engine.begin() as conn:
            kept = await conn.execute(
                update(jobs)
                .where(jobs.c.id.in_(list(job_ids)), jobs.c.locked_by == owner)
                .values(locked_until=until)
                .returning(jobs.c.id)
            )
            return set(kept.scalars())

    async def finish_job(self, job_id: int, owner: str) -> bool:
        """Deletes a done job; False if `owner` no longer held it (another took it over)."""
        async with self._engine.begin() as conn:
            done = await conn.execute(
                jobs.delete()
                .where(jobs.c.id == job_id, jobs.c.locked_by == owner)
                .returning(jobs.c.id)
            )
            return done.first() is not None

    async def retry_job(self, job_id: int, owner: str, run_at: float, error: str) -> bool:
        """Hands a job back, due again at `run_at`; False if `owner` no longer held it."""
        async with self._engine.begin() as conn:
            retried = await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.locked_by == owner)
                .values(
                    run_at=run_at,
                    locked_by=None,
                    locked_until=None,
                    last_error=error[:2000],
                )
                .returning(jobs.c.id)
            )
            return retried.first() is not None

    async def release_jobs(self, owner: str) -> None:
        """Hands back every job `owner` holds (a graceful stop), due at once elsewhere."""
        async with self._engine.begin() as conn:
            await conn.execute(
                update(jobs)
                .where(jobs.c.locked_by == owner)
                .values(locked_by=None, locked_until=None)
            )

    async def list_jobs(self, step_id: str | None = None) -> list[QueuedJob]:
        """Every job still to run (or running), oldest first; for operators and tests."""
        query = select(jobs).order_by(jobs.c.id)
        if step_id is not None:
            query = query.where(jobs.c.step_id == step_id)
        async with self._reader.connect() as conn:
            rows = (await conn.execute(query)).all()
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


def _job_row(step_id: str, kind: str, run_at: float) -> dict[str, Any]:
    return {
        "step_id": step_id,
        "kind": kind,
        "run_at": run_at,
        "attempts": 0,
        "created_at": run_at,
    }


def _upgrade_to_head(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so every transaction can BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL + NORMAL: a commit survives a killed process (not a power cut) at far less
        # fsync cost; busy_timeout covers a second process on the same file.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Take the write lock up front: a deferred transaction that later writes can fail
        # at once with SQLITE_BUSY when another process holds the lock. Reads (marked by
        # the store's reader) need no lock in WAL mode and stay deferred.
        if conn.get_execution_options().get(_READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
