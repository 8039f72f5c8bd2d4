"""`python -m bot` serves the bot; `check` checks a deployment; `demo` plays samples locally;
`send-test` posts a test step to the configured channel."""

from __future__ import annotations

import sys

from bot.logs import configure_logging
from bot.serve import run
from bot.settings import load_settings_or_report


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "serve"
    if command == "check":
        from bot.check import run_check

        return run_check()
    if command == "demo":
        from bot.demo import run_demo

        return run_demo()
    if command == "send-test":
        from bot.send_test import run_send_test

        return run_send_test()
    if command != "serve":
        print(
            f"unknown command {command!r}; use: python -m bot [serve|check|demo|send-test]",
            file=sys.stderr,
        )
        return 2
    settings = load_settings_or_report()
    if settings is None:
        return 2
    configure_logging(settings.log_level, settings.log_format, settings.secret_values())
    return run(settings)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
