"""How long Slack waits for a click's ack, over HTTP and over Socket Mode (issue 14).

    python bench/socket_ack.py [--clicks 50]

For each transport: the real bot on SQLite (LocalStack) against the loopback fakes, in
this one process and event loop; `--clicks` steps posted; then each step's **Answer**
clicked (the ack goes out at once, the form opens after it) and each step's one-click
**Yes** (the answer is claimed in the store and its delivery job written before the ack).
A click's time is from the moment "Slack" sends it until it holds the answer: the HTTP
response, or the ack on the socket. Median and p90 are printed; nothing is asserted, and
it is not part of `make test`. The fakes share the loop with the bot, so the figures
include their work too (both transports alike).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# The bot package from this checkout, imported after the path is set.
from bot.samples import load_sample
from bot.slack import ids
from bot.testing.local_stack import LocalStack, Transport


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


async def post_steps(stack: LocalStack, count: int) -> list[tuple[str, str]]:
    """`count` yes/no steps, posted: (step id, message ts) each."""
    sample = load_sample("single_boolean")
    step_ids = []
    for _ in range(count):
        payload = stack.hitl_payload(sample)
        answer = await stack.send_webhook(payload)
        assert answer.status == 200, answer.body
        step_ids.append(payload["data"]["item"]["step_id"])
    await stack.slack.wait_for("chat.postMessage", count=count, timeout=60)
    posted = []
    for step_id in step_ids:
        for _attempt in range(600):
            record = await stack.store.get(step_id)
            if record is not None and record.message_ts:
                posted.append((step_id, record.message_ts))
                break
            await asyncio.sleep(0.05)
    return posted


async def time_clicks(
    stack: LocalStack, steps: list[tuple[str, str]], action_id: str
) -> list[float]:
    seconds = []
    for step_id, ts in steps:
        started = time.perf_counter()
        answer = await stack.click(step_id, action_id, message_ts=ts)
        seconds.append(time.perf_counter() - started)
        assert answer.status == 200, answer.body
        # The form's views.open (after an Answer ack) is left to finish between clicks.
        await asyncio.sleep(0.01)
    return seconds


async def measure(transport: Transport, clicks: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        async with LocalStack(url, transport=transport) as stack:
            steps = await post_steps(stack, clicks)
            # One click first: Bolt's and the clients' first-use costs are not a click's.
            await stack.click(steps[0][0], ids.OPEN, message_ts=steps[0][1])
            answer = await time_clicks(stack, steps, ids.OPEN)
            yes = await time_clicks(stack, steps, ids.YES)
            await stack.intercom.wait_for_callbacks(clicks, timeout=60)
    return {"Answer": answer, "Yes": yes}


def ms(value: float) -> str:
    return f"{value * 1000:.1f}"


async def main(clicks: int) -> None:
    results = {transport: await measure(transport, clicks) for transport in ("http", "socket")}
    print(f"a click's ack, {clicks} clicks each (ms)")
    print(f"{'button':<8} {'transport':<12} {'median':>8} {'p90':>8} {'max':>8}")
    for button in ("Answer", "Yes"):
        for transport, by_button in results.items():
            values = by_button[button]
            name = "HTTP" if transport == "http" else "Socket Mode"
            print(
                f"{button:<8} {name:<12} {ms(statistics.median(values)):>8} "
                f"{ms(p90(values)):>8} {ms(max(values)):>8}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=50)
    asyncio.run(main(parser.parse_args().clicks))
