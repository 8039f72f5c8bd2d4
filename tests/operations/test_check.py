"""`python -m bot check` against the fakes: the good case and each failure it reports."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.check import run_checks
from bot.settings import Settings
from bot.testing.slack import FakeSlack

REPO_DIR = str(Path(__file__).resolve().parents[2])
TOKEN = "xoxb-check-token-123"
CHANNEL = "C0CHECK"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(token=TOKEN, member_channels={CHANNEL}) as fake:
        yield fake


def _settings(slack: FakeSlack, database_url: str, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": TOKEN,
        "slack_signing_secret": "check-signing-secret",
        "slack_channel_id": CHANNEL,
        "slack_api_url": slack.base_url,
        "intercom_access_token": "check-intercom-token",
        "intercom_client_secret": "check-client-secret",
        "database_url": database_url,
        **changes,
    }
    return Settings(_env_file=None, **values)


async def test_check_passes_when_everything_is_in_place(slack: FakeSlack, sqlite_url: str) -> None:
    findings = await run_checks(_settings(slack, sqlite_url))
    assert all(f.ok for f in findings), [f.line() for f in findings]
    assert any("member" in f.detail for f in findings)


async def test_check_reports_a_rejected_token(slack: FakeSlack, sqlite_url: str) -> None:
    findings = await run_checks(_settings(slack, sqlite_url, slack_bot_token="xoxb-wrong-token"))
    failed = [f for f in findings if not f.ok]
    assert failed
    assert "invalid_auth" in failed[0].detail
    assert "SLACK_BOT_TOKEN" in failed[0].detail


async def test_check_says_the_bot_is_served_over_http_without_an_app_token(
    slack: FakeSlack, sqlite_url: str
) -> None:
    findings = await run_checks(_settings(slack, sqlite_url))
    (transport,) = [f for f in findings if f.subject == "Slack transport"]

    assert transport.ok
    assert transport.detail.startswith("HTTP")


async def test_check_verifies_the_app_token_in_socket_mode(
    slack: FakeSlack, sqlite_url: str
) -> None:
    findings = await run_checks(
        _settings(slack, sqlite_url, slack_app_token=slack.app_token, slack_signing_secret=None)
    )
    (transport,) = [f for f in findings if f.subject == "Slack transport"]

    assert all(f.ok for f in findings), [f.line() for f in findings]
    assert transport.detail.startswith("Socket Mode")
    assert slack.calls_to("apps.connections.open")


async def test_check_reports_a_refused_app_token(slack: FakeSlack, sqlite_url: str) -> None:
    findings = await run_checks(_settings(slack, sqlite_url, slack_app_token="xapp-1-wrong-token"))
    failed = [f for f in findings if not f.ok]

    assert [f.subject for f in failed] == ["Slack transport"]
    assert "invalid_auth" in failed[0].detail
    assert "SLACK_APP_TOKEN" in failed[0].detail


async def test_check_says_how_to_invite_the_bot(slack: FakeSlack, sqlite_url: str) -> None:
    findings = await run_checks(_settings(slack, sqlite_url, slack_channel_id="C0ELSEWHERE"))
    failed = [f for f in findings if not f.ok]
    assert len(failed) == 1
    assert "/invite" in failed[0].detail


async def test_check_reports_an_unopenable_database(slack: FakeSlack, tmp_path: Path) -> None:
    missing_dir = tmp_path / "no" / "such" / "dir" / "hitl.db"
    findings = await run_checks(_settings(slack, f"sqlite:///{missing_dir}"))
    failed = [f for f in findings if not f.ok]
    assert [f.subject for f in failed] == ["database"]


async def test_check_command_exits_zero_only_when_all_is_well(
    slack: FakeSlack, sqlite_url: str
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "INTERCOM_"))},
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": "check-signing-secret",
        "SLACK_CHANNEL_ID": CHANNEL,
        "SLACK_API_URL": slack.base_url,
        "INTERCOM_ACCESS_TOKEN": "check-intercom-token",
        "INTERCOM_CLIENT_SECRET": "check-client-secret",
        "DATABASE_URL": sqlite_url,
    }

    async def run(extra: dict[str, str]) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "check",
            env={**env, **extra},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        out, _ = await process.communicate()
        return process.returncode or 0, out.decode()

    code, out = await run({})
    assert code == 0, out
    assert "All good." in out
    code, out = await run({"SLACK_CHANNEL_ID": "C0ELSEWHERE"})
    assert code == 1
    assert "FAIL" in out
    assert TOKEN not in out
    code, out = await run({"SLACK_BOT_TOKEN": ""})
    assert code == 1
    assert "SLACK_BOT_TOKEN" in out


@pytest.mark.parametrize("command", [[], ["serve"], ["send-test"]])
async def test_a_command_without_its_settings_says_what_is_missing_and_exits_2(
    command: list[str], tmp_path: Path
) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "INTERCOM_", "HITL_", "DATABASE_URL"))
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *command,
        env={**env, "PYTHONPATH": REPO_DIR},
        cwd=tmp_path,  # no .env here
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)

    assert process.returncode == 2, (out, err)
    lines = err.decode().splitlines()
    assert "configuration error: SLACK_BOT_TOKEN: is required" in lines
    assert "configuration error: INTERCOM_CLIENT_SECRET: is required" in lines
    assert not out
