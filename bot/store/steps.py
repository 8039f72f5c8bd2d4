"""Step rows: storing what Intercom sent, its one answer, where its message is, how it
settled; and the reads the lists need. Every transition writes the jobs it is handed
(bot/lifecycle.py) in its own transaction, through bot/store/outbox.py.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, bindparam, or_, select, update

from bot import lifecycle
from bot.domain import Answer, Precedent, Step, StepRecord, StepState
from bot.intercom.webhook import Received, step_of_delivery
from bot.lifecycle import NOTHING, Effects
from bot.store import outbox
from bot.store.base import StoreBase
from bot.store.database import PostgresDatabase, SqliteDatabase
from bot.store.schema import jobs, steps

OPEN_STATES = (StepState.RECEIVED.value, StepState.POSTED.value)
# Ids per `IN (…)`: well inside SQLite's 32,766 bound parameters.
_IN_BATCH = 500

# The jobs a batch of new steps starts with, per step.
FollowUps = Callable[[Step, float], Effects]


@dataclass(frozen=True)
class ClaimResult:
    """Whether this answer (or "I'm on it") won the step, and the step as it now stands;
    `previous`: whose claim a take-over replaced."""

    won: bool
    record: StepRecord | None
    previous: str | None = None


def step_of_row(row: Any) -> Step:
    """A delivered step is read from the body Intercom signed, with the verdict its checks
    gave at receipt; a step the bot made itself (or one stored before) from its JSON."""
    if row.delivery is not None:
        return _delivered_step(bytes(row.delivery), row.unanswerable)
    return Step.model_validate_json(row.step_json)


# A delivered step never changes (and a Step is immutable all the way down), yet every
# read of it parsed its 2.6 kB body again: a click, then each of its jobs' claims. Keyed
# by the body itself, so the same bytes and verdict are the same Step. A parse took
# 67 µs on the 2-core machine, a hit 2 µs; 256 steps hold about 4 MB.
@functools.lru_cache(maxsize=256)
def _delivered_step(delivery: bytes, unanswerable: str | None) -> Step:
    return step_of_delivery(delivery, unanswerable)


def record_of(row: Any) -> StepRecord:
    return StepRecord(
        step=step_of_row(row),
        state=StepState(row.state),
        received_at=row.received_at,
        channel_id=row.channel_id,
        message_ts=row.message_ts,
        permalink=row.permalink,
        answer=Answer.model_validate_json(row.answer_json) if row.answer_json else None,
        outcome_detail=row.outcome_detail,
        settled_at=row.settled_at,
        reminders_sent=row.reminders_sent,
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
        claim_until=row.claim_until,
        send_at=row.send_at,
        precedent=json.loads(row.precedent_json) if row.precedent_json else (),
    )


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
    "delivery",
    "unanswerable",
    "received_at",
    "expires_at",
    "procedure_name",
    "post_at",
)


def _sqlite_insert(table: Table, columns: Sequence[str]) -> str:
    """INSERT of `columns` in the order given (a compiled insert would list them in the
    table's order); a name the table lacks fails at import."""
    names = [table.c[name].name for name in columns]
    marks = ", ".join("?" * len(names))
    return f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})"  # noqa: S608


_SQLITE_ADD_STEPS = _sqlite_insert(steps, _NEW_STEP_COLUMNS)
_SQLITE_ADD_JOBS = _sqlite_insert(jobs, outbox.NEW_JOB_COLUMNS)

