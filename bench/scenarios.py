"""The five measurements of issue 5, each against a freshly started bot, fakes and database.

Each scenario returns plain numbers (seconds, requests/s, kB); bench/run.py formats them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from load import (
    Sent,
    blast,
    deliveries,
    first_posts,
    paced,
    percentile,
    records,
    send,
    slash_command,
    submission,
    wait_for,
)
from processes import (
    CHANNEL_ID,
    Fakes,
    Service,
    bare_receiver,
    bot_server,
    cpu_seconds,
    fakes_server,
    memory_kb,
    naive_bot,
    py_spy,
)
from sqlalchemy import Connection, literal, update

from bot.store import SqlStore
from bot.store.schema import steps

WEBHOOK = "/intercom/webhook"
SLACK_EVENTS = "/slack/events"
INSERT_BATCH = 500
SETTLE_SECONDS = 0.5  # lets the bot finish what a phase left running before the next


@dataclass(frozen=True)
class Plan:
    webhooks: int  # figure 1: unique steps sent by the concurrent senders
    concurrency: int
    warmup: int  # sent first, not measured
    steady_rate: float  # figure 2: steps per second …
    steady_seconds: float  # … for this long
    submissions: int  # figure 3: forms submitted …
    submit_rate: float  # … at this rate
    pending: int  # figure 4: open steps in the store
    hitl_calls: int  # /hitl commands timed
    burst: int  # figure 5: steps sent at once into a 1 message/s channel
    channel_rate: float
    drain_timeout: float  # how long to wait for the bot's post backlog (figure 1)
    rounds: int  # figure 1 is measured this many times, bare receiver and bot back to back


FULL = Plan(
    webhooks=3000,
    concurrency=32,
    warmup=100,
    steady_rate=20.0,
    steady_seconds=5.0,
    submissions=50,
    submit_rate=10.0,
    pending=10_000,
    hitl_calls=30,
    burst=20,
    channel_rate=1.0,
    drain_timeout=180.0,
    rounds=3,
)
QUICK = dataclasses.replace(
    FULL,
    webhooks=300,
    warmup=32,
    steady_seconds=2.0,
    submissions=10,
    hitl_calls=10,
    burst=5,
    drain_timeout=60.0,
    rounds=1,
)


@dataclass
class Bench:
    """What every scenario needs: the HTTP session, a temp dir, databases, a progress log."""

    session: aiohttp.ClientSession
    workdir: Path
    plan: Plan
    database: Callable[[str], contextlib.AbstractAsyncContextManager[str]]
    say: Callable[[str], None]
    profile_dir: Path | None = None  # with --py-spy: where each bot's profile goes
    # Figure 1 also measures bench/naive_bot.py (SQLite only): the floor issue 15 sets.
    with_naive: bool = False
    problems: list[str] = field(default_factory=list)

    def check(self, what: str, sent: Sequence[Sent], expect: Callable[[Sent], bool]) -> None:
        bad = [s for s in sent if not expect(s)]
        if bad:
            sample = bad[0].body[:200].decode(errors="replace")
            self.problems.append(f"{what}: {len(bad)} of {len(sent)} unexpected ({sample!r})")

    def missing(self, what: str, wanted: int, got: int) -> None:
        if got < wanted:
            self.problems.append(f"{what}: only {got} of {wanted} arrived in time")


@dataclass(frozen=True)
class Latency:
    p50: float
    p99: float
    count: int

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency:
        return cls(percentile(seconds, 50), percentile(seconds, 99), len(seconds))


@dataclass(frozen=True)
class RoundTrip:
    """From a request to its effect at a fake; `ack` is the request's own answer time."""

    end_to_end: Latency
    ack: Latency


@dataclass(frozen=True)
class Throughput:
    rate: float
    ack: Latency
    count: int
    cpu: float  # the server's CPU use during the blast, as a fraction of one core
    client_cpu: float  # the load generator's (this process), likewise
    started: float  # time.time() when the measured blast began


@dataclass(frozen=True)
class Memory:
    rss_kb: int
    peak_kb: int

    @classmethod
    def of(cls, service: Service) -> Memory:
        found = memory_kb(service.pid)
        return cls(found.get("VmRSS", 0), found.get("VmHWM", 0))


