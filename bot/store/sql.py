"""The SQL store (SQLite or PostgreSQL through SQLAlchemy Core): steps, answers and jobs.

Every state change and the jobs it causes are written in one transaction (a transactional
outbox), so a crash can never leave a change without the work that must follow it.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Table, and_, func, or_, select, text, update
from sqlalchemy.dialects import sqlite

from bot.domain import Answer, Step, StepRecord, StepState
from bot.store.database import Database, open_database
from bot.store.schema import jobs, steps

T = TypeVar("T")

log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed numbers work; they only have to be the same for every instance.
_MIGRATION_LOCK_KEY = 0x48_49_54_4C
_CLAIM_LOCK_KEY = 0x48_49_54_4D

OPEN_STATES = (StepState.RECEIVED.value, StepState.POSTED.value)
# Ids per `IN (…)`: well inside SQLite's 32,766 bound parameters.
_IN_BATCH = 500


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
    # The step as it stood when the job was claimed (read in the claim's transaction, so
    # a handler needs no read of its own); None if the step is gone.
    record: StepRecord | None = None
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


_ADD_JOBS = jobs.insert()

# How a batch of new steps is stored (the webhook's hot path), per backend.
#
# SQLite: the batch's transaction holds the write lock (BEGIN IMMEDIATE), so "which of
# these exist?" then a plain executemany INSERT is race-free, and costs 4 driver calls per
# batch where INSERT … RETURNING costs one per row (about 5x the CPU per step, measured).
# Those calls go straight to the driver with tuples: SQLAlchemy's executemany cost about
# 50 µs more of CPU per step, holding the GIL the event loop needs to answer webhooks.
# The SQL is compiled once from the same tables, so it cannot drift from the schema.
_NEW_STEP_COLUMNS = (
    "step_id",
    "conversation_id",
    "state",
    "step_json",
    "received_at",
    "expires_at",
)
_NEW_JOB_COLUMNS = ("step_id", "kind", "run_at", "attempts", "created_at")


def _sqlite_insert(table: Table, columns: Sequence[str]) -> str:
    return str(table.insert().compile(dialect=sqlite.dialect(), column_keys=list(columns)))


_SQLITE_ADD_STEPS = _sqlite_insert(steps, _NEW_STEP_COLUMNS)
_SQLITE_ADD_JOBS = _sqlite_insert(jobs, _NEW_JOB_COLUMNS)

# PostgreSQL: one statement, so a batch costs three round trips (BEGIN, this, COMMIT),
# each awaited on the event loop, where separate INSERTs for steps and jobs cost four.
# Steps another instance stored first are skipped (ON CONFLICT); the jobs of the rest are
# inserted by the second data-modifying CTE, which PostgreSQL runs to completion though
# nothing reads it. The batch travels as arrays, so the text never changes and asyncpg
# prepares it once. Its column names are checked by the store tests on PostgreSQL.
_POSTGRES_ADD_STEPS = text(
    """
    WITH new AS (
        INSERT INTO steps (step_id, conversation_id, state, step_json, received_at, expires_at)
        SELECT s.step_id, s.conversation_id, :state, s.step_json, :now, s.expires_at
        FROM unnest(
            CAST(:step_ids AS text[]),
            CAST(:conversation_ids AS text[]),
            CAST(:step_jsons AS text[]),
            CAST(:expires AS bigint[])
        ) AS s(step_id, conversation_id, step_json, expires_at)
        ON CONFLICT (step_id) DO NOTHING
        RETURNING step_id, expires_at
    ), new_jobs AS (
        INSERT INTO jobs (step_id, kind, run_at, attempts, created_at)
        SELECT step_id, :post, :now, 0, :now FROM new
        UNION ALL
        SELECT step_id, :expire, expires_at, 0, expires_at
        FROM new WHERE expires_at IS NOT NULL
    )
    SELECT step_id FROM new
    """
)


def _add_new_steps_sqlite(conn: Connection, rows: list[tuple[Any, ...]], now: float) -> set[str]:
    """Inserts the rows (in _NEW_STEP_COLUMNS order) whose step is not stored yet, with
    their post and expiry jobs; returns their step ids."""
    driver = conn.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    wanted = [row[0] for row in rows]
    marks = ",".join("?" * len(wanted))  # only placeholders are formatted in
    found = driver.execute(f"SELECT step_id FROM steps WHERE step_id IN ({marks})", wanted)  # noqa: S608
    stored = {step_id for (step_id,) in found}
    new_rows = [row for row in rows if row[0] not in stored]
    if not new_rows:
        return set()
    driver.executemany(_SQLITE_ADD_STEPS, new_rows)
    job_rows = [_new_job(row[0], JobKind.POST, now) for row in new_rows]
    job_rows += [
        _new_job(row[0], JobKind.EXPIRE, float(row[5])) for row in new_rows if row[5] is not None
    ]
    driver.executemany(_SQLITE_ADD_JOBS, job_rows)
    return {row[0] for row in new_rows}


def _add_new_steps_postgres(conn: Connection, rows: list[tuple[Any, ...]], now: float) -> set[str]:
    """As `_add_new_steps_sqlite`, in one statement."""
    step_ids, conversation_ids, states, step_jsons, _, expires = zip(*rows, strict=True)
    found = conn.execute(
        _POSTGRES_ADD_STEPS,
        {
            "step_ids": list(step_ids),
            "conversation_ids": list(conversation_ids),
            "step_jsons": list(step_jsons),
            "expires": list(expires),
            "state": states[0],
            "now": now,
            "post": JobKind.POST,
            "expire": JobKind.EXPIRE,
        },
    )
    return set(found.scalars())


class SqlStore:
    """One interface over SQLite (embedded default) and PostgreSQL (several instances).

    Each method's transaction is a plain synchronous function of a `Connection`, run
    whole by the `Database` (see bot/store/database.py for why).
    """

    def __init__(self, database: Database, *, urgent: bool = True) -> None:
        self._db = database
        self._dialect = database.dialect
        self._urgent = urgent

    @property
    def write_concurrency(self) -> int:
        """How many write transactions are worth running at once on this backend."""
        return self._db.write_concurrency

    def background(self) -> SqlStore:
        """This store for the worker: on SQLite its transactions queue behind those of
        requests waiting for an answer (webhooks, clicks, submissions, /hitl)."""
        return SqlStore(self._db, urgent=False)

    @classmethod
    def connect(cls, database_url: str) -> SqlStore:
        """A store whose connections open lazily; call `migrate()` before use."""
        return cls(open_database(database_url))

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
        await self._db.close()

    async def migrate(self) -> None:
        def work(conn: Connection) -> None:
            if self._dialect == "postgresql":
                # Instances starting together must not race each other's CREATE TABLE.
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})")
            _upgrade_to_head(conn)

        await self._write(work)

    async def run_in_transaction(self, work: Callable[[Connection], T]) -> T:
        """Runs `work` in one write transaction: for tools (the benchmark's bulk loads)."""
        return await self._write(work)

    async def _write(self, work: Callable[[Connection], T], *, urgent: bool = False) -> T:
        return await self._db.write(work, urgent=urgent or self._urgent)

    async def _read(self, work: Callable[[Connection], T]) -> T:
        return await self._db.read(work, urgent=self._urgent)

    # Steps ---------------------------------------------------------------------------

    async def add_steps(self, new_steps: Sequence[Step], now: float) -> list[bool]:
        """Stores steps not seen before, each with its post (and expiry) job.

        Returns, per step, whether it was new: a retried delivery changes nothing.
        One transaction whatever the number of steps (the webhook intake commits
        concurrent deliveries together), with a fixed few statements sent as batches.
        """
        if not new_steps:
            return []
        unique = {step.step_id: step for step in new_steps}
        received = StepState.RECEIVED.value
        rows = [  # in _NEW_STEP_COLUMNS order
            (
                step.step_id,
                step.conversation_id,
                received,
                step.model_dump_json(),
                now,
                step.expires_at,
            )
            for step in unique.values()
        ]

        def work(conn: Connection) -> set[str]:
            if self._dialect == "postgresql":
                return _add_new_steps_postgres(conn, rows, now)
            return _add_new_steps_sqlite(conn, rows, now)

        inserted = await self._write(work)
        seen: set[str] = set()
        result = []
        for step in new_steps:
            result.append(step.step_id in inserted and step.step_id not in seen)
            seen.add(step.step_id)
        return result

    async def get(self, step_id: str) -> StepRecord | None:
        row = await self._read(lambda conn: _step_row(conn, step_id))
        return _record(row) if row else None

    async def claim_answer(self, step_id: str, answer: Answer, now: float) -> ClaimResult:
        """Compare-and-set: the first answer for an open step wins; later ones see it."""
        answer_json = answer.model_dump_json()

        def work(conn: Connection) -> tuple[bool, Any]:
            changed = conn.execute(
                update(steps)
                .where(steps.c.step_id == step_id, steps.c.state.in_(OPEN_STATES))
                .values(
                    state=StepState.SUBMITTED.value,
                    answer_json=answer_json,
                    answered_by=answer.user_id,
                )
            )
            won = changed.rowcount == 1
            if won:
                conn.execute(_ADD_JOBS, [_job_row(step_id, JobKind.DELIVER, now)])
                _enqueue_refresh(conn, step_id, now)
            return won, _step_row(conn, step_id)

        won, row = await self._write(work)
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

        def work(conn: Connection) -> Any:
            row = conn.execute(
                select(steps.c.state).where(steps.c.step_id == step_id).with_for_update()
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
                    conn.execute(_ADD_JOBS, [_job_row(step_id, JobKind.REMIND, remind_at)])
            else:
                # The step moved on while it was being posted: show where it is now.
                _enqueue_refresh(conn, step_id, 0.0)
            conn.execute(update(steps).where(steps.c.step_id == step_id).values(values))
            return _step_row(conn, step_id)

        fresh = await self._write(work)
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

        def work(conn: Connection) -> bool:
            changed = conn.execute(
                update(steps)
                .where(
                    steps.c.step_id == step_id,
                    steps.c.state.in_([s.value for s in from_states]),
                )
                .values(state=state.value, outcome_detail=detail, settled_at=now)
            )
            if changed.rowcount != 1:
                return False
            _enqueue_refresh(conn, step_id, now)
            if then:
                conn.execute(_ADD_JOBS, [_job_row(step_id, kind, now) for kind in then])
            conn.execute(
                jobs.delete().where(
                    jobs.c.step_id == step_id,
                    jobs.c.kind == JobKind.REMIND,
                    jobs.c.locked_by.is_(None),
                )
            )
            return True

        return await self._write(work)

    async def reminder_sent(self, step_id: str, next_at: float | None) -> None:
        """Counts a posted reminder; schedules the next at `next_at` if the step is open."""

        def work(conn: Connection) -> None:
            changed = conn.execute(
                update(steps)
                .where(steps.c.step_id == step_id)
                .values(reminders_sent=steps.c.reminders_sent + 1)
                .returning(steps.c.state)
            )
            state = changed.scalar_one_or_none()
            if next_at is not None and state in OPEN_STATES:
                conn.execute(_ADD_JOBS, [_job_row(step_id, JobKind.REMIND, next_at)])

        await self._write(work)

    async def settled_since(self, since: float) -> list[StepRecord]:
        """Steps answered or expired at or after `since` (for `/hitl stats`)."""
        settled = (StepState.ANSWERED.value, StepState.EXPIRED.value)
        query = select(steps).where(steps.c.state.in_(settled), steps.c.settled_at >= since)
        rows = await self._read(lambda conn: conn.execute(query).all())
        return [_record(row) for row in rows]

    async def answered_by(self, user_id: str, limit: int) -> list[StepRecord]:
        """The steps `user_id`'s answer won, newest first."""
        query = (
            select(steps)
            .where(steps.c.answered_by == user_id)
            .order_by(steps.c.received_at.desc())
            .limit(limit)
        )
        rows = await self._read(lambda conn: conn.execute(query).all())
        return [_record(row) for row in rows]

    async def pending(self, limit: int) -> tuple[list[StepRecord], int]:
        """The newest open steps (at most `limit`) and how many are open in all."""
        count = select(func.count()).select_from(steps).where(steps.c.state.in_(OPEN_STATES))
        newest = (
            select(steps)
            .where(steps.c.state.in_(OPEN_STATES))
            .order_by(steps.c.received_at.desc())
            .limit(limit)
        )

        def work(conn: Connection) -> tuple[Any, Sequence[Any]]:
            return conn.execute(count).scalar_one(), conn.execute(newest).all()

        total, rows = await self._read(work)
        return [_record(row) for row in rows], int(total)

    async def open_step_ids(self) -> list[str]:
        """Every open step's id, newest first (for lists filtered step by step)."""
        query = (
            select(steps.c.step_id)
            .where(steps.c.state.in_(OPEN_STATES))
            .order_by(steps.c.received_at.desc())
        )
        return await self._read(lambda conn: list(conn.execute(query).scalars()))

    async def get_many(self, step_ids: Sequence[str]) -> dict[str, StepRecord]:
        """The stored steps among `step_ids`, by id (in batches the drivers accept)."""
        batches = [
            list(step_ids[start : start + _IN_BATCH])
            for start in range(0, len(step_ids), _IN_BATCH)
        ]

        def work(conn: Connection) -> list[Any]:
            rows: list[Any] = []
            for batch in batches:
                rows += conn.execute(select(steps).where(steps.c.step_id.in_(batch))).all()
            return rows

        return {row.step_id: _record(row) for row in await self._read(work)}

    async def state_counts(self) -> dict[StepState, int]:
        """How many steps are in each state (states with none are left out)."""
        query = select(steps.c.state, func.count()).group_by(steps.c.state)
        rows = await self._read(lambda conn: conn.execute(query).all())
        return {StepState(state): int(count) for state, count in rows}

    async def oldest_open_received_at(self) -> float | None:
        """When the longest-waiting open step arrived; None when no step is open."""
        query = select(func.min(steps.c.received_at)).where(steps.c.state.in_(OPEN_STATES))
        oldest = await self._read(lambda conn: conn.execute(query).scalar_one_or_none())
        return float(oldest) if oldest is not None else None

    # Jobs ----------------------------------------------------------------------------

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
                )
            ).all()
            step_rows = {
                row.step_id: row
                for row in conn.execute(select(steps).where(steps.c.step_id.in_(list(chosen))))
            }
            return claimed, step_rows

        claimed, step_rows = await self._write(work)
        records = {step_id: _record(row) for step_id, row in step_rows.items()}
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


