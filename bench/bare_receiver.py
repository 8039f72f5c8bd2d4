"""The benchmark's baseline: a bare aiohttp app that only does what any Intercom webhook
receiver must do — check `X-Hub-Signature` (HMAC-SHA1 of the raw body) and parse the JSON —
then answers 200. No store, no worker, no logging: the floor the bot is compared against.

Run by bench/run.py as `python bench/bare_receiver.py` with HOST, PORT and
INTERCOM_CLIENT_SECRET in the environment; GET /healthz answers 200 once it listens.
It exits on SIGTERM/SIGINT, or when its stdin closes (the benchmark died).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import sys
from collections.abc import Callable

from aiohttp import web
from lifeline import wait_for_stop


def _is_signed(key: bytes, request: web.Request, body: bytes) -> bool:
    """`X-Hub-Signature` is the HMAC-SHA1 of the raw body."""
    expected = "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest()
    return hmac.compare_digest(expected, request.headers.get("X-Hub-Signature", ""))


def application(client_secret: str, handle: Callable[[bytes], web.Response]) -> web.Application:
    """An app whose POST /intercom/webhook answers 401 to an unsigned body and gives a
    signed one to `handle` (a plain function: no coroutine of its own per request), with
    GET /healthz, as the benchmark expects of a server (also used by naive_bot.py)."""
    key = client_secret.encode()

    async def webhook(request: web.Request) -> web.Response:
        body = await request.read()
        if not _is_signed(key, request, body):
            return web.json_response({"ok": False, "error": "bad signature"}, status=401)
        return handle(body)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/intercom/webhook", webhook)
    app.router.add_get("/healthz", healthz)
    return app


def make_app(client_secret: str) -> web.Application:
    def parse(body: bytes) -> web.Response:
        try:
            json.loads(body)
        except ValueError:
            return web.json_response({"ok": False, "error": "not JSON"}, status=400)
        return web.json_response({"ok": True})

    return application(client_secret, parse)


async def serve(host: str, port: int, client_secret: str) -> None:
    runner = web.AppRunner(make_app(client_secret), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        await wait_for_stop()
    finally:
        await runner.cleanup()


def main() -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ["PORT"])
    asyncio.run(serve(host, port, os.environ["INTERCOM_CLIENT_SECRET"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