@dataclass(frozen=True)
class Backlog:
    posted: int
    wanted: int
    seconds: float


@dataclass(frozen=True)
class Round:
    """One round of figure 1: the bare receiver and the bot (and, on SQLite, the naive
    bot), each with the same blast."""

    bare: Throughput
    bot: Throughput
    backlog: Backlog
    naive: Throughput | None = None

    @property
    def ratio(self) -> float:
        return _ratio(self.bot.rate, self.bare.rate)

    @property
    def naive_ratio(self) -> float:
        return _ratio(self.naive.rate, self.bare.rate) if self.naive else math.nan

    @property
    def against_naive(self) -> float:
        return _ratio(self.bot.rate, self.naive.rate) if self.naive else math.nan


def _ratio(rate: float, baseline: float) -> float:
    return rate / baseline if baseline else math.nan


@dataclass(frozen=True)
class Burst:
    size: int
    drain: float
    ideal: float
    lost: int
    rate_limited: int
    duplicates: int


@contextlib.asynccontextmanager
async def bot_stack(
    bench: Bench,
    label: str,
    *,
    channel_rate: float | None = None,
    prepare: Callable[[str, Fakes], Any] | None = None,
) -> AsyncIterator[tuple[Fakes, Service]]:
    """A fresh database and fakes process, `prepare(database_url, fakes)`, then the bot."""
    async with (
        bench.database(label) as database_url,
        fakes_server(bench.workdir, channel_rate=channel_rate) as fakes,
    ):
        if prepare is not None:
            await prepare(database_url, fakes)
        async with bot_server(database_url, fakes, bench.workdir, bench.session) as bot:
            if bench.profile_dir is None:
                yield fakes, bot
                return
            profile = bench.profile_dir / f"bot-{label}-{bot.pid}.txt"
            async with py_spy(bot.pid, profile):
                yield fakes, bot


async def _webhook_blast(
    bench: Bench, server: Service, origin: str
) -> tuple[Throughput, list[str]]:
    plan = bench.plan
    url = server.url + WEBHOOK
    warmup = deliveries(origin, plan.warmup)
    measured = deliveries(origin, plan.webhooks)
    await blast(bench.session, url, warmup, min(8, plan.concurrency))
    started = time.time()
    cpu_before, client_before = cpu_seconds(server.pid), time.process_time()
    result = await blast(bench.session, url, measured, plan.concurrency)
    cpu = (cpu_seconds(server.pid) - cpu_before) / result.elapsed
    client_cpu = (time.process_time() - client_before) / result.elapsed
    bench.check("webhook acks", result.sent, lambda s: s.status == 200)
    ack = Latency.of([s.took for s in result.sent])
    throughput = Throughput(result.rate, ack, len(result.sent), cpu, client_cpu, started)
    return throughput, [d.step_id for d in measured]


# Figure 1 --------------------------------------------------------------------------------


async def paired_throughput(bench: Bench) -> tuple[list[Round], Memory]:
    """Figure 1 in `plan.rounds` rounds, each the bare receiver, the bot and (with
    `bench.with_naive`) the naive bot back to back, the order reversed every other round.
    On a shared machine whose speed drifts by the minute, a ratio is only fair between
    blasts taken together; the bare receiver's memory is from its first round."""
    rounds: list[Round] = []
    bare_memory: Memory | None = None
    for number in range(bench.plan.rounds):
        blasts: dict[str, Callable[[Bench], Awaitable[Any]]] = {
            "bare": baseline_throughput,
            "bot": bot_throughput,
        }
        if bench.with_naive:
            blasts["naive"] = naive_throughput
        order = list(blasts) if number % 2 == 0 else list(reversed(blasts))
        measured = {name: await blasts[name](bench) for name in order}
        (bare, memory), (bot, backlog) = measured["bare"], measured["bot"]
        naive = measured.get("naive")
        bare_memory = bare_memory or memory
        rounds.append(Round(bare, bot, backlog, naive))
        against = f", naive bot {naive.rate:,.0f}/s" if naive else ""
        bench.say(f"round {number + 1}: {bot.rate:,.0f}/s against {bare.rate:,.0f}/s{against}")
    assert bare_memory is not None, "a plan has at least one round"
    return rounds, bare_memory


