"""The reads behind the lists: `/hitl`, the Home tab, `/hitl stats` and `/metrics`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, select

from bot.domain import StepRecord, StepState
from bot.store.base import StoreBase
from bot.store.schema import steps
from bot.store.steps import OPEN_STATES, record_of


class ListReads(StoreBase):
    async def settled_since(self, since: float) -> list[StepRecord]:
        """Steps answered or expired at or after `since` (for `/hitl stats`)."""
        settled = (StepState.ANSWERED.value, StepState.EXPIRED.value)
        query = select(steps).where(steps.c.state.in_(settled), steps.c.settled_at >= since)
        rows = await self._read(lambda conn: conn.execute(query).all())
        return [record_of(row) for row in rows]

    async def answered_by(self, user_id: str, limit: int) -> list[StepRecord]:
        """The steps `user_id`'s answer won, newest first."""
        query = (
            select(steps)
            .where(steps.c.answered_by == user_id)
            .order_by(steps.c.received_at.desc())
            .limit(limit)
        )
        rows = await self._read(lambda conn: conn.execute(query).all())
        return [record_of(row) for row in rows]

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
        return [record_of(row) for row in rows], int(total)

    async def open_step_ids(self) -> list[str]:
        """Every open step's id, newest first (for lists filtered step by step)."""
        query = (
            select(steps.c.step_id)
            .where(steps.c.state.in_(OPEN_STATES))
            .order_by(steps.c.received_at.desc())
        )
        return await self._read(lambda conn: list(conn.execute(query).scalars()))

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