# PostgreSQL: one statement, sent alone straight through asyncpg (a transaction of its
# own: see PostgresDatabase.statement), so a batch costs one round trip.
# (A received step needs no job rows, but a caller may hand it some: tests, for one.)
# Steps another instance stored first are skipped (ON CONFLICT); the jobs of the rest are
# inserted by a second data-modifying CTE, which PostgreSQL runs to completion though
# nothing reads it. The batch travels as arrays, so the text never changes and asyncpg
# prepares it once. Its column names are checked by the store tests on PostgreSQL.
_POSTGRES_ADD_STEPS = """
    INSERT INTO steps
        (step_id, conversation_id, state, step_json, delivery, unanswerable, received_at,
         expires_at, procedure_name, post_at)
    SELECT s.step_id, s.conversation_id, $1, s.step_json, s.delivery, s.unanswerable,
        $2, s.expires_at, s.procedure, $2
    FROM unnest($3::text[], $4::text[], $5::text[], $6::bytea[], $7::text[], $8::bigint[],
                $9::text[])
        AS s(step_id, conversation_id, step_json, delivery, unanswerable, expires_at, procedure)
    ON CONFLICT (step_id) DO NOTHING
    RETURNING step_id
"""
# With jobs (an empty second CTE cost the webhook's batch 5-7 % of its rate, measured).
_POSTGRES_ADD_STEPS_AND_JOBS = f"""
    WITH new AS ({_POSTGRES_ADD_STEPS}), new_jobs AS (
        INSERT INTO jobs (step_id, kind, run_at, attempts, created_at, detail)
        SELECT j.step_id, j.kind, j.run_at, 0, j.run_at, j.detail
        FROM unnest($10::text[], $11::text[], $12::double precision[], $13::text[])
            AS j(step_id, kind, run_at, detail)
        JOIN new ON new.step_id = j.step_id
    )
    SELECT step_id FROM new
"""  # noqa: S608 - only the constant above is formatted in


def _add_new_steps_sqlite(
    driver: sqlite3.Connection, rows: list[tuple[Any, ...]], job_rows: list[tuple[Any, ...]]
) -> set[str]:
    """Inserts the rows (in _NEW_STEP_COLUMNS order) whose step is not stored yet, with
    their jobs (in outbox.NEW_JOB_COLUMNS order); returns their step ids."""
    wanted = [row[0] for row in rows]
    marks = ",".join("?" * len(wanted))  # only placeholders are formatted in
    found = driver.execute(f"SELECT step_id FROM steps WHERE step_id IN ({marks})", wanted)  # noqa: S608
    stored = {step_id for (step_id,) in found}
    new_rows = [row for row in rows if row[0] not in stored]
    if not new_rows:
        return set()
    driver.executemany(_SQLITE_ADD_STEPS, new_rows)
    if job_rows:
        driver.executemany(_SQLITE_ADD_JOBS, [job for job in job_rows if job[0] not in stored])
    return {row[0] for row in new_rows}


async def _add_new_steps_postgres(
    db: PostgresDatabase, rows: list[tuple[Any, ...]], job_rows: list[tuple[Any, ...]], now: float
) -> set[str]:
    """As `_add_new_steps_sqlite`, in one statement of its own (a transaction alone)."""
    # In the order of the statement's arrays ($3 to $9, then $10 to $13).
    step_columns = [
        "step_id",
        "conversation_id",
        "step_json",
        "delivery",
        "unanswerable",
        "expires_at",
        "procedure_name",
    ]
    job_columns = ["step_id", "kind", "run_at", "detail"]
    arrays = _arrays(rows, _NEW_STEP_COLUMNS, step_columns)
    if job_rows:
        arrays += _arrays(job_rows, outbox.NEW_JOB_COLUMNS, job_columns)
    sql = _POSTGRES_ADD_STEPS_AND_JOBS if job_rows else _POSTGRES_ADD_STEPS
    found = await db.statement(sql, StepState.RECEIVED.value, now, *arrays)
    return {record["step_id"] for record in found}


def _arrays(
    rows: list[tuple[Any, ...]], order: Sequence[str], wanted: Sequence[str]
) -> list[list[Any]]:
    """The `wanted` columns of `rows` (tuples in `order`), each as one list."""
    return [[row[order.index(name)] for row in rows] for name in wanted]


