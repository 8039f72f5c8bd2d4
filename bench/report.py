"""The results table: one row per figure, the bot beside its baseline and the issue's goal."""

from __future__ import annotations

import math
from dataclasses import dataclass

from scenarios import Backlog, Burst, Latency, Memory, Plan, RoundTrip, Throughput

MB = 1024  # kB per MB (MiB, as /proc counts)


@dataclass(frozen=True)
class Results:
    backend: str  # "SQLite" or "PostgreSQL": issue 15 sets each its own rate goal
    plan: Plan
    bare: Throughput
    bare_memory: Memory
    bot: Throughput
    backlog: Backlog
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


def throughput_rows(r: Results) -> list[Row]:
    bot, bare, backlog = r.bot, r.bare, r.backlog
    rate_ratio = ratio(bot.rate, bare.rate)
    p99_ratio = ratio(bot.ack.p99, bare.ack.p99)
    # Issue 15's goals: at least 0.7x the bare receiver on SQLite (aiming at 0.8x), 0.5x
    # on PostgreSQL with one process, and an ack p99 within twice the bare receiver's
    # plus 5 ms.
    rate_goal, goal_text = (0.5, "≥0.5x") if r.backend == "PostgreSQL" else (0.7, "≥0.7x, aim 0.8x")
    p99_limit = 2 * bare.ack.p99 + 0.005
    return [
        Row(
            f"1. webhooks/s, {r.plan.concurrency} senders, {bot.count:,} steps",
            f"{bot.rate:,.0f}/s",
            f"{bare.rate:,.0f}/s",
            verdict(rate_ratio, rate_goal, at_most=False, text=f"{rate_ratio:.2f}x ({goal_text})"),
        ),
        Row(
            "   webhook ack p50",
            ms(bot.ack.p50),
            ms(bare.ack.p50),
            f"{ratio(bot.ack.p50, bare.ack.p50):.2f}x",
        ),
        Row(
            "   webhook ack p99",
            ms(bot.ack.p99),
            ms(bare.ack.p99),
            verdict(
                bot.ack.p99,
                p99_limit,
                at_most=True,
                text=f"{p99_ratio:.2f}x (≤2x+5 ms = {p99_limit * 1000:.1f} ms)",
            ),
        ),
        Row(
            "   server CPU during the blast",
            f"{bot.cpu:.0%}",
            f"{bare.cpu:.0%}",
            f"of one core; load generator {bot.client_cpu:.0%} / {bare.client_cpu:.0%}",
        ),
        Row(
            "   worker: those steps posted to Slack",
            f"{backlog.posted / backlog.seconds:,.0f}/s",
            "-",
            f"{backlog.posted:,}/{backlog.wanted:,} in {backlog.seconds:.1f} s from the first send",
        ),
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
