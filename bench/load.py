"""The load generator's pieces: signed deliveries, senders, and reading what the fakes saw.

Every step is a copy of the refund sample (three attributes) with its own step_id,
conversation_id and a callback_url on the fake Intercom; bodies are signed up front so the
senders do no more than send.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from processes import CHANNEL_ID, INTERCOM_CLIENT_SECRET, SLACK_SIGNING_SECRET

from bot.demo import scripted_values
from bot.domain import Step
from bot.intercom.webhook import parse_delivery
from bot.slack.form import build_form_view
from bot.testing import slack_payloads
from bot.testing.deliveries import fresh_delivery, step_id_of
from bot.testing.signing import (
    sign_intercom,
    slack_command_body,
    slack_form_body,
    slack_signature_headers,
)

POLL_INTERVAL = 0.05
_conversations = itertools.count(300_000_000_000_000)


@dataclass(frozen=True)
class Delivery:
    step_id: str
    body: bytes
    headers: dict[str, str]

    def step(self, intercom_origin: str) -> Step:
        step = parse_delivery(self.body, [intercom_origin]).step
        assert step is not None
        return step


def delivery(intercom_origin: str) -> Delivery:
    """A signed HITL webhook delivery for a new step (of its own conversation)."""
    payload = fresh_delivery(
        "refund_approval",
        callback_origin=intercom_origin,
        conversation_id=str(next(_conversations)),
    )
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature": sign_intercom(body, INTERCOM_CLIENT_SECRET),
    }
    return Delivery(step_id_of(payload), body, headers)


def deliveries(intercom_origin: str, count: int) -> list[Delivery]:
    return [delivery(intercom_origin) for _ in range(count)]


# Slack's side ----------------------------------------------------------------------------


def submission(step: Step, user_id: str = "U0BENCH") -> tuple[bytes, dict[str, str]]:
    """A signed view_submission of the step's form, as LocalStack.submit sends it."""
    view = build_form_view(step)
    payload = slack_payloads.view_submission(view, scripted_values(view), user_id=user_id)
    body = slack_form_body(payload)
    return body.encode(), slack_signature_headers(body, SLACK_SIGNING_SECRET)


def slash_command(slack_api: str, text: str = "") -> tuple[bytes, dict[str, str]]:
    """A signed `/hitl` slash command."""
    fields = slack_payloads.slash_command(
        text,
        user_id="U0BENCH",
        channel_id=CHANNEL_ID,
        response_url=slack_api.replace("/api/", "/response/command"),
    )
    body = slack_command_body(fields)
    return body.encode(), slack_signature_headers(body, SLACK_SIGNING_SECRET)


# Senders ---------------------------------------------------------------------------------


@dataclass
class Sent:
    """One request: when it left (time.time()), how long its answer took, its status."""

    key: str
    at: float
    took: float
    status: int
    body: bytes = b""


@dataclass
class Blast:
    elapsed: float
    sent: list[Sent] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.sent) / self.elapsed if self.elapsed > 0 else math.nan

    @property
    def failures(self) -> int:
        return sum(1 for s in self.sent if s.status != 200)


async def send(
    session: aiohttp.ClientSession, url: str, key: str, body: bytes, headers: dict[str, str]
) -> Sent:
    at = time.time()
    started = time.perf_counter()
    try:
        async with session.post(url, data=body, headers=headers) as response:
            answer = await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        answer, status = repr(exc).encode(), 0
    return Sent(key, at, time.perf_counter() - started, status, answer)


async def blast(
    session: aiohttp.ClientSession, url: str, batch: Sequence[Delivery], concurrency: int
) -> Blast:
    """Sends `batch` through `concurrency` senders, each sending its next as soon as answered."""
    queue = iter(batch)
    sent: list[Sent] = []

    async def sender() -> None:
        for item in queue:
            sent.append(await send(session, url, item.step_id, item.body, item.headers))

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return Blast(time.perf_counter() - started, sent)


async def paced(
    session: aiohttp.ClientSession,
    url: str,
    requests: Sequence[tuple[str, bytes, dict[str, str]]],
    rate: float,
) -> list[Sent]:
    """Sends (key, body, headers) at a steady `rate` per second, not waiting for answers."""
    start = time.perf_counter()
    tasks = []
    for index, (key, body, headers) in enumerate(requests):
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(session, url, key, body, headers)))
    return list(await asyncio.gather(*tasks))


# What the fakes recorded -----------------------------------------------------------------


async def records(session: aiohttp.ClientSession, control: str) -> dict[str, Any]:
    async with session.get(f"{control}/records") as response:
        response.raise_for_status()
        data: dict[str, Any] = await response.json()
        return data


def first_posts(data: dict[str, Any]) -> dict[str, float]:
    """step_id → arrival of its first successful chat.postMessage."""
    posts: dict[str, float] = {}
    for step_id, at in data["posts"]:
        posts.setdefault(step_id, at)
    return posts


def accepted_callbacks(data: dict[str, Any]) -> dict[str, float]:
    """step_id → arrival of the callback Intercom answered 200."""
    return {step_id: at for step_id, status, at in data["callbacks"] if status == 200}


async def wait_for(
    session: aiohttp.ClientSession,
    control: str,
    step_ids: Iterable[str],
    *,
    what: str,
    within: float,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Polls the fakes until every step has a post (what="posts") or an accepted callback
    (what="callbacks"), or `within` seconds pass; returns step_id → arrival, and the records."""
    wanted = set(step_ids)
    pick = first_posts if what == "posts" else accepted_callbacks
    deadline = time.monotonic() + within
    while True:
        data = await records(session, control)
        seen = {k: v for k, v in pick(data).items() if k in wanted}
        if len(seen) == len(wanted) or time.monotonic() >= deadline:
            return seen, data
        await asyncio.sleep(POLL_INTERVAL)


# Figures ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]
