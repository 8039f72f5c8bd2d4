"""The step, its attributes and its answer as the rest of the bot sees them: small and frozen."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class DataType(StrEnum):
    """The attribute types Intercom documents; anything else is offered and sent as text."""

    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    LIST = "list"
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


class JobKind(StrEnum):
    """The durable jobs that act on a step (bot/jobs/, one module each); which follow which
    transition is bot/lifecycle.py."""

    POST = "post"  # post the request message to Slack
    DELIVER = "deliver"  # send the claimed answer to Intercom
    REFRESH = "refresh"  # bring the Slack message in line with the step's state
    EXPIRE = "expire"  # settle an unanswered step when its expiry passes
    TRAIL = "trail"  # say in the step's thread how it settled (or what just happened)
    REMIND = "remind"  # remind the channel, in the thread, of an unanswered step
    NOTE = "note"  # add an internal note to the Intercom conversation (answer or claim)
    LAPSE = "lapse"  # show on the message that a claim ran out
    ESCALATE = "escalate"  # message the route's escalation people directly


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Option(_Frozen):
    id: str
    label: str


class Attribute(_Frozen):
    identifier: str
    # Kept as the raw string so an unknown type survives a round trip through the store.
    data_type: str
    name: str | None = None
    label: str | None = None
    options: tuple[Option, ...] = ()

    @property
    def known_type(self) -> DataType | None:
        return DataType(self.data_type) if self.data_type in KNOWN_DATA_TYPES else None

    @property
    def display_label(self) -> str:
        """What people see: Intercom's label, else its name, else the identifier."""
        for candidate in (self.label, self.name, self.identifier):
            if candidate and candidate.strip():
                return candidate
        return ""


class AssigneeType(StrEnum):
    ADMIN = "admin"
    TEAM = "team"


class Assignee(_Frozen):
    """Who Intercom assigned the step to (`assign_to`)."""

    type: AssigneeType
    id: str | None = None
    name: str | None = None


class AuthorType(StrEnum):
    """Who wrote a conversation part, as Intercom documents it; `other` for anything new."""

    USER = "user"
    ADMIN = "admin"
    BOT = "bot"
    TEAM = "team"
    OTHER = "other"


class MessageAuthor(_Frozen):
    type: AuthorType
    id: str | None = None
    name: str | None = None
    email: str | None = None


class RecentMessage(_Frozen):
    """One of the conversation's latest parts, for context; `body` is Intercom's HTML."""

    id: str | None = None
    part_type: str | None = None
    created_at: int | None = None
    author: MessageAuthor | None = None
    body: str = ""

    @property
    def from_customer(self) -> bool:
        return self.author is not None and self.author.type is AuthorType.USER


class Priority(StrEnum):
    PRIORITY = "priority"
    NOT_PRIORITY = "not_priority"


class Step(_Frozen):
    """One HITL step as Intercom asked it; never changes after it is received."""

    step_id: str
    conversation_id: str
    callback_url: str
    app_id: str | None = None
    notification_id: str | None = None
    procedure_name: str | None = None
    # What Fin asks the teammate, in Fin's words.
    hitl_question: str | None = None
    attributes: tuple[Attribute, ...]
    expires_at: int | None = None
    priority: Priority | None = None
    assign_to: Assignee | None = None
    # Intercom's own inbox link, kept only when it is https on an Intercom app host.
    conversation_url: str | None = None
    # Oldest first, as Intercom sends them.
    recent_messages: tuple[RecentMessage, ...] = ()
    # Why the step cannot be answered from Slack (its callback is not one the bot will
    # call); None when it can. Such a step is shown as a notice pointing at Intercom.
    unanswerable: str | None = None
    # A sample posted by `/hitl test` or `python -m bot send-test`: its answer goes nowhere.
    test: bool = False

    @property
    def single_boolean(self) -> bool:
        """True when one Yes/No click is a complete answer."""
        return len(self.attributes) == 1 and self.attributes[0].data_type == DataType.BOOLEAN

    @property
    def is_priority(self) -> bool:
        return self.priority is Priority.PRIORITY

    @property
    def answerable(self) -> bool:
        return self.unanswerable is None

    def latest_customer_message(self) -> RecentMessage | None:
        for message in reversed(self.recent_messages):
            if message.from_customer and message.body.strip():
                return message
        return None


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


class Precedent(_Frozen):
    """One attribute's earlier answers for the same procedure, newest `of` of them:
    for a yes/no how many were yes, for a list the most chosen options, for a number
    the median."""

    label: str
    of: int
    yes: int | None = None
    top: tuple[tuple[str, int], ...] = ()
    median: float | None = None


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
    # Reminders (or escalation stages, for a step with an expiry) done so far.
    reminders_sent: int = 0
    # Who said "I'm on it", since when and until when (a claim past `claim_until` ran out).
    claimed_by: str | None = None
    claimed_at: float | None = None
    claim_until: float | None = None
    # When a submitted answer leaves for Intercom (the end of its undo window).
    send_at: float | None = None
    # How earlier answers to the same procedure went, read when the step was posted.
    precedent: tuple[Precedent, ...] = ()

    def claimed_now(self, now: float) -> bool:
        """Whether someone's claim on the step still holds at `now`."""
        return self.claimed_by is not None and (self.claim_until or 0.0) > now

    def claim_lapsed(self, now: float) -> bool:
        """Whether a claim on the step ran out without an answer."""
        return self.claimed_by is not None and not self.claimed_now(now)