# Built once (as the claim's statements in bot/store/jobs.py): building a statement for
# each call cost more of the event loop's time than running it.
_STEP_ROW = select(steps).where(steps.c.step_id == bindparam("step_id"))
# A step's state, its row locked (on PostgreSQL) until the transaction ends; and a step's
# row updated, the columns set being those its values name.
_STATE_FOR_UPDATE = (
    select(steps.c.state).where(steps.c.step_id == bindparam("for_step")).with_for_update()
)
_UPDATE_STEP = update(steps).where(steps.c.step_id == bindparam("for_step"))
# The answer's compare-and-set; its new values come with each call. (Bound names cannot
# be a column's: those name the values set.)
_CLAIM_ANSWER = (
    update(steps)
    .where(
        steps.c.step_id == bindparam("for_step"),
        steps.c.state.in_(OPEN_STATES),
        # Nobody else's claim holds: unclaimed, claimed by this user, or the claim ran out.
        or_(
            steps.c.claimed_by.is_(None),
            steps.c.claimed_by == bindparam("for_user"),
            steps.c.claim_until <= bindparam("at"),
        ),
    )
    .returning(*steps.c)
)


def step_row(conn: Connection, step_id: str) -> Any:
    return conn.execute(_STEP_ROW, {"step_id": step_id}).first()


def locked_state(conn: Connection, step_id: str) -> Any:
    """The step's `state` column (None if it is gone), its row locked on PostgreSQL until
    the transaction ends, so no other transaction moves the step meanwhile."""
    return conn.execute(_STATE_FOR_UPDATE, {"for_step": step_id}).first()


