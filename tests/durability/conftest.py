"""Durability fixtures: fakes in this process, the bot as child processes, fresh databases."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from bot.testing.intercom import FakeIntercom
from bot.testing.local_stack import INTERCOM_TOKEN, SLACK_TOKEN
from bot.testing.slack import FakeSlack

from .server import BotProcess, bot_environment


class Fakes:
    def __init__(self, slack: FakeSlack, intercom: FakeIntercom) -> None:
        self.slack = slack
        self.intercom = intercom


@pytest.fixture
async def fakes() -> AsyncIterator[Fakes]:
    async with FakeSlack(token=SLACK_TOKEN) as slack, FakeIntercom(INTERCOM_TOKEN) as intercom:
        yield Fakes(slack, intercom)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


BotFactory = Callable[..., BotProcess]


@pytest.fixture
async def bots(fakes: Fakes, tmp_path: Path) -> AsyncIterator[BotFactory]:
    """Makes bot processes on the fakes; any still running at the end are killed."""
    made: list[BotProcess] = []

    def make(database_url: str, **env: str) -> BotProcess:
        bot = BotProcess(
            bot_environment(fakes.slack, fakes.intercom, database_url, **env),
            tmp_path / f"bot-{len(made)}.log",
        )
        made.append(bot)
        return bot

    yield make
    for bot in made:
        if bot.running:
            await bot.kill()
        # Captured, so shown only when the test failed.
        print(f"===== {bot.log_path.name}\n{bot.log_tail(200)}")
