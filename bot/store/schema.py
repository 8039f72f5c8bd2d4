"""The store's tables: steps, and the durable jobs (the outbox) that act on them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData()


def _only(where: str) -> dict[str, Any]:
    """A partial index's condition, for both backends."""
    return {"sqlite_where": text(where), "postgresql_where": text(where)}


# The partial indexes' conditions, written out the same in the queries that use them:
# SQLite uses a partial index only when the query's WHERE repeats its condition literally.
POST_DUE = "post_at IS NOT NULL"
OPEN_EXPIRING = "state IN ('received', 'posted') AND expires_at IS NOT NULL"

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
_JobId = BigInteger().with_variant(Integer(), "sqlite")

steps = Table(
    "steps",
    metadata,
    Column("step_id", String(255), primary_key=True),
    Column("conversation_id", String(255), nullable=False),
    Column("state", String(32), nullable=False),
    # A step the bot made itself (a test), or one stored before migration 0006: the
    # frozen Step (JSON of bot.domain.Step). None for a delivered step (see `delivery`).
    Column("step_json", Text, nullable=True),
    Column("received_at", Float, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("channel_id", String(64), nullable=True),
    Column("message_ts", String(64), nullable=True),
    Column("permalink", Text, nullable=True),
    # The one answer that won (JSON of bot.domain.Answer); set exactly once.
    Column("answer_json", Text, nullable=True),
    Column("answered_by", String(64), nullable=True),
    Column("outcome_detail", Text, nullable=True),
    Column("settled_at", Float, nullable=True),
    # Thread reminders posted so far (migration 0002).
    Column("reminders_sent", Integer, nullable=False, server_default="0"),
    # Working a step (migration 0004): the procedure's name (for precedent; none for a
    # test step, whose answers never count), who is on it and until when, when a
    # submitted answer leaves, how earlier answers went.
    Column("procedure_name", Text, nullable=True),
    Column("claimed_by", String(64), nullable=True),
    Column("claimed_at", Float, nullable=True),
    Column("claim_until", Float, nullable=True),
    Column("send_at", Float, nullable=True),
    Column("precedent_json", Text, nullable=True),
    # The step is its own outbox for its first job (migration 0005): due to be posted at
    # `post_at` (None once posted, or settled first), leased like a job while a worker
    # posts it, so a webhook writes this one row and no job rows.
    Column("post_at", Float, nullable=True),
    Column("post_locked_by", String(64), nullable=True),
    Column("post_locked_until", Float, nullable=True),
    Column("post_attempts", Integer, nullable=False, server_default="0"),
    Column("post_error", Text, nullable=True),
    # A delivered step (migration 0006): Intercom's webhook body exactly as it was
    # signed, which the Step is read from (bot.intercom.webhook.step_of_delivery), and
    # the checks' verdict on it at receipt: why it cannot be answered, or None.
    Column("delivery", LargeBinary, nullable=True),
    Column("unanswerable", Text, nullable=True),
    # The lists of open steps. (No index by conversation: no query looks a step up by
    # it, and every webhook would write to it; migration 0008 dropped it.)
    Index("ix_steps_state_received", "state", "received_at"),
    # The Home tab's "answered by you" and `/hitl stats` (migration 0002), precedent
    # (0004); partial (0005), so a new step, which has neither, writes no entry in them.
    Index("ix_steps_answered_by", "answered_by", "received_at", **_only("answered_by IS NOT NULL")),
    Index("ix_steps_settled_at", "settled_at", **_only("settled_at IS NOT NULL")),
    Index(
        "ix_steps_procedure_settled",
        "procedure_name",
        "settled_at",
        **_only("settled_at IS NOT NULL"),
    ),
    # Steps waiting to be posted, and open steps by expiry (the worker sweeps both).
    Index("ix_steps_post_at", "post_at", **_only(POST_DUE)),
    Index("ix_steps_open_expiry", "expires_at", **_only(OPEN_EXPIRING)),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", _JobId, primary_key=True, autoincrement=True),
    Column("step_id", String(255), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("run_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("locked_by", String(64), nullable=True),
    Column("locked_until", Float, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    # What a job is about beyond its kind and step (JSON; migration 0004), e.g. who took
    # a step over, for the thread reply that says so.
    Column("detail", Text, nullable=True),
    Index("ix_jobs_run_at", "run_at"),
    Index("ix_jobs_step", "step_id"),
)
