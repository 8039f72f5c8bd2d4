"""`python -m bot` serves the bot; `python -m bot demo` plays the sample steps locally."""

from __future__ import annotations

import logging
import sys

from aiohttp import web

from bot.app import create_app
from bot.settings import SettingsError, load_settings


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "serve"
    if command == "demo":
        from bot.demo import run_demo

        return run_demo()
    if command != "serve":
        print(f"unknown command {command!r}; use: python -m bot [serve|demo]", file=sys.stderr)
        return 2
    try:
        settings = load_settings()
    except SettingsError as exc:
        for line in exc.lines:
            print(f"configuration error: {line}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
