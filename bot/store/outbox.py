"""Writes a transition's effects (bot/lifecycle.py) as job rows, inside the transition's
own transaction: the store's one way of adding jobs."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from bot.lifecycle import COALESCED, Effects, FollowUp
from bot.store.schema import jobs

# The columns of a job not yet attempted, in the order `job_row` gives them.
NEW_JOB_COLUMNS = ("step_id", "kind", "run_at", "attempts", "created_at", "detail")
_ADD_JOBS = jobs.insert()
# Built once, their values bound at each call: a transition writes its jobs on a request's
# path (an answer, a claim), and building a statement cost more than running it.
_DROP_WAITING = jobs.delete().where(
    jobs.c.step_id == bindparam("for_step"),
    jobs.c.kind.in_(bindparam("kinds", expanding=True)),
    jobs.c.locked_by.is_(None),
)
_WAITING = select(jobs.c.id, jobs.c.run_at).where(
    jobs.c.step_id == bindparam("for_step"),
    jobs.c.kind == bindparam("of_kind"),
    jobs.c.locked_by.is_(None),
)
_SOONER = update(jobs).where(jobs.c.id == bindparam("job_id"))


def job_row(step_id: str, follow_up: FollowUp) -> tuple[Any, ...]:
    """A job not yet attempted, in NEW_JOB_COLUMNS order; it counts its age from `run_at`."""
    return (step_id, follow_up.kind.value, follow_up.run_at, 0, follow_up.run_at, follow_up.detail)


def write(conn: Connection, step_id: str, effects: Effects) -> None:
    """Adds the jobs and drops waiting ones as `effects` says. Callers hold the step's row
    (they have just changed or locked it), so two transactions cannot both find no
    coalesced job waiting and both add one."""
    if effects.drop:
        kinds = sorted(kind.value for kind in effects.drop)
        conn.execute(_DROP_WAITING, {"for_step": step_id, "kinds": kinds})
    # In the order given: a step's jobs run one at a time, oldest first. They go in as one
    # statement: on PostgreSQL each statement is a round trip on a request's path.
    new: list[FollowUp] = []
    for follow_up in effects.jobs:
        if follow_up.kind in COALESCED and _merged(conn, step_id, follow_up, new):
            continue
        new.append(follow_up)
    if new:
        conn.execute(_ADD_JOBS, [_new_job(step_id, follow_up) for follow_up in new])


def _new_job(step_id: str, follow_up: FollowUp) -> dict[str, Any]:
    return dict(zip(NEW_JOB_COLUMNS, job_row(step_id, follow_up), strict=True))


def _merged(conn: Connection, step_id: str, follow_up: FollowUp, new: list[FollowUp]) -> bool:
    """Whether `follow_up` merged into a job of its kind already waiting, stored or about
    to be (`new`), which is made due sooner if it was due later; False: add it."""
    for index, pending in enumerate(new):
        if pending.kind is follow_up.kind:
            if pending.run_at > follow_up.run_at:
                new[index] = replace(pending, run_at=follow_up.run_at)
            return True
    waiting = conn.execute(_WAITING, {"for_step": step_id, "of_kind": follow_up.kind.value}).first()
    if waiting is None:
        return False
    if waiting.run_at > follow_up.run_at:
        # One backing off after a failure: the news should not wait for it.
        conn.execute(_SOONER, {"job_id": waiting.id, "run_at": follow_up.run_at})
    return True
