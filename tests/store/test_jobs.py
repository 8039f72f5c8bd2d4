"""Jobs in the store: leased to one instance at a time, one per step, taken over when
their instance dies."""

from __future__ import annotations

import asyncio
from collections import Counter

from bot.domain import JobKind, Step, StepState
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
    await store.finish_job(first[0], "a")
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
    await store.finish_job(post, "a")
    (deliver,) = await store.claim_jobs("a", NOW, LEASE, 10)

    assert deliver.kind == JobKind.DELIVER
    assert deliver.record == await store.get(step.step_id)
    assert deliver.record is not None
    assert deliver.record.state == StepState.SUBMITTED
    assert deliver.record.step == step


async def test_one_claim_of_posts_and_jobs_carries_each_step_as_it_stood(
    store: SqlStore,
) -> None:
    answered, fresh = make_step(), make_step()
    await store.add_steps([answered], NOW)
    await store.claim_answer(answered.step_id, make_answer(), NOW)
    (post,) = await store.claim_jobs("a", NOW, LEASE, 10)
    await store.finish_job(post, "a")
    await store.add_steps([fresh], NOW + 1)

    claimed = await store.claim_jobs("a", NOW + 1, LEASE, 10)

    assert [(j.kind, j.step_id) for j in claimed] == [
        (JobKind.POST, fresh.step_id),
        (JobKind.DELIVER, answered.step_id),
    ]
    for job in claimed:
        assert job.record == await store.get(job.step_id)
    assert [j.record.state for j in claimed if j.record] == [
        StepState.RECEIVED,
        StepState.SUBMITTED,
    ]
    assert claimed[0].attempts == 0  # the post's lease counted, as the row came back


async def test_job_not_yet_due_is_not_claimed(store: SqlStore) -> None:
    step = make_step()
    await store.add_steps([step], NOW)
    (post,) = await store.claim_jobs("a", NOW, LEASE, 10)
    await store.retry_job(post, "a", NOW + 60, "Slack answered 503")
    assert await store.claim_jobs("a", NOW + 59, LEASE, 10) == []
    assert [j.kind for j in await store.claim_jobs("a", NOW + 60, LEASE, 10)] == [JobKind.POST]


async def test_a_new_step_is_one_row_its_post_kept_on_it_and_no_job_rows(
    store: SqlStore,
) -> None:
    step = make_step(expires_at=5_000)
    await store.add_steps([step], NOW)

    rows = await store.run_in_transaction(
        lambda conn: conn.exec_driver_sql("SELECT count(*) FROM jobs").scalar()
    )
    assert rows == 0
    (post,) = await store.list_jobs(step.step_id)
    assert (post.kind, post.run_at, post.attempts, post.locked_by) == (JobKind.POST, NOW, 0, None)
    (claimed,) = await store.claim_jobs("a", NOW, LEASE, 10)
    assert (claimed.kind, claimed.on_step_row, claimed.step_id) == (
        JobKind.POST,
        True,
        step.step_id,
    )
    assert await store.finish_job(claimed, "a")
    assert await store.list_jobs(step.step_id) == []


async def test_open_steps_past_their_expiry_are_swept_once_with_their_jobs(
    store: SqlStore,
) -> None:
    due, later, answered = (make_step(expires_at=t) for t in (5_000, 6_000, 5_000))
    await store.add_steps([due, later, answered], NOW)
    await store.claim_answer(answered.step_id, make_answer(), NOW)
    news = Effects((FollowUp(JobKind.TRAIL, 5_000.0),))

    assert await store.expire_due(4_999, lambda record: news) == []
    swept = await store.expire_due(5_000, lambda record: news)
    again = await store.expire_due(5_500, lambda record: news)

    assert [r.step.step_id for r in swept] == [due.step_id]
    assert again == []
    expired = await store.get(due.step_id)
    assert expired is not None
    assert (expired.state, expired.settled_at) == (StepState.EXPIRED, 5_000)
    assert JobKind.TRAIL in [j.kind for j in await store.list_jobs(due.step_id)]
    # Not yet due, and answered (the callback decides that one): untouched.
    assert (await store.get(later.step_id)).state is StepState.RECEIVED  # type: ignore[union-attr]
    assert (await store.get(answered.step_id)).state is StepState.SUBMITTED  # type: ignore[union-attr]


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
    kept = await store.extend_leases("slow", [held], NOW + 2 * LEASE)
    assert kept == {held.key}
    assert await store.claim_jobs("other", NOW + LEASE + 1, LEASE, 10) == []


