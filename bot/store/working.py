"""Working a step: "I'm on it" claims, taking an answer back in its undo window, and the
earlier answers to a procedure (for the precedent on a new step's message)."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from bot.domain import JobKind, StepRecord, StepState
from bot.lifecycle import Effects
from bot.store import outbox
from bot.store.base import StoreBase
from bot.store.schema import jobs, steps
from bot.store.steps import OPEN_STATES, ClaimResult, locked_state, record_of, step_row

# Built once, its values bound at each call (as the claim's statements in jobs.py): every
# post reads it, and building it anew cost more than running it (0.92 ms of CPU per call
# on PostgreSQL's store alone, most of it SQLAlchemy's).
_ANSWERED_BEFORE = (
    select(steps)
    .where(
        steps.c.procedure_name == bindparam("procedure_name"),
        steps.c.state == StepState.ANSWERED.value,
        steps.c.settled_at.is_not(None),  # what the partial index holds
    )
    .order_by(steps.c.settled_at.desc())
    .limit(bindparam("limit"))
)


class UndoOutcome(StrEnum):
    UNDONE = "undone"  # the delivery was cancelled and the step is open again
    ALREADY_SENT = "already_sent"  # the delivery had started (or ended): nothing undone
    NOT_YOURS = "not_yours"  # only whoever answered may take the answer back
    NOT_WAITING = "not_waiting"  # no answer is waiting to be sent


class WorkingRows(StoreBase):
    async def claim_step(
        self,
        step_id: str,
        user_id: str,
        now: float,
        until: float,
        *,
        take_over: bool,
        effects: Callable[[str | None], Effects],
    ) -> ClaimResult:
        """ "I'm on it": `user_id` holds the open step until `until`, unless someone else's
        claim still holds and this is not a take-over. `effects(previous)` (who held it
        before a take-over, else None) are written when it wins."""

        def work(conn: Connection) -> tuple[bool, str | None, Any]:
            row = conn.execute(
                select(steps.c.state, steps.c.claimed_by, steps.c.claim_until)
                .where(steps.c.step_id == step_id)
                .with_for_update()
            ).first()
            if row is None or row.state not in OPEN_STATES:
                return False, None, step_row(conn, step_id)
            holds = row.claimed_by is not None and (row.claim_until or 0.0) > now
            someone_else = holds and row.claimed_by != user_id
            if someone_else and not take_over:
                return False, None, step_row(conn, step_id)
            previous = row.claimed_by if someone_else else None
            conn.execute(
                update(steps)
                .where(steps.c.step_id == step_id)
                .values(claimed_by=user_id, claimed_at=now, claim_until=until)
            )
            outbox.write(conn, step_id, effects(previous))
            return True, previous, step_row(conn, step_id)

        won, previous, row = await self._write(work)
        return ClaimResult(won=won, record=record_of(row) if row else None, previous=previous)

    async def release_claim(self, step_id: str, user_id: str, effects: Effects) -> bool:
        """Ends `user_id`'s claim on the step; False when it was not theirs (any more)."""

        def work(conn: Connection) -> bool:
            changed = conn.execute(
                update(steps)
                .where(steps.c.step_id == step_id, steps.c.claimed_by == user_id)
                .values(claimed_by=None, claimed_at=None, claim_until=None)
            )
            if changed.rowcount != 1:
                return False
            outbox.write(conn, step_id, effects)
            return True

        return await self._write(work)

    async def undo_answer(self, step_id: str, user_id: str, effects: Effects) -> UndoOutcome:
        """Takes back `user_id`'s answer while it waits out its undo window: its delivery
        is cancelled and the step open again, in one transaction. A delivery already
        leased to a worker (or tried once) is not cancelled: Undo then says it was sent,
        so an Undo racing the delivery either cancels it or is told, never both."""

        def work(conn: Connection) -> UndoOutcome:
            row = conn.execute(
                select(steps.c.state, steps.c.answered_by, steps.c.message_ts)
                .where(steps.c.step_id == step_id)
                .with_for_update()
            ).first()
            if row is None or row.state != StepState.SUBMITTED.value:
                if row is not None and row.state == StepState.ANSWERED.value:
                    return UndoOutcome.ALREADY_SENT
                return UndoOutcome.NOT_WAITING
            if row.answered_by != user_id:
                return UndoOutcome.NOT_YOURS
            cancelled = conn.execute(
                jobs.delete().where(
                    jobs.c.step_id == step_id,
                    jobs.c.kind == JobKind.DELIVER.value,
                    jobs.c.locked_by.is_(None),
                    jobs.c.attempts == 0,
                )
            )
            if cancelled.rowcount == 0:
                return UndoOutcome.ALREADY_SENT
            reopened = StepState.POSTED if row.message_ts else StepState.RECEIVED
            conn.execute(
                update(steps)
                .where(steps.c.step_id == step_id)
                .values(state=reopened.value, answer_json=None, answered_by=None, send_at=None)
            )
            outbox.write(conn, step_id, effects)
            return UndoOutcome.UNDONE

        return await self._write(work)

    async def write_if_open(self, step_id: str, effects: Effects) -> None:
        """Writes `effects` (a reminder put off, say) if the step is still open."""

        def work(conn: Connection) -> None:
            row = locked_state(conn, step_id)
            if row is not None and row.state in OPEN_STATES:
                outbox.write(conn, step_id, effects)

        await self._write(work)

    async def answered_before(self, procedure_name: str, limit: int) -> list[StepRecord]:
        """The latest answered steps of this procedure, newest first (one indexed query:
        for how earlier answers went). Test steps have no procedure_name column, so never
        count."""
        wanted = {"procedure_name": procedure_name, "limit": limit}
        rows = await self._read(lambda conn: conn.execute(_ANSWERED_BEFORE, wanted).all())
        return [record_of(row) for row in rows]
