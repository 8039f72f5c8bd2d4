"""The lifecycle table: which jobs follow each transition, and when (no I/O)."""

from __future__ import annotations

import pytest

from bot.domain import JobKind, Step, StepRecord, StepState
from bot.lifecycle import (
    MAX_REMINDERS,
    NOTHING,
    Effects,
    FollowUp,
    Lifecycle,
    answer_claimed,
    moved_on_while_posting,
    received,
)
from tests.store.factories import make_step

NOW = 1_000.0


def test_a_received_step_is_posted_now_and_expires_at_its_expiry() -> None:
    assert received(make_step(expires_at=5_000), NOW) == Effects(
        (FollowUp(JobKind.POST, NOW), FollowUp(JobKind.EXPIRE, 5_000.0))
    )


def test_a_received_step_without_expiry_only_gets_posted() -> None:
    assert received(make_step(), NOW) == Effects((FollowUp(JobKind.POST, NOW),))


def test_a_claimed_answer_is_delivered_then_shown() -> None:
    assert answer_claimed(NOW).jobs == (
        FollowUp(JobKind.DELIVER, NOW),
        FollowUp(JobKind.REFRESH, NOW),
    )


def test_a_post_landing_after_the_step_moved_on_refreshes_it_at_once() -> None:
    assert moved_on_while_posting().jobs == (FollowUp(JobKind.REFRESH, 0.0),)


def test_posting_schedules_the_first_reminder_only_when_reminders_are_on() -> None:
    assert Lifecycle(remind_after=60).posted(NOW).jobs == (FollowUp(JobKind.REMIND, NOW + 60),)
    assert Lifecycle().posted(NOW) is NOTHING


def _record(step: Step, reminders_sent: int = 0) -> StepRecord:
    return StepRecord(
        step=step, state=StepState.POSTED, received_at=NOW, reminders_sent=reminders_sent
    )


@pytest.mark.parametrize(
    "state", [StepState.EXPIRED, StepState.FAILED, StepState.FULFILLED_ELSEWHERE]
)
def test_settling_refreshes_tells_the_thread_and_drops_reminders(state: StepState) -> None:
    effects = Lifecycle(audit_notes=True).settled(make_step(), state, NOW)

    assert [f.kind for f in effects.jobs] == [JobKind.REFRESH, JobKind.TRAIL]
    assert effects.drop == {JobKind.REMIND}


def test_an_answer_gets_an_audit_note_when_notes_are_on_and_it_is_no_test() -> None:
    step = make_step()

    with_notes = Lifecycle(audit_notes=True).settled(step, StepState.ANSWERED, NOW)
    without = Lifecycle().settled(step, StepState.ANSWERED, NOW)
    test = Lifecycle(audit_notes=True).settled(
        step.model_copy(update={"test": True}), StepState.ANSWERED, NOW
    )

    assert JobKind.NOTE in [f.kind for f in with_notes.jobs]
    assert JobKind.NOTE not in [f.kind for f in without.jobs]
    assert JobKind.NOTE not in [f.kind for f in test.jobs]


def test_reminders_repeat_at_the_interval_up_to_the_most() -> None:
    lifecycle = Lifecycle(remind_after=60)
    step = make_step()

    nexts = [lifecycle.reminded(_record(step, sent), NOW) for sent in range(MAX_REMINDERS)]

    assert [e.jobs for e in nexts[:-1]] == [(FollowUp(JobKind.REMIND, NOW + 60),)] * (
        MAX_REMINDERS - 1
    )
    assert nexts[-1] is NOTHING
    assert Lifecycle().reminded(_record(step), NOW) is NOTHING
