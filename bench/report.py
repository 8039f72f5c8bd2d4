"""The results table: one row per figure, the bot beside its baseline and the issue's goal."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from scenarios import Burst, Latency, Memory, Plan, Round, RoundTrip, Throughput

MB = 1024  # kB per MB (MiB, as /proc counts)
# Bare receiver rates further apart than this between rounds: the machine's speed drifted.
UNSTEADY = 1.2


@dataclass(frozen=True)
class Results:
    backend: str  # "SQLite" or "PostgreSQL": issue 15 sets each its own rate goal
    plan: Plan
    rounds: list[Round]  # figure 1, judged on the medians over its rounds
    bare_memory: Memory
    post: RoundTrip  # figure 2
    callback: RoundTrip  # figure 3
    hitl_few: Latency  # /hitl on the figure 2-3 bot, with figure 2's steps open
    few_memory: Memory
    memory: Memory  # figure 4
    hitl: Latency
    burst: Burst  # figure 5


@dataclass(frozen=True)
class Row:
    metric: str
    bot: str
    baseline: str
    verdict: str


def ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


def ratio(bot: float, baseline: float) -> float:
    return bot / baseline if baseline and not math.isnan(baseline) else math.nan


def verdict(value: float, goal: float, *, at_most: bool, text: str) -> str:
    if math.isnan(value):
        return f"{text}: n/a"
    met = value <= goal if at_most else value >= goal
    return f"{text}: {'ok' if met else 'MISS'}"


def table(rows: list[Row]) -> str:
    header = Row("metric", "bot", "baseline", "ratio / goal")
    cells = [header, *rows]
    widths = [max(len(getattr(r, f)) for r in cells) for f in ("metric", "bot", "baseline")]

    def line(r: Row) -> str:
        parts = (r.metric.ljust(widths[0]), r.bot.rjust(widths[1]), r.baseline.rjust(widths[2]))
        return " | ".join((*parts, r.verdict)).rstrip()

    rule = "-+-".join("-" * w for w in (*widths, len(header.verdict) + 20))
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def rows(r: Results) -> list[Row]:
    return throughput_rows(r) + latency_rows(r) + memory_rows(r) + burst_rows(r)


def median(rounds: list[Round], value: Callable[[Round], float]) -> float:
    return statistics.median(value(r) for r in rounds)


def throughput_rows(r: Results) -> list[Row]:
    rounds = r.rounds
    rate_ratio = median(rounds, lambda x: x.ratio)
    bot_p99 = median(rounds, lambda x: x.bot.ack.p99)
    bare_p99 = median(rounds, lambda x: x.bare.ack.p99)
    # Issue 15's goals: at least 0.7x the bare receiver on SQLite (aiming at 0.8x), 0.5x
    # on PostgreSQL with one process, and an ack p99 within twice the bare receiver's
    # plus 5 ms.
    rate_goal, goal_text = (0.5, "≥0.5x") if r.backend == "PostgreSQL" else (0.7, "≥0.7x, aim 0.8x")
    p99_limit = 2 * bare_p99 + 0.005
    p99_within = sum(x.bot.ack.p99 <= 2 * x.bare.ack.p99 + 0.005 for x in rounds)
    several = len(rounds) > 1
    of_rounds = f"median of {len(rounds)} rounds, " if several else ""
    within = f"; {p99_within} of {len(rounds)} rounds within their own" if several else ""
    return [
        Row(
            f"1. webhooks/s, {r.plan.concurrency} senders, {rounds[0].bot.count:,} steps",
            f"{median(rounds, lambda x: x.bot.rate):,.0f}/s",
            f"{median(rounds, lambda x: x.bare.rate):,.0f}/s",
            verdict(
                rate_ratio,
                rate_goal,
                at_most=False,
                text=f"{rate_ratio:.2f}x ({of_rounds}{goal_text})",
            ),
        ),
        *round_rows(rounds),
        *naive_rows(rounds),
        Row(
            "   webhook ack p50",
            ms(median(rounds, lambda x: x.bot.ack.p50)),
            ms(median(rounds, lambda x: x.bare.ack.p50)),
            f"{median(rounds, lambda x: ratio(x.bot.ack.p50, x.bare.ack.p50)):.2f}x",
        ),
        Row(
            "   webhook ack p99",
            ms(bot_p99),
            ms(bare_p99),
            verdict(
                bot_p99,
                p99_limit,
                at_most=True,
                text=f"{ratio(bot_p99, bare_p99):.2f}x"
                f" (≤2x+5 ms = {p99_limit * 1000:.1f} ms{within})",
            ),
        ),
        Row(
            "   server CPU per webhook",
            f"{median(rounds, lambda x: micros_each(x.bot)):.0f} µs",
            f"{median(rounds, lambda x: micros_each(x.bare)):.0f} µs",
            "all its threads"
            + (
                f"; naive bot {median(rounds, lambda x: micros_each(x.naive)):.0f} µs"
                if rounds[0].naive
                else ""
            ),
        ),
        Row(
            "   server CPU during the blast",
            f"{median(rounds, lambda x: x.bot.cpu):.0%}",
            f"{median(rounds, lambda x: x.bare.cpu):.0%}",
            f"of one core; load generator {median(rounds, lambda x: x.bot.client_cpu):.0%}"
            f" / {median(rounds, lambda x: x.bare.client_cpu):.0%}",
        ),
        Row(
            "   worker: those steps posted to Slack",
            f"{median(rounds, lambda x: x.backlog.posted / x.backlog.seconds):,.0f}/s",
            "-",
            backlog_text(rounds),
        ),
    ]


def micros_each(throughput: Throughput | None) -> float:
    """The server's CPU per request during the blast, in µs."""
    if throughput is None or not throughput.rate:
        return math.nan
    return throughput.cpu / throughput.rate * 1e6


