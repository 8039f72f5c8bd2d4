"""Precedent on the card: the post job reads how the latest answers to the same procedure
went (one query) and the message shows it; tests and other procedures never count."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

from bot.domain import Answer, AnswerValue, Attribute, JobKind, Option, Step, StepState
from bot.jobs.post import post_step
from bot.precedent import LOOKBACK
from tests.store.factories import settle

from .conftest import CHANNEL, Kit

PROCEDURE = "Refund over $40"
ATTRIBUTES = (
    Attribute(identifier="approve", data_type="boolean", label="Approve"),
    Attribute(
        identifier="reason",
        data_type="list",
        label="Reason",
        options=(
            Option(id="damaged", label="Damaged"),
            Option(id="late", label="Late"),
            Option(id="wrong", label="Wrong item"),
            Option(id="other", label="Other"),
        ),
    ),
    Attribute(identifier="amount", data_type="decimal", label="Amount"),
    Attribute(identifier="note", data_type="string", label="Note"),
)


def _step(kit: Kit, procedure: str = PROCEDURE, **fields: Any) -> Step:
    return kit.step().model_copy(
        update={"procedure_name": procedure, "attributes": ATTRIBUTES, **fields}
    )


async def _answered(
    kit: Kit, approve: bool, reason: str, amount: float, procedure: str = PROCEDURE, **fields: Any
) -> None:
    """A step of `procedure` answered and settled, as Intercom accepting it would leave it."""
    step = _step(kit, procedure, **fields)
    now = time.time()
    await kit.store.add_steps([step], now)
    values = (
        AnswerValue(identifier="approve", value=approve, display=str(approve)),
        AnswerValue(identifier="reason", value=reason, display=reason),
        AnswerValue(identifier="amount", value=amount, display=str(amount)),
        AnswerValue(identifier="note", value="n", display="n"),
    )
    answer = Answer(user_id="U0ALICE", values=values, submitted_at=now)
    assert (await kit.store.claim_answer(step.step_id, answer, now)).won
    assert await settle(
        kit.store, step, StepState.ANSWERED, now, from_states=(StepState.SUBMITTED,)
    )


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every SQL statement SQLAlchemy sends while the block runs."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


async def _post(kit: Kit, step: Step) -> tuple[dict[str, Any], list[str]]:
    """Posts `step`; the message's precedent text ('' without one) and the SQL it took."""
    await kit.store.add_steps([step], time.time())
    job = await kit.job(step.step_id, JobKind.POST)
    with statements() as seen:
        await post_step(kit.services, job)
    await kit.store.finish_job(job, "test")
    (message,) = [m for m in kit.slack.posted(CHANNEL) if step.step_id in str(m)]
    return message, seen


def _precedent_text(message: dict[str, Any]) -> str:
    blocks = [b for b in message["blocks"] if b["block_id"].startswith("hitl.precedent.")]
    return str(blocks[0]["text"]["text"]) if blocks else ""


async def test_a_new_step_shows_yes_counts_top_options_and_the_median(kit: Kit) -> None:
    history = [
        (True, "damaged", 40.0),
        (True, "damaged", 45.0),
        (False, "late", 50.0),
        (True, "damaged", 60.0),
        (True, "late", 100.0),
    ]
    for approve, reason, amount in history:
        await _answered(kit, approve, reason, amount)

    message, _ = await _post(kit, _step(kit))

    assert _precedent_text(message).splitlines() == [
        "📊 *Earlier answers to this procedure*",
        "• *Approve*: Yes in 4 of the last 5",
        "• *Reason*: Damaged (3), Late (2) (last 5)",
        "• *Amount*: median 50 (last 5)",
    ]
    record = await kit.store.get(message["metadata"]["event_payload"]["step_id"])
    assert record is not None
    assert record.precedent[0].yes == 4


async def test_precedent_reads_one_query_and_only_the_last_twenty(kit: Kit) -> None:
    for index in range(LOOKBACK + 5):
        await _answered(kit, index < 5, "late", 1.0)  # the 5 oldest were the only yeses

    message, seen = await _post(kit, _step(kit))

    assert "• *Approve*: Yes in 0 of the last 20" in _precedent_text(message)
    assert len([s for s in seen if "procedure_name =" in s]) == 1


async def test_nothing_is_shown_without_history_of_the_procedure(kit: Kit) -> None:
    await _answered(kit, True, "late", 1.0, procedure="Another procedure")

    message, _ = await _post(kit, _step(kit))

    assert _precedent_text(message) == ""


async def test_test_steps_never_count_nor_get_precedent(kit: Kit) -> None:
    await _answered(kit, True, "late", 1.0, test=True)
    await _answered(kit, False, "late", 1.0)

    real, _ = await _post(kit, _step(kit))
    test, _ = await _post(kit, _step(kit, test=True))

    assert "• *Approve*: Yes in 0 of the last 1" in _precedent_text(real)
    assert _precedent_text(test) == ""


async def test_unanswered_and_expired_steps_do_not_count(kit: Kit) -> None:
    open_step = _step(kit)
    await kit.store.add_steps([open_step], time.time())
    expired = _step(kit)
    await kit.store.add_steps([expired], time.time())
    await settle(
        kit.store, expired, StepState.EXPIRED, time.time(), from_states=(StepState.RECEIVED,)
    )

    message, _ = await _post(kit, _step(kit))

    assert _precedent_text(message) == ""