async def baseline_throughput(bench: Bench) -> tuple[Throughput, Memory]:
    bench.say(f"bare receiver: {bench.plan.webhooks} webhooks, {bench.plan.concurrency} senders")
    async with bare_receiver(bench.workdir, bench.session) as receiver:
        throughput, _ = await _webhook_blast(bench, receiver, "http://127.0.0.1:9")
        return throughput, Memory.of(receiver)


async def naive_throughput(bench: Bench) -> Throughput:
    """The naive bot's blast, on a fresh SQLite file with fakes for its worker to post to
    (its posts are not waited for: only its intake is the floor)."""
    bench.say(f"naive bot: {bench.plan.webhooks} webhooks, {bench.plan.concurrency} senders")
    async with (
        bench.database("naive") as database_url,
        fakes_server(bench.workdir) as fakes,
        naive_bot(database_url, fakes, bench.workdir, bench.session) as naive,
    ):
        throughput, _ = await _webhook_blast(bench, naive, fakes.intercom_origin)
        return throughput


async def bot_throughput(bench: Bench) -> tuple[Throughput, Backlog]:
    plan = bench.plan
    bench.say(f"bot: {plan.webhooks} webhooks, {plan.concurrency} senders")
    async with bot_stack(bench, "throughput") as (fakes, bot):
        throughput, step_ids = await _webhook_blast(bench, bot, fakes.intercom_origin)
        bench.say(f"bot: waiting for its {len(step_ids)} posts to reach Slack")
        posts, _ = await wait_for(
            bench.session, fakes.control, step_ids, what="posts", within=plan.drain_timeout
        )
        bench.missing("posts after the throughput run", len(step_ids), len(posts))
        last = max(posts.values(), default=math.nan)
        return throughput, Backlog(len(posts), len(step_ids), last - throughput.started)


# Figures 2 and 3 -------------------------------------------------------------------------


async def _post_latency(bench: Bench, fakes: Fakes, bot: Service) -> RoundTrip:
    plan = bench.plan
    count = round(plan.steady_rate * plan.steady_seconds)
    bench.say(f"bot: {count} webhooks at {plan.steady_rate:g}/s → chat.postMessage latency")
    batch = deliveries(fakes.intercom_origin, count)
    requests = [(d.step_id, d.body, d.headers) for d in batch]
    sent = await paced(bench.session, bot.url + WEBHOOK, requests, plan.steady_rate)
    bench.check("steady webhooks", sent, lambda s: s.status == 200)
    posts, _ = await wait_for(
        bench.session, fakes.control, [s.key for s in sent], what="posts", within=30
    )
    bench.missing("steady posts", len(sent), len(posts))
    end_to_end = Latency.of([posts[s.key] - s.at for s in sent if s.key in posts])
    return RoundTrip(end_to_end, Latency.of([s.took for s in sent]))


async def _callback_latency(bench: Bench, fakes: Fakes, bot: Service) -> RoundTrip:
    plan = bench.plan
    origin = fakes.intercom_origin
    bench.say(f"bot: {plan.submissions} form submissions at {plan.submit_rate:g}/s → callback")
    batch = deliveries(origin, plan.submissions)
    await blast(bench.session, bot.url + WEBHOOK, batch, 8)
    step_ids = [d.step_id for d in batch]
    posts, _ = await wait_for(bench.session, fakes.control, step_ids, what="posts", within=30)
    bench.missing("posts before submitting", len(step_ids), len(posts))
    await asyncio.sleep(SETTLE_SECONDS)
    forms = [(d.step_id, *submission(d.step(origin))) for d in batch]
    sent = await paced(bench.session, bot.url + SLACK_EVENTS, forms, plan.submit_rate)
    bench.check("submissions", sent, lambda s: s.status == 200 and not s.body.strip())
    callbacks, _ = await wait_for(
        bench.session, fakes.control, step_ids, what="callbacks", within=30
    )
    bench.missing("callbacks", len(step_ids), len(callbacks))
    end_to_end = Latency.of([callbacks[s.key] - s.at for s in sent if s.key in callbacks])
    return RoundTrip(end_to_end, Latency.of([s.took for s in sent]))


def _counts(answer: Sent, open_steps: int) -> bool:
    text = answer.body.decode(errors="replace")
    return answer.status == 200 and (f"{open_steps:,}" in text or str(open_steps) in text)


