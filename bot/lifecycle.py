"""A step's workflow as plain values: for each transition, the jobs that follow and when.

The store writes what it is handed here in the transition's own transaction (a
transactional outbox), so a change and the work it causes exist together or not at all.
Nothing here does I/O; docs/architecture.md has the same table.

| transition | jobs that follow | dropped |
|---|---|---|
| received | post (now); expire (at `expires_at`, if any) | |
| posted (was received) | remind (after `HITL_REMIND_AFTER`, if set) | |
| posted after it moved on | refresh (now) | |
| answer claimed | deliver (now); refresh (now) | |
| settled | refresh, trail (now); note (answered, `INTERCOM_ADMIN_ID` set, not a test) | remind |
| reminded | remind (after the interval, up to MAX_REMINDERS in all) | |
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain import JobKind, Step, StepRecord, StepState

# Reminders per unanswered step, `remind_after` seconds apart.
MAX_REMINDERS = 3
# A refresh not yet started renders the latest state whenever it runs: one waiting per step
# is enough, and a new one only brings the waiting one forward.
COALESCED = frozenset({JobKind.REFRESH})


@dataclass(frozen=True)
class FollowUp:
    """One job to write: of `kind`, due at `run_at` (unix seconds)."""

    kind: JobKind
    run_at: float


@dataclass(frozen=True)
class Effects:
    """What a transition writes besides the step: jobs to add, kinds of waiting job to drop."""

    jobs: tuple[FollowUp, ...] = ()
    drop: frozenset[JobKind] = frozenset()


NOTHING = Effects()


def received(step: Step, now: float) -> Effects:
    jobs = [FollowUp(JobKind.POST, now)]
    if step.expires_at is not None:
        jobs.append(FollowUp(JobKind.EXPIRE, float(step.expires_at)))
    return Effects(tuple(jobs))


def answer_claimed(now: float) -> Effects:
    return Effects((FollowUp(JobKind.DELIVER, now), FollowUp(JobKind.REFRESH, now)))


def moved_on_while_posting() -> Effects:
    """The step settled while its message was being posted: show where it is now."""
    return Effects((FollowUp(JobKind.REFRESH, 0.0),))


@dataclass(frozen=True)
class Lifecycle:
    """The transitions whose jobs depend on how the bot is configured."""

    # Seconds between reminders of an unanswered step; None: no reminders.
    remind_after: float | None = None
    # Whether an answered step gets an audit note in Intercom (INTERCOM_ADMIN_ID is set).
    audit_notes: bool = False

    received = staticmethod(received)
    answer_claimed = staticmethod(answer_claimed)
    moved_on_while_posting = staticmethod(moved_on_while_posting)

    def posted(self, now: float) -> Effects:
        if self.remind_after is None:
            return NOTHING
        return Effects((FollowUp(JobKind.REMIND, now + self.remind_after),))

    def settled(self, step: Step, state: StepState, now: float) -> Effects:
        jobs = [FollowUp(JobKind.REFRESH, now), FollowUp(JobKind.TRAIL, now)]
        if state is StepState.ANSWERED and self.audit_notes and not step.test:
            jobs.append(FollowUp(JobKind.NOTE, now))
        return Effects(tuple(jobs), drop=frozenset({JobKind.REMIND}))

    def reminded(self, record: StepRecord, now: float) -> Effects:
        """After the reminder `record.reminders_sent + 1` was posted."""
        if self.remind_after is None or record.reminders_sent + 1 >= MAX_REMINDERS:
            return NOTHING
        return Effects((FollowUp(JobKind.REMIND, now + self.remind_after),))
