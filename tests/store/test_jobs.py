"""Jobs in the store: leased to one instance at a time, one per step, taken over when
their instance dies."""

from __future__ import annotations

import asyncio
from collections import Counter

from bot.domain import JobKind, StepState
from bot.lifecycle import Effects, FollowUp
from bot.store import Job, SqlStore

from .factories import make_answer, make_step, settle

NOW = 1_000.0
LEASE = 10.0


async def _steps_with_three_due_jobs(store: SqlStore, count: int) -> list[str]:
    """Steps each with a post, a deliver and a refresh job due at NOW."""
    steps = [make_step() for _ in range(count)]
    await store.add_steps(steps, NOW)
    for step in steps:
        await store.claim_answer(step.step_id, make_answer(), NOW)
    return [s.step_id for s in steps]


async def test_claim_takes_one_job_per_step_oldest_first(store: SqlStore) -> None:
    (step_id,) = await _steps_with_three_due_jobs(store, 1)
    first = await store.claim_jobs("a", NOW, LEASE, 10)
    assert [j.kind for j in first] == [JobKind.POST]
    assert await store.claim_jobs("b", NOW, LEASE, 10) == []
    await store.finish_job(first[0].id, "a")
    second = await store.claim_jobs("b", NOW, LEASE, 10)
    assert [(j.kind, j.step_id) for j in second] == [(JobKind.DELIVER, step_id)]


async def test_claimed_job_carries_its_conversation_and_no_earlier_attempt(
    store: SqlStore,
) -> None:
    step = make_step()
    await store.add_steps([step], NOW)
    (job,) = await store.claim_jobs("a", NOW, LEASE, 10)
    assert job.conversation_id == step.conversation_id
    assert job.attempts == 0
    assert job.taken_over_from is None


async def test_claimed_job_carries_its_step_as_it_stood_at_the_claim(store: SqlStore) -> None:
    step = make_step()
    await store.add_steps([step], NOW)
    await store.claim_answer(step.step_id, make_answer(), NOW)
    (post,) = await store.claim_jobs("a", NOW, LEASE, 10)
    await store.finish_job(post.id, "a")
    (deliver,) = await store.claim_jobs("a", NOW, LEASE, 10)

    assert deliver.kind == JobKind.DELIVER
    assert deliver.record == await store.get(step.step_id)
    assert deliver.record is not None
    assert deliver.record.state == StepState.SUBMITTED
    assert deliver.record.step == step


async def test_job_not_yet_due_is_not_claimed(store: SqlStore) -> None:
    await store.add_steps([make_step(expires_at=5_000)], NOW)
    claimed = await store.claim_jobs("a", 4_999, LEASE, 10)
    assert [j.kind for j in claimed] == [JobKind.POST]
    await store.finish_job(claimed[0].id, "a")
    assert await store.claim_jobs("a", 4_999, LEASE, 10) == []
    assert [j.kind for j in await store.claim_jobs("a", 5_000, LEASE, 10)] == [JobKind.EXPIRE]


async def test_job_of_a_dead_instance_is_taken_over_when_its_lease_runs_out(
    store: SqlStore,
) -> None:
    await store.add_steps([make_step()], NOW)
    (held,) = await store.claim_jobs("dead", NOW, LEASE, 10)
    assert await store.claim_jobs("alive", NOW + LEASE - 0.01, LEASE, 10) == []
    (taken,) = await store.claim_jobs("alive", NOW + LEASE, LEASE, 10)
    assert taken.id == held.id
    assert taken.attempts == 1  # the dead instance's attempt may have had its effect
    assert taken.taken_over_from == "dead"


async def test_renewed_lease_keeps_a_slow_job_from_being_taken_over(store: SqlStore) -> None:
    await store.add_steps([make_step()], NOW)
    (held,) = await store.claim_jobs("slow", NOW, LEASE, 10)
    kept = await store.extend_leases("slow", [held.id], NOW + 2 * LEASE)
    assert kept == {held.id}
    assert await store.claim_jobs("other", NOW + LEASE + 1, LEASE, 10) == []


async def test_instance_that_lost_a_lease_learns_it_and_cannot_finish_the_job(
    store: SqlStore,
) -> None:
    await store.add_steps([make_step()], NOW)
    (held,) = await store.claim_jobs("stalled", NOW, LEASE, 10)
    (taken,) = await store.claim_jobs("other", NOW + LEASE, LEASE, 10)
    assert await store.extend_leases("stalled", [held.id], NOW + 2 * LEASE) == set()
    assert not await store.finish_job(held.id, "stalled")
    assert not await store.retry_job(held.id, "stalled", NOW, "late")
    assert [(j.locked_by, j.attempts) for j in await store.list_jobs()] == [("other", 2)]
    assert await store.finish_job(taken.id, "other")
    assert await store.list_jobs() == []


