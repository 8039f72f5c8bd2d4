"""Steps in the store: stored once however often they arrive, answered at most once."""

from __future__ import annotations

import asyncio
import dataclasses
from types import SimpleNamespace

from sqlalchemy import text

from bot.domain import JobKind, StepState
from bot.store import SqlStore
from bot.store.steps import step_of_row

from .factories import make_answer, make_received, make_step, settle

NOW = 1_000.0


async def test_same_step_delivered_many_times_at_once_is_stored_once(store: SqlStore) -> None:
    step = make_step()
    results = await asyncio.gather(*(store.add_steps([step], NOW) for _ in range(20)))
    assert sorted(r[0] for r in results) == [False] * 19 + [True]
    assert [j.kind for j in await store.list_jobs(step.step_id)] == [JobKind.POST]


async def test_same_step_under_different_notification_ids_is_one_step(store: SqlStore) -> None:
    deliveries = [make_step("step-1", notification_id=f"notif-{n}") for n in range(10)]
    results = await asyncio.gather(*(store.add_steps([d], NOW) for d in deliveries))
    assert sum(r[0] for r in results) == 1
    assert len(await store.list_jobs("step-1")) == 1


async def test_two_stores_on_one_database_store_a_step_once(database_url: str) -> None:
    first, second = await SqlStore.open(database_url), await SqlStore.open(database_url)
    try:
        step = make_step()
        results = await asyncio.gather(
            *(s.add_steps([step], NOW) for s in (first, second) for _ in range(5))
        )
        assert sum(r[0] for r in results) == 1
        assert len(await first.list_jobs(step.step_id)) == 1
    finally:
        await first.close()
        await second.close()


async def test_a_step_is_written_due_to_be_posted_and_nothing_else(store: SqlStore) -> None:
    step = make_step(expires_at=5_000)
    await store.add_steps([step], NOW)
    queued = await store.list_jobs(step.step_id)
    # Its post is kept on its own row; its expiry is swept (no job for it).
    assert [(j.kind, j.run_at) for j in queued] == [(JobKind.POST, NOW)]


async def test_a_batch_stores_only_its_new_steps_each_due_to_be_posted(store: SqlStore) -> None:
    stored = make_step(expires_at=4_000)
    await store.add_steps([stored], NOW)
    fresh, endless = make_step(expires_at=6_000), make_step(expires_at=None)

    results = await store.add_steps([stored, fresh, endless, fresh], NOW + 1)

    assert results == [False, True, True, False]
    jobs = await store.list_jobs()
    assert sorted((j.step_id, j.kind, j.run_at) for j in jobs) == sorted(
        [
            (stored.step_id, JobKind.POST, NOW),
            (fresh.step_id, JobKind.POST, NOW + 1),
            (endless.step_id, JobKind.POST, NOW + 1),
        ]
    )
    record = await store.get(fresh.step_id)
    assert record is not None
    assert (record.step, record.state, record.received_at) == (fresh, StepState.RECEIVED, NOW + 1)


async def test_a_delivered_step_is_parsed_once(store: SqlStore) -> None:
    """Every read of a step (a click, each job's claim) gets the Step its body holds, and
    the body is parsed once."""
    delivered = make_received("same")
    assert await store.add_deliveries([delivered], NOW) == [True]

    first, again = await store.get("same"), await store.get("same")
    assert first is not None
    assert again is not None
    assert first.step is again.step
    assert first.step == delivered.step()


def test_the_same_body_with_another_verdict_is_another_step() -> None:
    delivered = make_received("same")
    row = SimpleNamespace(delivery=bytearray(delivered.delivery), unanswerable=None)
    odd = SimpleNamespace(delivery=delivered.delivery, unanswerable="its callback URL is odd")

    assert step_of_row(row).unanswerable is None
    assert step_of_row(odd).unanswerable == "its callback URL is odd"
    assert step_of_row(row).answerable