def naive_rows(rounds: list[Round]) -> list[Row]:
    """The naive bot (bench/naive_bot.py) in the same rounds: issue 15 asks that a webhook
    cost the bot no more than it costs a bare one-row insert."""
    if rounds[0].naive is None:
        return []
    naive = [x.naive for x in rounds if x.naive is not None]
    against = median(rounds, lambda x: x.against_naive)
    return [
        Row(
            "   naive one-row bot x bare",
            " ".join(f"{x.naive_ratio:.2f}x" for x in rounds),
            f"{statistics.median(t.rate for t in naive):,.0f}/s",
            f"median {median(rounds, lambda x: x.naive_ratio):.2f}x: one INSERT per webhook, "
            "nothing else (bench/naive_bot.py)",
        ),
        Row(
            "   bot x naive one-row bot",
            " ".join(f"{x.against_naive:.2f}x" for x in rounds),
            "-",
            verdict(
                against,
                1.0,
                at_most=False,
                text=f"median {against:.2f}x (≥1x: at least as lean, issue 15's title)",
            ),
        ),
    ]


def backlog_text(rounds: list[Round]) -> str:
    posted = "; ".join(f"{x.backlog.posted:,}/{x.backlog.wanted:,}" for x in rounds)
    took = [x.backlog.seconds for x in rounds]
    span = f"{min(took):.1f}-{max(took):.1f} s" if len(took) > 1 else f"{took[0]:.1f} s"
    return f"{posted} in {span} from the first send"


def round_rows(rounds: list[Round]) -> list[Row]:
    """Each round's ratio, and whether the machine held its speed between rounds."""
    if len(rounds) < 2:
        return []
    bare = [x.bare.rate for x in rounds]
    spread = max(bare) / min(bare) if min(bare) else math.inf
    steadiness = (
        f"bare receiver within {spread:.2f}x between rounds"
        if spread <= UNSTEADY
        else f"UNSTEADY machine: the bare receiver varied {spread:.2f}x between rounds; "
        "trust the paired ratios, not the rates"
    )
    return [
        Row(
            "   each round, bot x bare",
            " ".join(f"{x.ratio:.2f}x" for x in rounds),
            f"{min(bare):,.0f}-{max(bare):,.0f}/s",
            steadiness,
        )
    ]


def latency_rows(r: Results) -> list[Row]:
    post, callback = r.post.end_to_end, r.callback.end_to_end
    return [
        Row(
            f"2. webhook → postMessage p50 @{r.plan.steady_rate:g}/s",
            ms(post.p50),
            "-",
            verdict(post.p50, 0.015, at_most=True, text="≤15 ms"),
        ),
        Row(f"   webhook → postMessage p99 (n={post.count})", ms(post.p99), "-", ""),
        Row("   of which webhook ack p50", ms(r.post.ack.p50), "-", "the bot's own answer"),
        Row(
            f"3. submission → callback p50 @{r.plan.submit_rate:g}/s",
            ms(callback.p50),
            "-",
            verdict(callback.p50, 0.015, at_most=True, text="≤15 ms"),
        ),
        Row(f"   submission → callback p99 (n={callback.count})", ms(callback.p99), "-", ""),
        Row("   of which submission ack p50", ms(r.callback.ack.p50), "-", "the bot's own answer"),
    ]


def memory_rows(r: Results) -> list[Row]:
    rss_mb = r.memory.rss_kb / MB
    return [
        Row(
            f"4. RSS with {r.plan.pending:,} open steps",
            f"{rss_mb:.0f} MB",
            f"{r.bare_memory.rss_kb / MB:.0f} MB",
            verdict(rss_mb, 150, at_most=True, text="≤150 MB; baseline: bare receiver"),
        ),
        Row(
            "   peak RSS (VmHWM)",
            f"{r.memory.peak_kb / MB:.0f} MB",
            f"{r.few_memory.peak_kb / MB:.0f} MB",
            "baseline: the bot of figures 2-3",
        ),
        Row(
            f"   /hitl p50 (n={r.hitl.count})",
            ms(r.hitl.p50),
            ms(r.hitl_few.p50),
            f"baseline: /hitl with {r.post.end_to_end.count} open steps",
        ),
        Row(
            "   /hitl p99",
            ms(r.hitl.p99),
            ms(r.hitl_few.p99),
            verdict(r.hitl.p99, 0.3, at_most=True, text="≤300 ms"),
        ),
    ]


def burst_rows(r: Results) -> list[Row]:
    burst = r.burst
    drain_ratio = ratio(burst.drain, burst.ideal)
    return [
        Row(
            f"5. burst of {burst.size} @{r.plan.channel_rate:g} msg/s: drain",
            f"{burst.drain:.1f} s",
            f"{burst.ideal:.1f} s",
            verdict(drain_ratio, 1.2, at_most=True, text=f"{drain_ratio:.2f}x ideal (≤1.2x)"),
        ),
        Row(
            "   messages lost",
            str(burst.lost),
            "0",
            verdict(burst.lost, 0, at_most=True, text="must be 0"),
        ),
        Row("   429s received", str(burst.rate_limited), "-", "from the fake's rate_limited_count"),
        Row("   duplicate posts", str(burst.duplicates), "0", ""),
    ]
