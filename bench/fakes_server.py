"""FakeSlack and FakeIntercom (bot/testing) served in their own process for bench/run.py, so
the fakes' work competes neither with the load generator's event loop nor with the bot's.

    python bench/fakes_server.py --slack-token xoxb-… --intercom-token … \
        [--channel-rate 1.0 --channel-burst 1]

Prints one JSON line once both listen: {"slack_api", "intercom_origin", "control"}.
GET <control>/records answers what the fakes recorded, with arrival times converted to the
wall clock (time.time()) so the benchmark can subtract its own send times from them:

    {"posts": [[step_id, at], ...],        # chat.postMessage answered ok, in arrival order
     "post_attempts": n, "rate_limited": n, "updates": n,
     "callbacks": [[step_id, status, at], ...]}

Exits on SIGTERM/SIGINT, or when its stdin closes (the benchmark died).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from aiohttp import web
from lifeline import wait_for_stop

from bot.testing.intercom import FakeIntercom
from bot.testing.slack import FakeSlack, SlackCall

# time.monotonic() (what the fakes record) plus this is time.time().
_WALL_OFFSET = time.time() - time.monotonic()


def _step_id_of(call: SlackCall) -> str | None:
    metadata = call.params.get("metadata")
    payload = metadata.get("event_payload") if isinstance(metadata, dict) else None
    step_id = payload.get("step_id") if isinstance(payload, dict) else None
    return step_id if isinstance(step_id, str) else None


def records(slack: FakeSlack, intercom: FakeIntercom) -> dict[str, Any]:
    attempts = [c for c in slack.calls if c.method == "chat.postMessage"]
    return {
        "posts": [[_step_id_of(c), c.at + _WALL_OFFSET] for c in attempts if not c.failed],
        "post_attempts": len(attempts),
        "rate_limited": slack.rate_limited_count,
        "updates": len(slack.calls_to("chat.update")),
        "callbacks": [[c.step_id, c.status, c.at + _WALL_OFFSET] for c in intercom.callbacks],
    }


async def start_control(slack: FakeSlack, intercom: FakeIntercom) -> web.AppRunner:
    async def handle(_request: web.Request) -> web.Response:
        return web.json_response(records(slack, intercom))

    app = web.Application()
    app.router.add_get("/records", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


async def serve(args: argparse.Namespace) -> None:
    slack = FakeSlack(
        token=args.slack_token,
        channel_rate_per_second=args.channel_rate,
        channel_burst=args.channel_burst,
    )
    intercom = FakeIntercom(access_token=args.intercom_token)
    async with slack, intercom:
        control = await start_control(slack, intercom)
        try:
            port = control.addresses[0][1]
            ready = {
                "slack_api": slack.base_url,
                "intercom_origin": intercom.origin,
                "control": f"http://127.0.0.1:{port}",
            }
            print(json.dumps(ready), flush=True)
            await wait_for_stop()
        finally:
            await control.cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slack-token", required=True)
    parser.add_argument("--intercom-token", required=True)
    parser.add_argument("--channel-rate", type=float, default=None)
    parser.add_argument("--channel-burst", type=int, default=1)
    asyncio.run(serve(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
