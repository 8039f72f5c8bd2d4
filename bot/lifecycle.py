"""A step's workflow as plain values: for each transition, the jobs that follow and when.

The store writes what it is handed here in the transition's own transaction (a
transactional outbox), so a change and the work it causes exist together or not at all.
Nothing here does I/O; docs/architecture.md has the same table.

| transition | jobs that follow | dropped |
|---|---|---|
| received | post (now); expire (at `expires_at`, if any) | |
| posted (was received) | remind (the first escalation stage, or `HITL_REMIND_AFTER`) | |
| posted after it moved on | refresh (now) | |
| claimed ("I'm on it") | refresh; lapse (at the claim's end); note; trail (a take-over) | lapse |
| claim released | refresh (now) | lapse |
| answer claimed | deliver (at the end of the undo window); refresh (now) | lapse |
| answer undone | refresh (now); trail (now) | (the deliver, by the store) |
| settled | refresh, trail (now); note (answered, notes on, not a test) | remind, lapse |
| reminded | remind (the next stage or interval); escalate (the DM stage) | |
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain import JobKind, Step, StepRecord, StepState

# Reminders per unanswered step without an expiry, `remind_after` seconds apart.
MAX_REMINDERS = 3
# The last call goes out at the later of its fraction of the step's life and this long
# before the step expires.
LAST_CALL_BEFORE_SECONDS = 120.0
# A refresh not yet started renders the latest state whenever it runs: one waiting per step
# is enough, and a new one only brings the waiting one forward.
COALESCED = frozenset({JobKind.REFRESH})


class Stage:
    """What a step with an expiry has had, counted in `StepRecord.reminders_sent`."""

    NONE = 0
    MENTIONED = 1  # the thread mentioned the route's people
    ESCALATED = 2  # the escalation people got a direct message
    LAST_CALL = 3  # the thread had its last call; the message says it expires soon


@dataclass(frozen=True)
class FollowUp:
    """One job to write: of `kind`, due at `run_at` (unix seconds), and what it is about
    when its kind and step do not say it all (`detail`, JSON; e.g. who took over)."""

    kind: JobKind
    run_at: float
    detail: str | None = None


@dataclass(frozen=True)
class Effects:
    """What a transition writes besides the step: jobs to add, kinds of waiting job to drop."""

    jobs: tuple[FollowUp, ...] = ()
    drop: frozenset[JobKind] = frozenset()


NOTHING = Effects()


def received(step: Step, now: float) -> Effects:
    """No job rows: a received step is due to be posted by its own row (`post_at`), and
    its expiry is swept from an index over open steps (bot/store/jobs.py)."""
    return NOTHING


def answer_claimed(now: float, send_at: float | None = None) -> Effects:
    return Effects(
        (FollowUp(JobKind.DELIVER, now if send_at is None else send_at), _refresh(now)),
        drop=frozenset({JobKind.LAPSE}),
    )


def moved_on_while_posting() -> Effects:
    """The step settled while its message was being posted: show where it is now."""
    return Effects((FollowUp(JobKind.REFRESH, 0.0),))


def event(name: str, **about: str) -> str:
    """A job's detail saying what happened (for the thread reply or note it posts)."""
    return json.dumps({"event": name, **about}, separators=(",", ":"))


def _refresh(now: float) -> FollowUp:
    return FollowUp(JobKind.REFRESH, now)


