"""Per-procedure figures for `/hitl stats`: answered, expired, time to answer."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from bot.domain import StepRecord, StepState

STATS_WINDOW_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class ProcedureStats:
    procedure: str | None
    answered: int
    expired: int
    # Seconds from the step's arrival to the answer; None when nothing was answered.
    median_seconds: float | None
    p90_seconds: float | None


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of values sorted ascending (not empty)."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def procedure_stats(records: Iterable[StepRecord]) -> list[ProcedureStats]:
    """One row per procedure, busiest first; only answered and expired steps count."""
    answered: dict[str | None, list[float]] = {}
    expired: dict[str | None, int] = {}
    for record in records:
        name = record.step.procedure_name
        key = name.strip() if name and name.strip() else None
        if record.state is StepState.ANSWERED and record.answer is not None:
            waited = max(0.0, record.answer.submitted_at - record.received_at)
            answered.setdefault(key, []).append(waited)
        elif record.state is StepState.EXPIRED:
            expired[key] = expired.get(key, 0) + 1
    rows = []
    for key in answered.keys() | expired.keys():
        times = sorted(answered.get(key, []))
        rows.append(
            ProcedureStats(
                procedure=key,
                answered=len(times),
                expired=expired.get(key, 0),
                median_seconds=statistics.median(times) if times else None,
                p90_seconds=percentile(times, 0.9) if times else None,
            )
        )
    return sorted(rows, key=lambda r: (-(r.answered + r.expired), r.procedure or ""))