class StepRows(StoreBase):
    async def add_deliveries(self, received: Sequence[Received], now: float) -> list[bool]:
        """Stores the delivered steps not seen before, each as Intercom signed it; returns,
        per step, whether it was new (a retried delivery changes nothing).

        The webhook's hot path: one transaction for the intake's whole batch, one row per
        step and no job rows (the row is due to be posted; its expiry is swept).
        """
        received_state = StepState.RECEIVED.value
        rows = [  # in _NEW_STEP_COLUMNS order
            (
                r.step_id,
                r.conversation_id,
                received_state,
                None,
                r.delivery,
                r.unanswerable,
                now,
                r.expires_at,
                r.procedure_name,
                now,  # due to be posted: the step row is its own outbox
            )
            for r in received
        ]
        return await self._add_rows(rows, [], now)

    async def add_steps(
        self,
        new_steps: Sequence[Step],
        now: float,
        follow_ups: FollowUps = lifecycle.received,
    ) -> list[bool]:
        """Stores steps the bot holds as `Step`s (a test step, say) not seen before, each
        with the jobs `follow_ups` gives it; returns, per step, whether it was new."""
        received_state = StepState.RECEIVED.value
        rows = [  # in _NEW_STEP_COLUMNS order
            (
                step.step_id,
                step.conversation_id,
                received_state,
                step.model_dump_json(),
                None,
                None,  # the verdict is in the Step
                now,
                step.expires_at,
                None if step.test else step.procedure_name,  # tests never count as precedent
                now,
            )
            for step in new_steps
        ]
        job_rows = [
            outbox.job_row(step.step_id, follow_up)
            for step in {step.step_id: step for step in new_steps}.values()
            for follow_up in follow_ups(step, now).jobs
        ]
        return await self._add_rows(rows, job_rows, now)

    async def _add_rows(
        self, rows: list[tuple[Any, ...]], job_rows: list[tuple[Any, ...]], now: float
    ) -> list[bool]:
        """One transaction whatever the number of rows, with a fixed few statements sent
        as batches; a step id twice in `rows` is stored (and new) once."""
        if not rows:
            return []
        unique = list({row[0]: row for row in rows}.values())

        if isinstance(self._db, SqliteDatabase):
            inserted = await self._db.write_driver(
                lambda driver: _add_new_steps_sqlite(driver, unique, job_rows), urgent=self._urgent
            )
        else:
            assert isinstance(self._db, PostgresDatabase)
            inserted = await _add_new_steps_postgres(self._db, unique, job_rows, now)
        seen: set[str] = set()
        result = []
        for row in rows:
            result.append(row[0] in inserted and row[0] not in seen)
            seen.add(row[0])
        return result

    async def get(self, step_id: str) -> StepRecord | None:
        row = await self._read(lambda conn: step_row(conn, step_id))
        return record_of(row) if row else None

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

        return {row.step_id: record_of(row) for row in await self._read(work)}

    async def claim_answer(
        self,
        step_id: str,
        answer: Answer,
        now: float,
        effects: Effects | None = None,
        *,
        send_at: float | None = None,
    ) -> ClaimResult:
        """Compare-and-set: the first answer for an open step wins (and its `effects`,
        by default delivering it at `send_at`, are written); later ones see the winner.
        While someone else is on the step (their claim holds), nobody else's answer wins.
        """
        answer_json = answer.model_dump_json()
        then = effects if effects is not None else lifecycle.answer_claimed(now, send_at)

        def work(conn: Connection) -> tuple[bool, Any]:
            changed = conn.execute(
                _CLAIM_ANSWER,
                {
                    "for_step": step_id,
                    "for_user": answer.user_id,
                    "at": now,
                    "state": StepState.SUBMITTED.value,
                    "answer_json": answer_json,
                    "answered_by": answer.user_id,
                    "send_at": now if send_at is None else send_at,
                    "claimed_by": None,
                    "claimed_at": None,
                    "claim_until": None,
                },
            )
            # The winner's row comes back with the update (on PostgreSQL a round trip
            # fewer on the teammate's path); only a lost claim reads the row.
            row = changed.first()
            if row is None:
                return False, step_row(conn, step_id)
            outbox.write(conn, step_id, then)
            return True, row

        won, row = await self._write(work)
        return ClaimResult(won=won, record=record_of(row) if row else None)

    async def mark_posted(
        self,
        step_id: str,
        channel_id: str,
        message_ts: str,
        permalink: str | None,
        *,
        effects: Effects = NOTHING,
        precedent: Sequence[Precedent] = (),
    ) -> bool:
        """Remembers where the request message is; a step still `received` becomes
        `posted` and its `effects` are written (once: only that move writes them), and
        True is returned. A step that moved on meanwhile gets its message refreshed
        instead (False; also for a step that is gone)."""

        def work(conn: Connection) -> bool:
            row = locked_state(conn, step_id)
            if row is None:
                return False
            values: dict[str, Any] = {
                "for_step": step_id,
                "channel_id": channel_id,
                "message_ts": message_ts,
                "permalink": permalink,
                "precedent_json": (
                    json.dumps([p.model_dump() for p in precedent]) if precedent else None
                ),
            }
            posted: bool = row.state == StepState.RECEIVED.value
            if posted:
                values["state"] = StepState.POSTED.value
                outbox.write(conn, step_id, effects)
            else:
                outbox.write(conn, step_id, lifecycle.moved_on_while_posting())
            conn.execute(_UPDATE_STEP, values)
            # Not read back: the post job has nothing more to do with the step.
            return posted

        return await self._write(work)

    async def settle(
        self,
        step_id: str,
        state: StepState,
        detail: str | None,
        now: float,
        *,
        from_states: Sequence[StepState],
        effects: Effects = NOTHING,
    ) -> bool:
        """Moves a step to a settled state if it is still in one of `from_states`, writing
        `effects` in the same transaction (so they exist exactly once per settling)."""

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
            outbox.write(conn, step_id, effects)
            return True

        return await self._write(work)

    async def reminder_sent(
        self, step_id: str, effects: Effects = NOTHING, *, stage: int | None = None
    ) -> None:
        """Counts a posted reminder (or sets the escalation `stage` reached); writes
        `effects` (the next reminder) if the step is still open."""
        sent = steps.c.reminders_sent + 1 if stage is None else stage

        def work(conn: Connection) -> None:
            changed = conn.execute(
                update(steps)
                .where(steps.c.step_id == step_id)
                .values(reminders_sent=sent)
                .returning(steps.c.state)
            )
            if changed.scalar_one_or_none() in OPEN_STATES:
                outbox.write(conn, step_id, effects)

        await self._write(work)