@dataclass(frozen=True)
class Lifecycle:
    """The transitions whose jobs depend on how the bot is configured."""

    # Seconds between reminders of an unanswered step without an expiry; None: none.
    remind_after: float | None = None
    # Whether answers and claims get internal notes in Intercom (INTERCOM_ADMIN_ID set).
    audit_notes: bool = False
    # Fractions of an expiring step's life for the mention, the DM and the last call.
    escalation: tuple[float, float, float] = (0.5, 0.8, 0.95)
    # How long "I'm on it" holds.
    claim_seconds: float = 15 * 60.0
    # How long a submitted answer waits, with Undo, before it is sent (0: at once).
    undo_seconds: float = 0.0

    received = staticmethod(received)
    moved_on_while_posting = staticmethod(moved_on_while_posting)

    def escalation_times(self, step: Step, received_at: float) -> tuple[float, float, float] | None:
        """When an expiring step's thread mentions its people, its DM goes, its last call
        goes; None for a step without an expiry (it keeps HITL_REMIND_AFTER)."""
        if step.expires_at is None or step.expires_at <= received_at:
            return None
        life = step.expires_at - received_at
        mention, dm, last = (received_at + f * life for f in self.escalation)
        return mention, dm, max(last, step.expires_at - LAST_CALL_BEFORE_SECONDS)

    def posted(self, step: Step, received_at: float, now: float) -> Effects:
        times = self.escalation_times(step, received_at)
        if times is not None:
            return Effects((FollowUp(JobKind.REMIND, max(now, times[0])),))
        if self.remind_after is None:
            return NOTHING
        return Effects((FollowUp(JobKind.REMIND, now + self.remind_after),))

    def send_at(self, step: Step, now: float) -> float:
        """When an answer submitted `now` leaves: after the undo window, unless the window
        would eat into the time Intercom still takes answers (less than twice it left)."""
        if self.undo_seconds <= 0:
            return now
        if step.expires_at is not None and step.expires_at - now < 2 * self.undo_seconds:
            return now
        return now + self.undo_seconds

    def answer_claimed(self, step: Step, now: float) -> Effects:
        return answer_claimed(now, self.send_at(step, now))

    def claimed(
        self, step: Step, by: str, now: float, *, took_over_from: str | None = None
    ) -> Effects:
        jobs = [_refresh(now), FollowUp(JobKind.LAPSE, now + self.claim_seconds)]
        if self.audit_notes and not step.test:
            jobs.append(FollowUp(JobKind.NOTE, now, event("claimed", by=by)))
        if took_over_from is not None:
            detail = event("took_over", by=by, previous=took_over_from)
            jobs.append(FollowUp(JobKind.TRAIL, now, detail))
        return Effects(tuple(jobs), drop=frozenset({JobKind.LAPSE}))

    def released(self, now: float) -> Effects:
        return Effects((_refresh(now),), drop=frozenset({JobKind.LAPSE}))

    def undone(self, by: str, now: float) -> Effects:
        return Effects((_refresh(now), FollowUp(JobKind.TRAIL, now, event("undone", by=by))))

    def settled(self, step: Step, state: StepState, now: float) -> Effects:
        jobs = [_refresh(now), FollowUp(JobKind.TRAIL, now)]
        if state is StepState.ANSWERED and self.audit_notes and not step.test:
            jobs.append(FollowUp(JobKind.NOTE, now))
        return Effects(tuple(jobs), drop=frozenset({JobKind.REMIND, JobKind.LAPSE}))

    def reminded(self, record: StepRecord, now: float) -> Effects:
        """After the reminder `record.reminders_sent + 1` was posted (no expiry)."""
        if self.remind_after is None or record.reminders_sent + 1 >= MAX_REMINDERS:
            return NOTHING
        return Effects((FollowUp(JobKind.REMIND, now + self.remind_after),))

    def escalated_to(self, record: StepRecord, stage: int, now: float) -> Effects:
        """After an expiring step reached `stage` (Stage.*): the next stage's reminder (and,
        for the DM stage, the job that sends it)."""
        times = self.escalation_times(record.step, record.received_at)
        if times is None or stage >= Stage.LAST_CALL:
            return NOTHING
        jobs = []
        if stage == Stage.ESCALATED:
            jobs.append(FollowUp(JobKind.ESCALATE, now))
        next_at = times[min(stage, Stage.ESCALATED)]  # the next stage's time
        jobs.append(FollowUp(JobKind.REMIND, max(now, next_at)))
        return Effects(tuple(jobs))

    def escalating(self, users: Sequence[str], group: str | None, now: float) -> Effects:
        """Who the DM stage reaches, known: one DM job each (a retry re-sends only its own
        DM), then the thread's record of whom it reached."""
        jobs = [FollowUp(JobKind.ESCALATE, now, event("dm", to=user)) for user in users]
        percent = str(round(self.escalation[1] * 100))
        jobs.append(
            FollowUp(
                JobKind.TRAIL,
                now,
                event("escalated", users=",".join(users), group=group or "", percent=percent),
            )
        )
        return Effects(tuple(jobs))

    def paused(self, record: StepRecord, now: float) -> Effects:
        """A reminder that came while someone was on the step: again when the claim runs
        out, or at the last call if that comes first (a claim never holds the last call)."""
        until = record.claim_until or now
        times = self.escalation_times(record.step, record.received_at)
        if times is not None:
            until = min(until, times[2])
        return Effects((FollowUp(JobKind.REMIND, max(now, until)),))