async def test_instance_that_lost_a_lease_learns_it_and_cannot_finish_the_job(
    store: SqlStore,
) -> None:
    await store.add_steps([make_step()], NOW)
    (held,) = await store.claim_jobs("stalled", NOW, LEASE, 10)
    (taken,) = await store.claim_jobs("other", NOW + LEASE, LEASE, 10)
    assert await store.extend_leases("stalled", [held], NOW + 2 * LEASE) == set()
    assert not await store.finish_job(held, "stalled")
    assert not await store.retry_job(held, "stalled", NOW, "late")
    assert [(j.locked_by, j.attempts) for j in await store.list_jobs()] == [("other", 2)]
    assert await store.finish_job(taken, "other")
    assert await store.list_jobs() == []


async def test_retried_job_waits_for_its_time_and_keeps_the_reason(store: SqlStore) -> None:
    await store.add_steps([make_step()], NOW)
    (job,) = await store.claim_jobs("a", NOW, LEASE, 10)
    assert await store.retry_job(job, "a", NOW + 30, "Slack answered 503")
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
    assert sorted(j.key for j in again) == sorted(j.key for j in held)
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
        keys = [job.key for batch in batches for job in batch]
        assert len(keys) == len(set(keys)) == 40
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


async def _answer_delivered(store: SqlStore, step: Step, effects: Effects) -> None:
    """Settles a submitted `step` as answered, writing `effects` (not the lifecycle's)."""
    await store.settle(
        step.step_id,
        StepState.ANSWERED,
        None,
        NOW + 1,
        from_states=(StepState.SUBMITTED,),
        effects=effects,
    )


async def test_news_brings_forward_a_refresh_that_is_backing_off(store: SqlStore) -> None:
    step = make_step()
    await store.add_steps([step], NOW)
    await store.claim_answer(step.step_id, make_answer(), NOW)
    for expected in (JobKind.POST, JobKind.DELIVER):
        (job,) = await store.claim_jobs("a", NOW, LEASE, 10)
        assert job.kind == expected
        await store.finish_job(job, "a")
    (refresh,) = await store.claim_jobs("a", NOW, LEASE, 10)
    await store.retry_job(refresh, "a", NOW + 300, "Slack answered 503")
    await _answer_delivered(store, step, Effects((FollowUp(JobKind.REFRESH, NOW + 1),)))
    assert [(j.id, j.run_at) for j in await store.list_jobs(step.step_id)] == [
        (refresh.id, NOW + 1)
    ]


async def test_one_transition_adds_its_jobs_in_order_and_one_of_a_coalesced_kind(
    store: SqlStore,
) -> None:
    step = make_step()
    await store.add_steps([step], NOW)
    await store.claim_answer(step.step_id, make_answer(), NOW)
    while claimed := await store.claim_jobs("a", NOW + 10, LEASE, 10):  # nothing waits
        for job in claimed:
            await store.finish_job(job, "a")

    await _answer_delivered(
        store,
        step,
        Effects(
            (
                FollowUp(JobKind.REFRESH, NOW + 5),
                FollowUp(JobKind.TRAIL, NOW + 1),
                FollowUp(JobKind.REFRESH, NOW + 2),  # the same news, sooner
                FollowUp(JobKind.NOTE, NOW + 1),
            )
        ),
    )

    queued = await store.list_jobs(step.step_id)
    assert [(j.kind, j.run_at) for j in queued] == [
        (JobKind.REFRESH, NOW + 2),
        (JobKind.TRAIL, NOW + 1),
        (JobKind.NOTE, NOW + 1),
    ]
    assert [j.id for j in queued] == sorted(j.id for j in queued)
