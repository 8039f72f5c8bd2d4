"""Small domain objects for store tests."""

from __future__ import annotations

import json
import uuid

from bot.domain import Answer, AnswerValue, Attribute, Step, StepState
from bot.intercom.webhook import Received, check_delivery
from bot.lifecycle import Lifecycle
from bot.store import SqlStore
from bot.testing.deliveries import fresh_delivery


def make_step(
    step_id: str | None = None,
    *,
    notification_id: str | None = None,
    expires_at: int | None = None,
) -> Step:
    step_id = step_id or f"step-{uuid.uuid4().hex[:12]}"
    return Step(
        step_id=step_id,
        conversation_id=f"conv-{step_id}",
        callback_url=f"https://api.intercom.io/procedures/conv-{step_id}/collect_agent_input",
        notification_id=notification_id,
        attributes=(Attribute(identifier="approve", data_type="boolean", name="Approve"),),
        expires_at=expires_at,
    )


_ORIGIN = "https://api.intercom.io"


def make_received(step_id: str | None = None, *, sample: str = "refund_approval") -> Received:
    """A delivery of `sample` as the webhook stores it, checked as the webhook checks it."""
    payload = fresh_delivery(sample, callback_origin=_ORIGIN)
    if step_id is not None:
        payload["data"]["item"]["step_id"] = step_id
    received = check_delivery(json.dumps(payload).encode(), [_ORIGIN])
    assert isinstance(received, Received)
    return received


def make_answer(user_id: str = "U0ALICE", value: bool = True, at: float = 100.0) -> Answer:
    return Answer(
        user_id=user_id,
        values=(AnswerValue(identifier="approve", value=value, display=str(value)),),
        submitted_at=at,
    )


async def settle(
    store: SqlStore,
    step: Step,
    state: StepState,
    now: float,
    *,
    from_states: tuple[StepState, ...],
    lifecycle: Lifecycle = Lifecycle(),  # noqa: B008 - a frozen value
) -> bool:
    """Settles `step` with the jobs the lifecycle says follow, as the jobs do."""
    return await store.settle(
        step.step_id,
        state,
        None,
        now,
        from_states=from_states,
        effects=lifecycle.settled(step, state, now),
    )
