"""Stored steps move to the shape of Intercom's published HITL item.

Steps stored before this revision were read from guessed fields: `instructions` (closest to
what Intercom calls `hitl_question`), a `procedure {id, name}` object, an item-level
`created_at` and attribute `description`s. Their JSON is rewritten so they still display:
`instructions` becomes `hitl_question`; the procedure id, `created_at` and descriptions,
which Intercom never sends, are dropped.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_BATCH = 500
_steps = sa.table("steps", sa.column("step_id", sa.String), sa.column("step_json", sa.Text))


def published_shape(old: dict[str, Any]) -> dict[str, Any]:
    """A step as stored before 0003, in the fields `bot.domain.Step` now has."""
    new = {key: value for key, value in old.items() if key not in _GONE}
    instructions = old.get("instructions")
    if "hitl_question" not in new and isinstance(instructions, str):
        new["hitl_question"] = instructions
    new["attributes"] = [
        {key: value for key, value in attribute.items() if key != "description"}
        for attribute in old.get("attributes", [])
    ]
    return new


_GONE = frozenset({"instructions", "procedure_id", "created_at"})


def upgrade() -> None:
    connection = op.get_bind()
    last = ""
    while True:
        rows = connection.execute(
            sa.select(_steps.c.step_id, _steps.c.step_json)
            .where(_steps.c.step_id > last)
            .order_by(_steps.c.step_id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        for step_id, step_json in rows:
            old = json.loads(step_json)
            new = published_shape(old)
            if new != old:
                connection.execute(
                    sa.update(_steps)
                    .where(_steps.c.step_id == step_id)
                    .values(step_json=json.dumps(new, separators=(",", ":")))
                )
        last = rows[-1][0]


def downgrade() -> None:
    # The guessed fields held nothing Intercom sends; there is nothing to put back.
    pass