async def _hitl_latency(bench: Bench, fakes: Fakes, bot: Service, open_steps: int) -> Latency:
    """Times `/hitl`, checking each answer counts the `open_steps` the bot should have."""
    took = []
    for _ in range(bench.plan.hitl_calls):
        body, headers = slash_command(fakes.slack_api)
        answer = await send(bench.session, bot.url + SLACK_EVENTS, "/hitl", body, headers)
        bench.check(
            f"/hitl counting {open_steps:,} open steps", [answer], lambda s: _counts(s, open_steps)
        )
        took.append(answer.took)
    return Latency.of(took)


async def round_trips(bench: Bench) -> tuple[RoundTrip, RoundTrip, Latency, Memory]:
    """Figures 2 and 3 on one bot; then /hitl and memory with figure 2's steps still open."""
    async with bot_stack(bench, "latency") as (fakes, bot):
        post = await _post_latency(bench, fakes, bot)
        callback = await _callback_latency(bench, fakes, bot)
        await asyncio.sleep(SETTLE_SECONDS)
        hitl = await _hitl_latency(bench, fakes, bot, open_steps=post.end_to_end.count)
        return post, callback, hitl, Memory.of(bot)


# Figure 4 --------------------------------------------------------------------------------


async def insert_pending(database_url: str, origin: str, count: int) -> None:
    """`count` open steps written straight to the store, as if already posted to Slack.

    They are marked posted (else the bot would post them all on start); their expiry,
    a day away, stays, as it would in a real store.
    """
    permalink = literal(f"https://fake.slack.test/archives/{CHANNEL_ID}/p") + steps.c.step_id

    def as_posted(conn: Connection) -> None:
        conn.execute(
            update(steps).values(
                state="posted",
                post_at=None,
                channel_id=CHANNEL_ID,
                message_ts="1795478400.000100",
                permalink=permalink,
            )
        )

    store = await SqlStore.open(database_url)
    try:
        for start in range(0, count, INSERT_BATCH):
            size = min(INSERT_BATCH, count - start)
            batch = [d.step(origin) for d in deliveries(origin, size)]
            await store.add_steps(batch, time.time())
        await store.run_in_transaction(as_posted)
    finally:
        await store.close()


async def pending_load(bench: Bench) -> tuple[Memory, Latency]:
    count = bench.plan.pending
    bench.say(f"bot: {count:,} open steps; /hitl x{bench.plan.hitl_calls} and memory")

    async def prepare(database_url: str, fakes: Fakes) -> None:
        started = time.perf_counter()
        await insert_pending(database_url, fakes.intercom_origin, count)
        bench.say(f"  inserted {count:,} steps in {time.perf_counter() - started:.1f} s")

    async with bot_stack(bench, "pending", prepare=prepare) as (fakes, bot):
        await asyncio.sleep(2 * SETTLE_SECONDS)  # the worker's first polls
        hitl = await _hitl_latency(bench, fakes, bot, open_steps=count)
        return Memory.of(bot), hitl


# Figure 5 --------------------------------------------------------------------------------


async def burst(bench: Bench) -> Burst:
    plan = bench.plan
    ideal = (plan.burst - 1) / plan.channel_rate
    bench.say(f"bot: burst of {plan.burst} into a {plan.channel_rate:g} msg/s channel")
    async with bot_stack(bench, "burst", channel_rate=plan.channel_rate) as (fakes, bot):
        batch = deliveries(fakes.intercom_origin, plan.burst)
        started = time.time()
        result = await blast(bench.session, bot.url + WEBHOOK, batch, plan.burst)
        bench.check("burst webhooks", result.sent, lambda s: s.status == 200)
        step_ids = [d.step_id for d in batch]
        posts, _ = await wait_for(
            bench.session, fakes.control, step_ids, what="posts", within=3 * ideal + 15
        )
        # Anything still to come would show up as a duplicate post; give it a moment.
        await asyncio.sleep(SETTLE_SECONDS)
        data = await records(bench.session, fakes.control)
        return Burst(
            size=plan.burst,
            drain=max(posts.values(), default=math.nan) - started,
            ideal=ideal,
            lost=plan.burst - len(posts),
            rate_limited=int(data["rate_limited"]),
            duplicates=len(data["posts"]) - len(first_posts(data)),
        )