async def test_retried_job_waits_for_its_time_and_keeps_the_reason(store: SqlStore) -> None:
    await store.add_steps([make_step()], NOW)
    (job,) = await store.claim_jobs("a", NOW, LEASE, 10)
    assert await store.retry_job(job.id, "a", NOW + 30, "Slack answered 503")
    assert await store.claim_jobs("a", NOW + 29, LEASE, 10) == []
    (again,) = await store.claim_jobs("a", NOW + 30, LEASE, 10)
    assert (again.attempts, again.last_error, again.taken_over_from) == (
        1,
        "Slack answered 503",
        None,
    )


async def test_jobs_released_at_a_graceful_stop_are_due_at_once(store: SqlStore) -> None:
    await store.add_steps([make_step(), make_step()], NOW)
    held = await store.claim_jobs("stopping", NOW, LEASE, 10)
    await store.release_jobs("stopping")
    again = await store.claim_jobs("next", NOW, LEASE, 10)
    assert sorted(j.id for j in again) == sorted(j.id for j in held)
    assert all(j.taken_over_from is None for j in again)


async def _claim_rounds(store: SqlStore, owner: str, *, rounds: int, limit: int) -> list[Job]:
    """What `owner` claims in `rounds` claims of up to `limit` jobs, none finished."""
    taken: list[Job] = []
    for _ in range(rounds):
        taken += await store.claim_jobs(owner, NOW, LEASE, limit)
    return taken


async def test_two_stores_never_claim_the_same_job(database_url: str) -> None:
    stores = [await SqlStore.open(database_url) for _ in range(2)]
    try:
        await stores[0].add_steps([make_step() for _ in range(40)], NOW)

        batches = await asyncio.gather(
            *(
                _claim_rounds(s, f"instance-{n}-{k}", rounds=10, limit=3)
                for n, s in enumerate(stores)
                for k in range(3)
            )
        )
        ids = [job.id for batch in batches for job in batch]
        assert len(ids) == len(set(ids)) == 40
    finally:
        for s in stores:
            await s.close()


async def test_two_stores_never_lease_two_jobs_of_one_step_at_once(database_url: str) -> None:
    """A step's jobs run one after another even when instances claim at the same moment."""
    stores = [await SqlStore.open(database_url) for _ in range(2)]
    try:
        step_ids = await _steps_with_three_due_jobs(stores[0], 30)

        batches = await asyncio.gather(
            *(
                _claim_rounds(s, f"instance-{n}-{k}", rounds=8, limit=4)
                for n, s in enumerate(stores)
                for k in range(4)
            )
        )
        per_step = Counter(job.step_id for batch in batches for job in batch)
        assert set(per_step) == set(step_ids)
        assert max(per_step.values()) == 1
    finally:
        for s in stores:
            await s.close()


async def test_news_for_a_step_queues_one_refresh(store: SqlStore) -> None:
    step = make_step()
    await store.add_steps([step], NOW)
    await store.claim_answer(step.step_id, make_answer(), NOW)
    await settle(store, step, StepState.ANSWERED, NOW, from_states=(StepState.SUBMITTED,))
    kinds = Counter(j.kind for j in await store.list_jobs(step.step_id))
    assert kinds[JobKind.REFRESH] == 1


async def test_news_brings_forward_a_refresh_that_is_backing_off(store: SqlStore) -> None:
    step = make_step()
    await store.add_steps([step], NOW)
    await store.claim_answer(step.step_id, make_answer(), NOW)
    for expected in (JobKind.POST, JobKind.DELIVER):
        (job,) = await store.claim_jobs("a", NOW, LEASE, 10)
        assert job.kind == expected
        await store.finish_job(job.id, "a")
    (refresh,) = await store.claim_jobs("a", NOW, LEASE, 10)
    await store.retry_job(refresh.id, "a", NOW + 300, "Slack answered 503")
    await store.settle(
        step.step_id,
        StepState.ANSWERED,
        None,
        NOW + 1,
        from_states=(StepState.SUBMITTED,),
        effects=Effects((FollowUp(JobKind.REFRESH, NOW + 1),)),
    )
    assert [(j.id, j.run_at) for j in await store.list_jobs(step.step_id)] == [
        (refresh.id, NOW + 1)
    ]