async def test_a_delivery_is_kept_as_signed_and_read_as_the_step_it_holds(
    store: SqlStore,
) -> None:
    """The webhook stores the body byte for byte, with its columns and verdict; the step
    read back is the one the body holds. A repeat, in the same batch or later, is not new."""
    delivered, refused = make_received(), make_received(sample="single_boolean")
    refused = dataclasses.replace(refused, unanswerable="its callback URL is odd")

    assert await store.add_deliveries([delivered, refused, delivered], NOW) == [True, True, False]
    assert await store.add_deliveries([delivered], NOW + 1) == [False]

    kept = await store.run_in_transaction(
        lambda conn: conn.execute(
            text(
                "SELECT delivery, unanswerable, step_json, conversation_id, expires_at,"
                " procedure_name, post_at FROM steps WHERE step_id = :id"
            ),
            {"id": delivered.step_id},
        ).one()
    )
    assert bytes(kept.delivery) == delivered.delivery
    assert (kept.unanswerable, kept.step_json, kept.post_at) == (None, None, NOW)
    assert (kept.conversation_id, kept.expires_at, kept.procedure_name) == (
        delivered.conversation_id,
        delivered.expires_at,
        delivered.procedure_name,
    )
    record = await store.get(delivered.step_id)
    assert record is not None
    assert record.step == delivered.step()
    assert record.step.hitl_question
    assert record.step.attributes
    odd = await store.get(refused.step_id)
    assert odd is not None
    assert odd.step.unanswerable == "its callback URL is odd"
    assert not odd.step.answerable


async def test_concurrent_answers_have_exactly_one_winner(store: SqlStore) -> None:
    step = make_step()
    await store.add_steps([step], NOW)
    results = await asyncio.gather(
        *(store.claim_answer(step.step_id, make_answer(f"U{n}"), NOW) for n in range(20))
    )
    winners = [r for r in results if r.won]
    assert len(winners) == 1
    record = await store.get(step.step_id)
    assert record is not None
    assert record.answer is not None
    assert record.state == StepState.SUBMITTED
    assert all(r.record is not None and r.record.answer == record.answer for r in results)
    assert sorted(j.kind for j in await store.list_jobs(step.step_id)) == sorted(
        [JobKind.POST, JobKind.DELIVER, JobKind.REFRESH]
    )


async def test_two_stores_claiming_one_step_at_once_have_one_winner(database_url: str) -> None:
    stores = [await SqlStore.open(database_url) for _ in range(2)]
    try:
        step = make_step()
        await stores[0].add_steps([step], NOW)
        results = await asyncio.gather(
            *(
                s.claim_answer(step.step_id, make_answer(f"U{i}{n}"), NOW)
                for n in range(10)
                for i, s in enumerate(stores)
            )
        )
        assert sum(r.won for r in results) == 1
        delivers = [j for j in await stores[1].list_jobs(step.step_id) if j.kind == JobKind.DELIVER]
        assert len(delivers) == 1
    finally:
        for s in stores:
            await s.close()


async def test_settled_step_takes_no_answer(store: SqlStore) -> None:
    step = make_step()
    await store.add_steps([step], NOW)
    settled = await store.settle(
        step.step_id, StepState.EXPIRED, None, NOW, from_states=(StepState.RECEIVED,)
    )
    result = await store.claim_answer(step.step_id, make_answer(), NOW)
    assert settled
    assert not result.won
    assert result.record is not None
    assert result.record.state == StepState.EXPIRED


async def test_settle_changes_only_a_step_in_the_expected_state(store: SqlStore) -> None:
    step = make_step()
    await store.add_steps([step], NOW)
    await store.claim_answer(step.step_id, make_answer(), NOW)
    outcomes = await asyncio.gather(
        store.settle(
            step.step_id, StepState.ANSWERED, None, NOW, from_states=(StepState.SUBMITTED,)
        ),
        store.settle(step.step_id, StepState.FAILED, "x", NOW, from_states=(StepState.SUBMITTED,)),
    )
    assert sorted(outcomes) == [False, True]


async def test_post_that_lands_after_the_step_moved_on_queues_a_refresh(store: SqlStore) -> None:
    step = make_step()
    await store.add_steps([step], NOW)
    await settle(store, step, StepState.EXPIRED, NOW, from_states=(StepState.RECEIVED,))
    while claimed := await store.claim_jobs("me", NOW, 30, 10):
        for job in claimed:  # the post (now moot) and the refresh settle queued: done
            await store.finish_job(job, "me")
    assert await store.list_jobs(step.step_id) == []
    assert await store.mark_posted(step.step_id, "C1", "1.0001", None) is False
    record = await store.get(step.step_id)
    assert record is not None
    assert (record.state, record.message_ts) == (StepState.EXPIRED, "1.0001")
    assert [j.kind for j in await store.list_jobs(step.step_id)] == [JobKind.REFRESH]


async def test_state_counts_and_oldest_open_step(store: SqlStore) -> None:
    assert await store.state_counts() == {}
    assert await store.oldest_open_received_at() is None
    first, second = make_step(), make_step()
    await store.add_steps([first], NOW)
    await store.add_steps([second], NOW + 5)
    await store.claim_answer(first.step_id, make_answer(), NOW + 6)
    assert await store.state_counts() == {StepState.RECEIVED: 1, StepState.SUBMITTED: 1}
    assert await store.oldest_open_received_at() == NOW + 5
