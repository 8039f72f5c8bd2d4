"""`/hitl stats` figures: counts per procedure and nearest-rank times to answer."""

from __future__ import annotations

from bot.domain import Answer, AnswerValue, StepRecord, StepState
from bot.slack.lists import stats_message
from bot.stats import ProcedureStats, percentile, procedure_stats

from .slack.helpers import assert_message_within_limits, make_attribute, make_step


def _record(procedure: str | None, state: StepState, waited: float | None = None) -> StepRecord:
    answer = None
    if waited is not None:
        value = AnswerValue(identifier="workflow_local_variables.attr-0", value="x", display="x")
        answer = Answer(user_id="U0ALICE", values=(value,), submitted_at=1_000.0 + waited)
    return StepRecord(
        step=make_step(make_attribute(0), procedure_name=procedure),
        state=state,
        received_at=1_000.0,
        answer=answer,
    )


def test_counts_answered_and_expired_per_procedure_busiest_first() -> None:
    records = [
        _record("Refunds", StepState.ANSWERED, 60),
        _record("Refunds", StepState.EXPIRED),
        _record("Refunds", StepState.ANSWERED, 120),
        _record("Shipping", StepState.EXPIRED),
    ]

    rows = procedure_stats(records)

    assert [(r.procedure, r.answered, r.expired) for r in rows] == [
        ("Refunds", 2, 1),
        ("Shipping", 0, 1),
    ]
    assert rows[1].median_seconds is None


def test_median_and_p90_of_time_to_answer() -> None:
    records = [_record("Refunds", StepState.ANSWERED, float(s)) for s in range(1, 11)]

    (row,) = procedure_stats(records)

    assert row.median_seconds == 5.5
    assert row.p90_seconds == 9.0


def test_nearest_rank_percentile_of_one_value_is_that_value() -> None:
    assert percentile([42.0], 0.9) == 42.0


def test_stats_message_stays_within_block_kit_limits_with_many_procedures() -> None:
    rows = [ProcedureStats(f"P{i} " + "x" * 300, 1, 0, 60.0, 60.0) for i in range(80)]

    message = stats_message(rows)

    assert len(message["blocks"]) <= 50
    assert "…and 35 more procedures" in str(message["blocks"][-1])
    assert_message_within_limits(message)


def test_stats_message_says_when_there_is_nothing() -> None:
    assert "No steps" in stats_message([])["text"]
