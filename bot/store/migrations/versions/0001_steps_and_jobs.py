"""Steps and their durable jobs.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "steps",
        sa.Column("step_id", sa.String(255), primary_key=True),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("step_json", sa.Text, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=True),
        sa.Column("channel_id", sa.String(64), nullable=True),
        sa.Column("message_ts", sa.String(64), nullable=True),
        sa.Column("permalink", sa.Text, nullable=True),
        sa.Column("answer_json", sa.Text, nullable=True),
        sa.Column("answered_by", sa.String(64), nullable=True),
        sa.Column("outcome_detail", sa.Text, nullable=True),
        sa.Column("settled_at", sa.Float, nullable=True),
    )
    op.create_index("ix_steps_state_received", "steps", ["state", "received_at"])
    op.create_index("ix_steps_conversation", "steps", ["conversation_id"])
    op.create_table(
        "jobs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("step_id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("run_at", sa.Float, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_by", sa.String(64), nullable=True),
        sa.Column("locked_until", sa.Float, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_jobs_run_at", "jobs", ["run_at"])
    op.create_index("ix_jobs_step", "jobs", ["step_id"])


def downgrade() -> None:
    op.drop_table("jobs")
    op.drop_table("steps")
