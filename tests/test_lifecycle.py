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
    Stage,
    answer_claimed,
    event,
    moved_on_while_posting,
    received,
)
from tests.store.factories import make_step

NOW = 1_000.0


def test_a_received_step_needs_no_job_rows() -> None:
    """Its post is due on its own row and its expiry is swept (bot/store/jobs.py)."""
    assert received(make_step(expires_at=5_000), NOW) == NOTHING
    assert received(make_step(), NOW) == NOTHING


def test_a_claimed_answer_is_delivered_then_shown() -> None:
    assert answer_claimed(NOW).jobs == (
        FollowUp(JobKind.DELIVER, NOW),
        FollowUp(JobKind.REFRESH, NOW),
    )


def test_a_post_landing_after_the_step_moved_on_refreshes_it_at_once() -> None:
    assert moved_on_while_posting().jobs == (FollowUp(JobKind.REFRESH, 0.0),)


def test_posting_schedules_the_first_reminder_only_when_reminders_are_on() -> None:
    step = make_step()
    assert Lifecycle(remind_after=60).posted(step, NOW, NOW).jobs == (
        FollowUp(JobKind.REMIND, NOW + 60),
    )
    assert Lifecycle().posted(step, NOW, NOW) is NOTHING


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
    assert effects.drop == {JobKind.REMIND, JobKind.LAPSE}


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


# --- Working a step


def _expiring(life: float = 1_000.0) -> Step:
    return make_step(expires_at=int(NOW + life))


def test_an_expiring_step_escalates_at_its_fractions_with_the_last_call_two_minutes_out() -> None:
    lifecycle = Lifecycle(escalation=(0.5, 0.8, 0.95))

    # 5 % of 1 000 s is under two minutes: the fraction is later, and wins.
    assert lifecycle.escalation_times(_expiring(1_000), NOW) == (1_500.0, 1_800.0, 1_950.0)
    # 5 % of 10 000 s is over two minutes: two minutes before the expiry is later.
    assert lifecycle.escalation_times(_expiring(10_000), NOW) == (6_000.0, 9_000.0, 10_880.0)
    assert lifecycle.escalation_times(make_step(), NOW) is None


def test_posting_an_expiring_step_schedules_the_mention_whatever_remind_after_says() -> None:
    step = _expiring(1_000)

    assert Lifecycle().posted(step, NOW, NOW).jobs == (FollowUp(JobKind.REMIND, 1_500.0),)
    assert Lifecycle(remind_after=60).posted(step, NOW, NOW + 900).jobs == (
        FollowUp(JobKind.REMIND, NOW + 900),
    )


def test_each_stage_schedules_the_next_and_the_dm_stage_sends_the_dm() -> None:
    lifecycle = Lifecycle()
    record = _record(_expiring(1_000))

    mentioned = lifecycle.escalated_to(record, Stage.MENTIONED, 1_500.0)
    escalated = lifecycle.escalated_to(record, Stage.ESCALATED, 1_800.0)

    assert mentioned.jobs == (FollowUp(JobKind.REMIND, 1_800.0),)
    assert escalated.jobs == (
        FollowUp(JobKind.ESCALATE, 1_800.0),
        FollowUp(JobKind.REMIND, 1_950.0),
    )
    assert lifecycle.escalated_to(record, Stage.LAST_CALL, 1_950.0) is NOTHING


def test_a_reminder_during_a_claim_waits_for_its_end_but_never_past_the_last_call() -> None:
    lifecycle = Lifecycle()
    short_claim = _record(_expiring(1_000)).model_copy(update={"claim_until": 1_600.0})
    long_claim = _record(_expiring(1_000)).model_copy(update={"claim_until": 5_000.0})

    assert lifecycle.paused(short_claim, 1_500.0).jobs == (FollowUp(JobKind.REMIND, 1_600.0),)
    assert lifecycle.paused(long_claim, 1_500.0).jobs == (FollowUp(JobKind.REMIND, 1_950.0),)


def test_a_claim_refreshes_and_lapses_at_its_end_with_a_note_when_notes_are_on() -> None:
    effects = Lifecycle(claim_seconds=900, audit_notes=True).claimed(make_step(), "U0A", NOW)

    assert effects.jobs == (
        FollowUp(JobKind.REFRESH, NOW),
        FollowUp(JobKind.LAPSE, NOW + 900),
        FollowUp(JobKind.NOTE, NOW, event("claimed", by="U0A")),
    )
    assert effects.drop == {JobKind.LAPSE}


def test_a_take_over_is_told_in_the_thread() -> None:
    effects = Lifecycle().claimed(make_step(), "U0B", NOW, took_over_from="U0A")

    assert FollowUp(JobKind.TRAIL, NOW, event("took_over", by="U0B", previous="U0A")) in (
        effects.jobs
    )


def test_releasing_drops_the_lapse() -> None:
    assert Lifecycle().released(NOW) == Effects(
        (FollowUp(JobKind.REFRESH, NOW),), drop=frozenset({JobKind.LAPSE})
    )


def test_an_answer_waits_out_the_undo_window_unless_the_step_expires_too_soon() -> None:
    lifecycle = Lifecycle(undo_seconds=10)

    assert lifecycle.send_at(make_step(), NOW) == NOW + 10
    assert lifecycle.send_at(_expiring(21), NOW) == NOW + 10
    assert lifecycle.send_at(_expiring(19), NOW) == NOW
    assert Lifecycle(undo_seconds=0).send_at(make_step(), NOW) == NOW
    assert lifecycle.answer_claimed(make_step(), NOW).jobs[0] == FollowUp(JobKind.DELIVER, NOW + 10)


def test_an_undo_refreshes_and_tells_the_thread_who() -> None:
    assert Lifecycle().undone("U0A", NOW).jobs == (
        FollowUp(JobKind.REFRESH, NOW),
        FollowUp(JobKind.TRAIL, NOW, event("undone", by="U0A")),
    )


def test_the_dm_stage_writes_one_job_per_person_then_the_threads_record() -> None:
    effects = Lifecycle().escalating(("U0LEAD", "U0BOSS"), None, NOW)

    assert [(f.kind, f.run_at) for f in effects.jobs] == [
        (JobKind.ESCALATE, NOW),
        (JobKind.ESCALATE, NOW),
        (JobKind.TRAIL, NOW),
    ]
    assert [f.detail for f in effects.jobs[:2]] == [
        event("dm", to="U0LEAD"),
        event("dm", to="U0BOSS"),
    ]
    assert effects.jobs[2].detail == event(
        "escalated", users="U0LEAD,U0BOSS", group="", percent="80"
    )
