"""Several processes on one port (HITL_REUSE_PORT) share the work on one PostgreSQL
database: the kernel spreads connections among them, each step is stored and posted once."""

from __future__ import annotations

import asyncio

import aiohttp

from .conftest import BotFactory, Fakes
from .driver import hitl_delivery, send_webhook, step_id_of
from .helpers import messages_for, wait_posted, wait_until


async def test_two_processes_on_one_port_each_serve_and_post_every_step_once(
    fakes: Fakes, bots: BotFactory, postgres_url: str
) -> None:
    first = bots(postgres_url, HITL_REUSE_PORT="true", LOG_LEVEL="INFO")
    await first.start()
    second = bots(postgres_url, HITL_REUSE_PORT="true", LOG_LEVEL="INFO")
    await second.start(port=first.port)
    assert second.port == first.port

    async def second_serving() -> bool:
        # /healthz on the shared port may have been answered by the first process.
        return "serving" in second.log_tail(200)

    await wait_until(second_serving, "the second process to listen", timeout=15.0)

    payloads = [hitl_delivery(fakes.intercom) for _ in range(40)]

    async def deliver(payload: dict[str, object]) -> int:
        # A connection of its own each time, so the kernel picks a process each time.
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as s:
            return await send_webhook(s, first.url, payload)

    statuses = await asyncio.gather(*(deliver(p) for p in payloads))
    for payload in payloads:
        await wait_posted(postgres_url, step_id_of(payload))

    assert statuses == [200] * 40
    assert all(len(messages_for(fakes.slack, step_id_of(p))) == 1 for p in payloads)
    received = [bot.log_tail(500).count("hitl step received") for bot in (first, second)]
    assert sum(received) == 40
    assert min(received) > 0, received  # both processes took webhooks
