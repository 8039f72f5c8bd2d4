"""A restart of the bot on the same SQLite file loses neither a pending step nor an answer.

Two app instances run one after the other on the same database and the same fakes, so the
callback_url stored before the restart still reaches the fake Intercom after it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.domain import StepState
from bot.store import SqlStore
from bot.testing.intercom import FakeIntercom, Reply
from bot.testing.local_stack import INTERCOM_TOKEN, SLACK_TOKEN, LocalStack
from bot.testing.slack import FakeSlack

from .helpers import (
    all_text,
    fresh_payload,
    item_of,
    posts_for,
    refund_state,
    send_and_wait_posted,
    step_id_of,
    wait_stored_permalink,
    wait_updated,
)


class Fakes:
    def __init__(self, slack: FakeSlack, intercom: FakeIntercom) -> None:
        self.slack = slack
        self.intercom = intercom


@pytest.fixture
async def fakes() -> AsyncIterator[Fakes]:
    """Fakes that outlive each app instance: LocalStack neither starts nor stops them."""

    async def already_running() -> None:
        return None

    async with FakeSlack(token=SLACK_TOKEN) as slack, FakeIntercom(INTERCOM_TOKEN) as intercom:
        with pytest.MonkeyPatch.context() as patch:
            for fake in (slack, intercom):
                patch.setattr(fake, "start", already_running)
                patch.setattr(fake, "stop", already_running)
            yield Fakes(slack, intercom)


def instance(sqlite_url: str, fakes: Fakes) -> LocalStack:
    return LocalStack(sqlite_url, slack=fakes.slack, intercom=fakes.intercom)


async def test_pending_step_survives_a_restart_and_can_be_answered(
    sqlite_url: str, fakes: Fakes
) -> None:
    async with instance(sqlite_url, fakes) as before:
        payload = fresh_payload(before)
        step_id = step_id_of(payload)
        await send_and_wait_posted(before, payload)
        permalink = await wait_stored_permalink(before, step_id)

    async with instance(sqlite_url, fakes) as after:
        record = await after.store.get(step_id)
        listed = all_text((await after.command()).body)
        view = await after.open_form(step_id)
        await after.submit(view, refund_state())
        (callback,) = await fakes.intercom.wait_for_callbacks(1)
        await wait_updated(after, step_id, "Answered by")

    assert record is not None
    assert record.state == StepState.POSTED
    assert item_of(payload)["conversation_id"] in listed
    assert f"<{permalink}|" in listed
    assert callback.status == 200
    assert callback.body["step_id"] == step_id
    assert len(posts_for(after, step_id)) == 1  # not posted again by the new instance


async def test_submitted_answer_survives_a_restart_and_is_delivered(
    sqlite_url: str, fakes: Fakes
) -> None:
    async with instance(sqlite_url, fakes) as before:
        payload = fresh_payload(before)
        step_id = step_id_of(payload)
        # Intercom is down for the first attempt and asks for a pause: the answer is still
        # owed when the first instance stops.
        fakes.intercom.script(step_id, Reply(503, retry_after=2))
        await send_and_wait_posted(before, payload)
        view = await before.open_form(step_id)
        await before.submit(view, refund_state(approve=False, reason=2, note="No refund"))
        await fakes.intercom.wait_for_callbacks(1, status=503)

    between = await SqlStore.open(sqlite_url)
    try:
        owed = await between.get(step_id)
    finally:
        await between.close()

    async with instance(sqlite_url, fakes) as after:
        listed = all_text((await after.command()).body)
        (accepted,) = await fakes.intercom.wait_for_callbacks(1, status=200)
        update = await wait_updated(after, step_id, "Answered by")

    assert owed is not None
    assert owed.state == StepState.SUBMITTED
    assert owed.answer is not None
    assert owed.answer.user_id == "U0ALICE"
    assert "Nothing pending" in listed
    values = [v["value"] for v in accepted.body["attribute_values"]]
    assert values == [False, "9c8d7e6f-5a4b-4c3d-9e2f-1a0b9c8d7e6f", "No refund"]
    assert "Answered by <@U0ALICE>" in all_text(update)
    assert len(fakes.intercom.accepted) == 1
