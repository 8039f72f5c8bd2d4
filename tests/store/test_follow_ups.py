"""Jobs that follow a step's changes: the thread trail, reminders and the audit note."""

from __future__ import annotations

from bot.domain import JobKind, Step, StepState
from bot.lifecycle import Effects, FollowUp, Lifecycle
from bot.store import SqlStore

from .factories import make_answer, make_step, settle

NOW = 1_000.0
REMIND_IN_60 = Lifecycle(remind_after=60).posted(make_step(), NOW, NOW)


async def _drain(store: SqlStore) -> None:
    while claimed := await store.claim_jobs("me", NOW + 10_000, 30, 10):
        for job in claimed:
            await store.finish_job(job, "me")


async def _stored_step(store: SqlStore) -> Step:
    """A stored step whose own jobs (post, expiry) are done, so only new ones remain."""
    step = make_step()
    await store.add_steps([step], NOW)
    await _drain(store)
    return step


async def test_settling_adds_the_follow_up_jobs_once(store: SqlStore) -> None:
    step = make_step()
    await store.add_steps([step], NOW)
    await store.claim_answer(step.step_id, make_answer(), NOW)
    await _drain(store)

    first, again = [
        await store.settle(
            step.step_id,
            StepState.ANSWERED,
            None,
            NOW,
            from_states=(StepState.SUBMITTED,),
            effects=Lifecycle(audit_notes=True).settled(step, StepState.ANSWERED, NOW),
        )
        for _ in range(2)  # the same settling, twice
    ]

    assert (first, again) == (True, False)
    kinds = sorted(j.kind for j in await store.list_jobs(step.step_id))
    assert kinds == sorted([JobKind.REFRESH, JobKind.TRAIL, JobKind.NOTE])


async def test_posting_schedules_the_first_reminder_once(store: SqlStore) -> None:
    step = await _stored_step(store)

    await store.mark_posted(step.step_id, "C1", "1.0001", None, effects=REMIND_IN_60)
    await store.mark_posted(step.step_id, "C1", "1.0001", None, effects=REMIND_IN_60)

    reminders = [j.run_at for j in await store.list_jobs(step.step_id) if j.kind == JobKind.REMIND]
    assert reminders == [NOW + 60]


async def test_a_reminder_counts_and_schedules_the_next_only_while_open(store: SqlStore) -> None:
    step = await _stored_step(store)

    await store.reminder_sent(step.step_id, Effects((FollowUp(JobKind.REMIND, NOW + 60),)))
    await store.claim_answer(step.step_id, make_answer(), NOW)
    await store.reminder_sent(step.step_id, Effects((FollowUp(JobKind.REMIND, NOW + 120),)))

    record = await store.get(step.step_id)
    assert record is not None
    assert record.reminders_sent == 2
    reminders = [j.run_at for j in await store.list_jobs(step.step_id) if j.kind == JobKind.REMIND]
    assert reminders == [NOW + 60]


async def test_settling_drops_waiting_reminders(store: SqlStore) -> None:
    step = await _stored_step(store)
    await store.mark_posted(step.step_id, "C1", "1.0001", None, effects=REMIND_IN_60)

    await settle(store, step, StepState.EXPIRED, NOW, from_states=(StepState.POSTED,))

    assert JobKind.REMIND not in [j.kind for j in await store.list_jobs(step.step_id)]


async def test_a_drop_leaves_the_waiting_job_a_worker_already_holds(store: SqlStore) -> None:
    step = await _stored_step(store)
    await store.mark_posted(step.step_id, "C1", "1.0001", None, effects=REMIND_IN_60)
    (running,) = await store.claim_jobs("worker", NOW + 60, 30, 10)
    assert running.kind == JobKind.REMIND

    await settle(store, step, StepState.EXPIRED, NOW + 61, from_states=(StepState.POSTED,))

    kept = [j for j in await store.list_jobs(step.step_id) if j.kind == JobKind.REMIND]
    assert [(j.id, j.locked_by) for j in kept] == [(running.id, "worker")]