def _step_row(conn: Connection, step_id: str) -> Any:
    return conn.execute(select(steps).where(steps.c.step_id == step_id)).first()


def _enqueue_refresh(conn: Connection, step_id: str, now: float) -> None:
    # A refresh not yet taken will render the latest state anyway: one is enough.
    # Callers hold the step's row (they have just changed or locked it), so two
    # transactions cannot both find none waiting and both add one.
    waiting = conn.execute(
        select(jobs.c.id, jobs.c.run_at).where(
            jobs.c.step_id == step_id,
            jobs.c.kind == JobKind.REFRESH,
            jobs.c.locked_by.is_(None),
        )
    ).first()
    if waiting is None:
        conn.execute(_ADD_JOBS, [_job_row(step_id, JobKind.REFRESH, now)])
    elif waiting.run_at > now:
        # One backing off after a failed update: the news should not wait for it.
        conn.execute(update(jobs).where(jobs.c.id == waiting.id).values(run_at=now))


def _new_job(step_id: str, kind: str, run_at: float) -> tuple[Any, ...]:
    """A job not yet attempted, in _NEW_JOB_COLUMNS order."""
    return (step_id, kind, run_at, 0, run_at)


def _job_row(step_id: str, kind: str, run_at: float) -> dict[str, Any]:
    return dict(zip(_NEW_JOB_COLUMNS, _new_job(step_id, kind, run_at), strict=True))


def _upgrade_to_head(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
