"""`python -m bot` in Socket Mode: a malformed or refused app token is one line at start,
exit 2, no traceback, the token never printed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.testing.slack import FakeSlack

REPO_DIR = str(Path(__file__).resolve().parents[2])
BOT_TOKEN = "xoxb-socket-start-token"
APP_TOKEN = "xapp-1-A0HITL-1-socket-start-token"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(token=BOT_TOKEN, app_token=APP_TOKEN) as fake:
        yield fake


def environment(slack: FakeSlack, tmp_path: Path, app_token: str) -> dict[str, str]:
    kept = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "INTERCOM_", "HITL_", "DATABASE_URL"))
    }
    return {
        **kept,
        "PYTHONPATH": REPO_DIR,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": app_token,
        "SLACK_CHANNEL_ID": "C0SOCKET",
        "SLACK_API_URL": slack.base_url,
        "INTERCOM_ACCESS_TOKEN": "placeholder-intercom-token",
        "INTERCOM_CLIENT_SECRET": "placeholder-client-secret",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'hitl.db'}",
        "HOST": "127.0.0.1",
        "PORT": "0",
    }


async def run_bot(env: dict[str, str], cwd: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, err.decode()


@pytest.mark.parametrize(
    ("app_token", "expected"),
    [
        ("xoxb-not-an-app-token", "SLACK_APP_TOKEN: must be an app-level token"),
        ("xapp-1-A0HITL-1-revoked", "SLACK_APP_TOKEN: Slack refused it (invalid_auth)"),
    ],
    ids=["malformed", "refused"],
)
async def test_a_bad_app_token_is_one_line_at_start_and_exit_2(
    slack: FakeSlack, tmp_path: Path, app_token: str, expected: str
) -> None:
    code, err = await run_bot(environment(slack, tmp_path, app_token), tmp_path)

    assert code == 2, err
    errors = [line for line in err.splitlines() if line.startswith("configuration error:")]
    assert len(errors) == 1, err
    assert expected in errors[0]
    assert "Traceback" not in err
    assert app_token not in err
