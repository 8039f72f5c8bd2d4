"""Who may answer: the user group's members are cached for a while, then read again."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.access import AnswerAccess
from bot.testing.slack import FakeSlack


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_usergroup_members_are_read_again_after_five_minutes() -> None:
    clock = Clock()
    async with FakeSlack() as slack:
        client = AsyncWebClient(token=slack.token, base_url=slack.base_url)
        access = AnswerAccess(usergroup="S0TEAM", clock=clock)
        slack.usergroups["S0TEAM"] = ["U0ALICE"]
        assert await access.allows("U0ALICE", client)

        slack.usergroups["S0TEAM"] = ["U0BOB"]
        clock.now = 299.0
        cached = await access.allows("U0BOB", client)
        clock.now = 301.0
        refreshed = await access.allows("U0BOB", client)

    assert (cached, refreshed) == (False, True)
    assert len(slack.calls_to("usergroups.users.list")) == 2


async def test_listed_user_may_answer_without_asking_slack() -> None:
    async with FakeSlack() as slack:
        client = AsyncWebClient(token=slack.token, base_url=slack.base_url)
        access = AnswerAccess(users=["U0ALICE"], usergroup="S0TEAM")

        assert await access.allows("U0ALICE", client)

    assert slack.calls_to("usergroups.users.list") == []


async def test_unknown_usergroup_lets_nobody_else_answer() -> None:
    async with FakeSlack() as slack:
        client = AsyncWebClient(token=slack.token, base_url=slack.base_url)

        allowed = await AnswerAccess(usergroup="S0GONE").allows("U0ALICE", client)

    assert allowed is False


async def test_no_restriction_lets_anyone_answer() -> None:
    async with FakeSlack() as slack:
        client = AsyncWebClient(token=slack.token, base_url=slack.base_url)

        assert await AnswerAccess().allows("U0ANYONE", client)
