"""Issue 5's benchmark: the real bot (`python -m bot`) against the loopback fakes, with the
figures printed side by side with a baseline measured in the same run. Nothing is asserted.

    python bench/run.py [--quick] [--postgres URL] [--keep] [--py-spy DIR]

Three kinds of process, so no two share an event loop: this one (the load generator, an
aiohttp client), the server under test (the bot, or bench/bare_receiver.py for the baseline,
or on SQLite bench/naive_bot.py, figure 1's floor) and bench/fakes_server.py (FakeSlack +
FakeIntercom). Every measurement gets a fresh
database, fakes process and bot. Latencies that end at a fake are the fake's recorded
arrival time minus this process's send time, both on the wall clock of the same machine.

Figures (goals from issue 5; figure 1's as issue 15 restated them):
 1. webhook throughput with 32 concurrent senders vs the bare receiver (≥0.7x, aiming at
    0.8x, on SQLite; ≥0.5x on PostgreSQL), ack p50/p99 (p99 ≤2x the bare receiver's
    + 5 ms); also how fast the worker drains the resulting posts. Measured in 3 rounds
    (1 with --quick), bare receiver and bot back to back, and judged on the medians: a
    shared machine's speed drifts by the minute, and only a ratio taken together is fair.
    On SQLite each round also measures the naive one-row bot issue 15 compares with
    (bench/naive_bot.py): the bot should be at least as lean (bot x naive ≥ 1);
 2. webhook → chat.postMessage arrival at a steady 20 steps/s (p50 ≤15 ms);
 3. view_submission → Intercom callback arrival (p50 ≤15 ms);
 4. resident memory (≤150 MB) and `/hitl` time (≤300 ms) with 10,000 open steps;
 5. a burst into a channel Slack limits to 1 message/s answering 429 + Retry-After:
    drain time vs ideal (≤1.2x), messages lost (0), 429s received.

--postgres URL (or HITL_BENCH_POSTGRES_URL) repeats everything on PostgreSQL, each
measurement in a database created for it on that server and dropped afterwards.
--py-spy DIR samples each bot with py-spy (if installed) to find where its time goes.

Files: run.py (this CLI), scenarios.py (the measurements), load.py (deliveries, senders,
reading the fakes' records), report.py (the table), processes.py (subprocesses and
databases), fakes_server.py, bare_receiver.py and naive_bot.py (the helper servers).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import aiohttp
import scenarios
from processes import StartError, postgres_database, sqlite_database
from report import Results, Row, rows, table
from scenarios import FULL, QUICK, Bench, Plan

# Machine ---------------------------------------------------------------------------------


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


def machine_lines(plan_name: str) -> list[str]:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"machine : {cpus} CPUs (nproc), {cpu_model()}, {platform.system()} {platform.release()}",
        f"python  : {platform.python_version()} ({sys.executable})",
        f"libs    : aiohttp {version('aiohttp')}, SQLAlchemy {version('sqlalchemy')}, "
        f"SQLite {sqlite3.sqlite_version}, asyncpg {version('asyncpg')}",
        f"mode    : {plan_name}",
    ]


# Measuring -------------------------------------------------------------------------------


async def measure(bench: Bench, backend: str) -> Results:
    rounds, bare_memory = await scenarios.paired_throughput(bench)
    post, callback, hitl_few, few_memory = await scenarios.round_trips(bench)
    memory, hitl = await scenarios.pending_load(bench)
    burst = await scenarios.burst(bench)
    return Results(
        backend=backend,
        plan=bench.plan,
        rounds=rounds,
        bare_memory=bare_memory,
        post=post,
        callback=callback,
        hitl_few=hitl_few,
        few_memory=few_memory,
        memory=memory,
        hitl=hitl,
        burst=burst,
    )


async def run_backend(
    name: str,
    plan: Plan,
    database: Callable[[str], contextlib.AbstractAsyncContextManager[str]],
    workdir: Path,
    profile_dir: Path | None,
) -> tuple[list[Row], list[str]]:
    def say(message: str) -> None:
        print(f"[{name} {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=plan.burst + plan.concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        bench = Bench(
            session, workdir, plan, database, say, profile_dir, with_naive=name == "SQLite"
        )
        return rows(await measure(bench, name)), bench.problems


def database_factory(
    backend: str, workdir: Path, postgres_url: str | None
) -> Callable[[str], contextlib.AbstractAsyncContextManager[str]]:
    """label → a fresh database URL (a file in `workdir`, or a database on the server)."""
    if backend == "PostgreSQL" and postgres_url:
        return lambda label: postgres_database(postgres_url, label)
    return lambda label: sqlite_database(workdir, label)


async def main_async(args: argparse.Namespace) -> int:
    task = asyncio.current_task()
    if task is not None:  # SIGTERM unwinds like Ctrl-C: every subprocess is stopped
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    plan, plan_name = (QUICK, "quick") if args.quick else (FULL, "full")
    print("\n".join(machine_lines(plan_name)), flush=True)
    backends = ["SQLite", "PostgreSQL"] if args.postgres else ["SQLite"]
    tmp = Path(tempfile.mkdtemp(prefix="hitl-bench-"))
    try:
        for backend in backends:
            workdir = tmp / backend.lower()
            workdir.mkdir()
            database = database_factory(backend, workdir, args.postgres)
            started = time.perf_counter()
            profile_dir = args.py_spy / backend.lower() if args.py_spy else None
            if profile_dir is not None:
                profile_dir.mkdir(parents=True, exist_ok=True)
            rows, problems = await run_backend(backend, plan, database, workdir, profile_dir)
            took = time.perf_counter() - started
            print(f"\n== {backend} ({plan_name} mode, {took:.0f} s)\n{table(rows)}", flush=True)
            for problem in problems:
                print(f"   ! {problem}")
    except StartError as exc:
        print(f"\nbenchmark stopped: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"\nlogs and databases kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the bot against a bare webhook receiver (issue 5)."
    )
    parser.add_argument("--quick", action="store_true", help="a fast smoke run")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get("HITL_BENCH_POSTGRES_URL"),
        help="also run on this PostgreSQL server (default: $HITL_BENCH_POSTGRES_URL)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, SQLite)")
    parser.add_argument(
        "--py-spy",
        metavar="DIR",
        type=Path,
        help="sample every bot with py-spy; folded stacks go to DIR (skews the figures)",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    try:
        return asyncio.run(main_async(parse_args(argv)))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("\ninterrupted; subprocesses stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
