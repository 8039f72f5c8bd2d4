"""Figure 1's second baseline: the deliberately naive single-file bot issue 15 measures the
project against. Each webhook is one `INSERT OR IGNORE` of the step (its id and the body
as signed) on the event loop's thread, committed on its own (autocommit; WAL,
`synchronous=NORMAL`, as the bot's SQLite); no group commit, no job rows; a worker polls
the steps table once a second and posts what it finds to Slack, one call at a time.

It is what a webhook costs with nothing in front of the row: the bot should pay no more.
It does none of the bot's checks and reads nothing else of the payload, so it is a floor
for the intake, not a rival bot.

Run by bench/run.py as `python bench/naive_bot.py` with HOST, PORT, DATABASE_URL
(sqlite:///…), INTERCOM_CLIENT_SECRET and the fake Slack's SLACK_API_URL, SLACK_BOT_TOKEN
and SLACK_CHANNEL_ID in the environment; GET /healthz answers 200 once it listens. It
exits on SIGTERM/SIGINT, or when its stdin closes (the benchmark died).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import sys
import time

import aiohttp
from aiohttp import web
from bare_receiver import application
from lifeline import wait_for_stop

POLL_SECONDS = 1.0


def open_database(database_url: str) -> sqlite3.Connection:
    db = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=5000")
    db.execute(
        "CREATE TABLE IF NOT EXISTS steps (step_id TEXT PRIMARY KEY, body BLOB NOT NULL,"
        " received_at REAL NOT NULL, posted INTEGER NOT NULL DEFAULT 0)"
    )
    return db


def make_app(db: sqlite3.Connection, client_secret: str) -> web.Application:
    def store(body: bytes) -> web.Response:
        try:
            step_id = json.loads(body)["data"]["item"]["step_id"]
        except (ValueError, KeyError, TypeError):
            return web.json_response({"ok": False, "error": "not a step"}, status=400)
        db.execute(
            "INSERT OR IGNORE INTO steps (step_id, body, received_at) VALUES (?, ?, ?)",
            (str(step_id), body, time.time()),
        )
        return web.json_response({"ok": True})

    return application(client_secret, store)


async def post_new_steps(db: sqlite3.Connection, slack_api: str, token: str, channel: str) -> None:
    """The naive worker: every POLL_SECONDS, each unposted step posted in turn."""
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as session:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            for (step_id,) in db.execute("SELECT step_id FROM steps WHERE posted = 0").fetchall():
                message = {
                    "channel": channel,
                    "text": f"Fin asks a teammate (step {step_id})",
                    "metadata": {"event_type": "hitl_step", "event_payload": {"step_id": step_id}},
                }
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.post(
                        f"{slack_api}chat.postMessage", json=message, headers=headers
                    ) as response:
                        if (await response.json()).get("ok"):
                            db.execute("UPDATE steps SET posted = 1 WHERE step_id = ?", (step_id,))


async def serve(host: str, port: int) -> None:
    db = open_database(os.environ["DATABASE_URL"])
    runner = web.AppRunner(make_app(db, os.environ["INTERCOM_CLIENT_SECRET"]), access_log=None)
    await runner.setup()
    worker = asyncio.create_task(
        post_new_steps(
            db,
            os.environ["SLACK_API_URL"],
            os.environ["SLACK_BOT_TOKEN"],
            os.environ["SLACK_CHANNEL_ID"],
        )
    )
    try:
        await web.TCPSite(runner, host, port).start()
        await wait_for_stop()
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        await runner.cleanup()
        db.close()


def main() -> int:
    asyncio.run(serve(os.environ.get("HOST", "127.0.0.1"), int(os.environ["PORT"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
