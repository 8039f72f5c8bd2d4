"""The step, its attributes and its answer as the rest of the bot sees them: small and frozen."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class DataType(StrEnum):
    """The attribute types Intercom is known to send; anything else is treated as text."""

    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    LIST = "list"
    DATE = "date"
    DATETIME = "datetime"


KNOWN_DATA_TYPES = frozenset(t.value for t in DataType)


class StepState(StrEnum):
    """A step's life: received → posted → submitted → one of the settled states."""

    RECEIVED = "received"
    POSTED = "posted"
    SUBMITTED = "submitted"
    ANSWERED = "answered"
    EXPIRED = "expired"
    FULFILLED_ELSEWHERE = "fulfilled_elsewhere"
    FAILED = "failed"

    @property
    def is_open(self) -> bool:
        """Still waiting for someone to answer in Slack."""
        return self in (StepState.RECEIVED, StepState.POSTED)

    @property
    def is_settled(self) -> bool:
        return self in SETTLED_STATES


SETTLED_STATES = frozenset(
    {StepState.ANSWERED, StepState.EXPIRED, StepState.FULFILLED_ELSEWHERE, StepState.FAILED}
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Option(_Frozen):
    id: str
    label: str


class Attribute(_Frozen):
    identifier: str
    # Kept as the raw string so an unknown type survives a round trip through the store.
    data_type: str
    name: str
    description: str | None = None
    options: tuple[Option, ...] = ()

    @property
    def known_type(self) -> DataType | None:
        return DataType(self.data_type) if self.data_type in KNOWN_DATA_TYPES else None


class Step(_Frozen):
    """One HITL step as Intercom asked it; never changes after it is received."""

    step_id: str
    conversation_id: str
    callback_url: str
    app_id: str | None = None
    notification_id: str | None = None
    procedure_id: str | None = None
    procedure_name: str | None = None
    instructions: str | None = None
    attributes: tuple[Attribute, ...]
    expires_at: int | None = None
    created_at: int | None = None
    # A sample posted by `/hitl test` or `python -m bot send-test`: its answer goes nowhere.
    test: bool = False

    @property
    def single_boolean(self) -> bool:
        """True when one Yes/No click is a complete answer."""
        return len(self.attributes) == 1 and self.attributes[0].data_type == DataType.BOOLEAN


AnswerScalar = bool | int | float | str


class AnswerValue(_Frozen):
    """One attribute's value: `value` goes to Intercom, `display` is shown to people."""

    identifier: str
    value: AnswerScalar
    display: str


class Answer(_Frozen):
    user_id: str
    values: tuple[AnswerValue, ...]
    submitted_at: float
    # The teammate's optional note for the channel and the audit trail; never sent to Fin.
    comment: str | None = None


class StepRecord(_Frozen):
    """A step with everything the bot has learned about it since."""

    step: Step
    state: StepState
    received_at: float
    channel_id: str | None = None
    message_ts: str | None = None
    permalink: str | None = None
    answer: Answer | None = None
    # Why the step settled as it did, in words for the channel (e.g. the 403 reason).
    outcome_detail: str | None = None
    settled_at: float | None = None
    # Thread reminders posted so far about this (unanswered) step.
    reminders_sent: int = 0
