"""Working a step: claims, the undo window, precedent, and jobs that carry a detail.

Steps get who is on them and until when (`claimed_by`, `claimed_at`, `claim_until`),
when a submitted answer leaves (`send_at`), how earlier answers to the procedure went
(`precedent_json`), and the procedure's name as a column (`procedure_name`, filled from
the stored JSON; left empty for test steps, which never count) so precedent is one
indexed query. Jobs get a `detail` (JSON) saying
what a thread reply or a note is about.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_BATCH = 500


def upgrade() -> None:
    with op.batch_alter_table("steps") as batch:
        batch.add_column(sa.Column("procedure_name", sa.Text, nullable=True))
        batch.add_column(sa.Column("claimed_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("claimed_at", sa.Float, nullable=True))
        batch.add_column(sa.Column("claim_until", sa.Float, nullable=True))
        batch.add_column(sa.Column("send_at", sa.Float, nullable=True))
        batch.add_column(sa.Column("precedent_json", sa.Text, nullable=True))
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("detail", sa.Text, nullable=True))
    op.create_index("ix_steps_procedure_settled", "steps", ["procedure_name", "settled_at"])
    _fill_procedure_names()


def _fill_procedure_names() -> None:
    steps = sa.table(
        "steps",
        sa.column("step_id", sa.String),
        sa.column("step_json", sa.Text),
        sa.column("procedure_name", sa.Text),
    )
    connection = op.get_bind()
    last = ""
    while rows := connection.execute(
        sa.select(steps.c.step_id, steps.c.step_json)
        .where(steps.c.step_id > last)
        .order_by(steps.c.step_id)
        .limit(_BATCH)
    ).all():
        for step_id, step_json in rows:
            stored = json.loads(step_json)
            name = stored.get("procedure_name")
            if isinstance(name, str) and not stored.get("test"):  # tests never count
                connection.execute(
                    sa.update(steps).where(steps.c.step_id == step_id).values(procedure_name=name)
                )
        last = rows[-1][0]


def downgrade() -> None:
    op.drop_index("ix_steps_procedure_settled", "steps")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("detail")
    with op.batch_alter_table("steps") as batch:
        for column in (
            "precedent_json", "send_at", "claim_until", "claimed_at", "claimed_by",
            "procedure_name",
        ):  # fmt: skip
            batch.drop_column(column)
