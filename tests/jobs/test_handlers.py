"""Each job handler on its own: what it does to the step, to Slack and to Intercom, and
that running it again does nothing more."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import replace

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import JobKind, StepState
from bot.errors import Permanent, Retryable
from bot.jobs.deliver import deliver_answer, give_up_delivering
from bot.jobs.expire import expire_due_steps, expire_step
from bot.jobs.note import add_audit_note
from bot.jobs.post import post_step
from bot.jobs.refresh import refresh_message
from bot.jobs.remind import remind_thread
from bot.jobs.trail import reply_in_thread
from bot.lifecycle import Effects, FollowUp
from bot.testing.intercom import Reply
from tests.store.factories import make_answer

from .conftest import CHANNEL, TOKEN, Kit


async def _posted(kit: Kit, **fields: object) -> str:
    """A stored step whose message is posted; its id."""
    step = kit.step(**fields)
    await kit.store.add_steps([step], time.time())
    job = await kit.job(step.step_id, JobKind.POST)
    await post_step(kit.services, job)
    await kit.store.finish_job(job, "test")
    return step.step_id


async def _answered(kit: Kit) -> str:
    step_id = await _posted(kit)
    await kit.store.claim_answer(step_id, make_answer(), time.time())
    return step_id


# --- post ---------------------------------------------------------------------------------


async def test_post_posts_once_and_schedules_the_first_reminder(kit: Kit) -> None:
    step_id = await _posted(kit)

    record = await kit.store.get(step_id)
    assert record is not None
    assert (record.state, record.channel_id) == (StepState.POSTED, CHANNEL)
    assert len(kit.slack.posted(CHANNEL)) == 1
    kinds = [j.kind for j in await kit.store.list_jobs(step_id)]
    assert kinds == [JobKind.REMIND]


async def test_post_run_again_keeps_the_message_it_already_posted(kit: Kit) -> None:
    step = kit.step()
    await kit.store.add_steps([step], time.time())
    job = await kit.job(step.step_id, JobKind.POST)
    await post_step(kit.services, job)
    # As if the first attempt had posted and died before the store learned it.
    retried = type(job)(**{**job.__dict__, "attempts": 1, "record": None})
    await kit.store.run_in_transaction(
        lambda conn: conn.exec_driver_sql("UPDATE steps SET message_ts = NULL, state = 'received'")
    )

    await post_step(kit.services, retried)

    assert len(kit.slack.posted(CHANNEL)) == 1


async def _link_slack_gives(kit: Kit, ts: str) -> str:
    client = AsyncWebClient(token=TOKEN, base_url=kit.slack.base_url)
    return str((await client.chat_getPermalink(channel=CHANNEL, message_ts=ts))["permalink"])


async def test_posts_link_their_message_with_one_auth_test_between_them(kit: Kit) -> None:
    """The link is the one chat.getPermalink answers, built from the workspace's URL:
    one Slack call per post, not two."""
    first, second = await _posted(kit), await _posted(kit)

    assert len(kit.slack.calls_to("auth.test")) == 1
    assert kit.slack.calls_to("chat.getPermalink") == []
    for step_id in (first, second):
        record = await kit.store.get(step_id)
        assert record is not None
        assert record.message_ts is not None
        assert record.permalink == await _link_slack_gives(kit, record.message_ts)


async def test_post_asks_slack_for_the_link_while_the_workspace_url_is_unknown(kit: Kit) -> None:
    kit.slack.fail_next("auth.test", status=503)
    step_id = await _posted(kit)

    record = await kit.store.get(step_id)
    assert record is not None
    assert record.message_ts is not None
    (asked,) = kit.slack.calls_to("chat.getPermalink")
    assert asked == {"channel": CHANNEL, "message_ts": record.message_ts}
    assert record.permalink == await _link_slack_gives(kit, record.message_ts)
    # The next post asks auth.test again, and this time builds its link.
    await _posted(kit)
    assert len(kit.slack.calls_to("auth.test")) == 1
    assert len(kit.slack.calls_to("chat.getPermalink")) == 2  # one by the bot, one above


async def test_post_that_slack_refuses_raises_for_the_worker(kit: Kit) -> None:
    step = kit.step()
    await kit.store.add_steps([step], time.time())
    kit.slack.fail_next("chat.postMessage", error="invalid_blocks")

    with pytest.raises(Permanent):
        await kit.run(
            post_step,
            step.step_id,
            JobKind.POST,
        )


# --- deliver ---------------------------------------------------------------------------


async def test_deliver_sends_the_answer_and_settles_it(kit: Kit) -> None:
    step_id = await _answered(kit)

    await kit.run(deliver_answer, step_id, JobKind.DELIVER)

    record = await kit.store.get(step_id)
    assert record is not None
    assert record.state is StepState.ANSWERED
    assert [c.step_id for c in kit.intercom.callbacks] == [step_id]
    kinds = sorted(j.kind for j in await kit.store.list_jobs(step_id))
    assert kinds == sorted([JobKind.REFRESH, JobKind.TRAIL, JobKind.NOTE])


async def test_deliver_leaves_retries_to_the_worker(kit: Kit) -> None:
    step_id = await _answered(kit)
    kit.intercom.script(step_id, Reply.rate_limited(9))

    with pytest.raises(Retryable) as raised:
        await kit.run(deliver_answer, step_id, JobKind.DELIVER)

    assert raised.value.retry_after == 9.0
    record = await kit.store.get(step_id)
    assert record is not None
    assert record.state is StepState.SUBMITTED


async def test_deliver_giving_up_says_why_on_the_step(kit: Kit) -> None:
    step_id = await _answered(kit)
    job = await kit.job(step_id, JobKind.DELIVER)

    await give_up_delivering(kit.services, job, Retryable("Intercom answered 503"))

    record = await kit.store.get(step_id)
    assert record is not None
    assert record.state is StepState.FAILED
    assert record.outcome_detail == "Gave up after 1 attempts: Intercom answered 503"


async def test_deliver_of_a_test_step_calls_nobody(kit: Kit) -> None:
    step = kit.step().model_copy(update={"test": True})
    await kit.store.add_steps([step], time.time())
    await kit.store.claim_answer(step.step_id, make_answer(), time.time())

    await kit.run(deliver_answer, step.step_id, JobKind.DELIVER)

    record = await kit.store.get(step.step_id)
    assert record is not None
    assert record.state is StepState.ANSWERED
    assert kit.intercom.callbacks == []


# --- refresh, expire --------------------------------------------------------------------


async def test_refresh_brings_the_message_in_line_with_the_step(kit: Kit) -> None:
    step_id = await _answered(kit)

    await kit.run(refresh_message, step_id, JobKind.REFRESH)

    (update,) = kit.slack.calls_to("chat.update")
    assert "Sending" in str(update["blocks"])


async def test_the_expiry_sweep_settles_an_open_step_once_its_time_has_passed(kit: Kit) -> None:
    step_id = await _posted(kit, expires_at=int(time.time()) + 3600)
    an_hour_on = dataclasses.replace(kit.services, clock=lambda: time.time() + 3601)

    await expire_due_steps(kit.services)
    assert (await kit.store.get(step_id)).state is StepState.POSTED  # type: ignore[union-attr]
    await expire_due_steps(an_hour_on)
    await expire_due_steps(an_hour_on)

    record = await kit.store.get(step_id)
    assert record is not None
    assert record.state is StepState.EXPIRED
    assert [j.kind for j in await kit.store.list_jobs(step_id)].count(JobKind.TRAIL) == 1


async def test_an_expire_job_an_earlier_version_wrote_still_settles_the_step(kit: Kit) -> None:
    step_id = await _posted(kit, expires_at=int(time.time()) + 3600)
    await kit.store.write_if_open(step_id, Effects((FollowUp(JobKind.EXPIRE, time.time()),)))
    job = await kit.run(expire_step, step_id, JobKind.EXPIRE)

    await expire_step(kit.services, job)

    record = await kit.store.get(step_id)
    assert record is not None
    assert record.state is StepState.EXPIRED
    assert [j.kind for j in await kit.store.list_jobs(step_id)].count(JobKind.TRAIL) == 1


# --- trail, remind, note -----------------------------------------------------------------


async def test_trail_tells_the_thread_how_the_step_settled(kit: Kit) -> None:
    step_id = await _answered(kit)
    await kit.run(deliver_answer, step_id, JobKind.DELIVER)

    await kit.run(reply_in_thread, step_id, JobKind.TRAIL)

    record = await kit.store.get(step_id)
    assert record is not None
    assert record.message_ts is not None
    (reply,) = kit.slack.thread_replies(CHANNEL, record.message_ts)
    assert reply["text"].startswith("✅ Answered by <@U0ALICE>")


async def test_remind_mentions_the_routes_people_and_schedules_the_next(kit: Kit) -> None:
    step_id = await _posted(kit)
    await kit.run(remind_thread, step_id, JobKind.REMIND)

    record = await kit.store.get(step_id)
    assert record is not None
    assert record.message_ts is not None
    (reply,) = kit.slack.thread_replies(CHANNEL, record.message_ts)
    assert "<@U0LEAD>" in reply["text"]
    assert record.reminders_sent == 1
    assert [j.kind for j in await kit.store.list_jobs(step_id)] == [JobKind.REMIND]


async def test_note_names_who_answered_in_the_conversation(kit: Kit) -> None:
    step_id = await _answered(kit)
    await kit.run(deliver_answer, step_id, JobKind.DELIVER)

    await kit.run(add_audit_note, step_id, JobKind.NOTE)

    (note,) = kit.intercom.notes
    assert note.body["admin_id"] == "991"
    assert "Answered in Slack by" in note.body["body"]


async def test_note_without_an_admin_writes_nothing(kit: Kit) -> None:
    step_id = await _answered(kit)
    await kit.run(deliver_answer, step_id, JobKind.DELIVER)

    without_admin = replace(kit.services, admin_id=None)
    await add_audit_note(without_admin, await kit.job(step_id, JobKind.NOTE))

    assert kit.intercom.notes == []
