"""`python -m bot check`: tells an operator, in plain lines, whether this deployment can work."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.routing import channel_ids
from bot.settings import Settings, SettingsError, load_settings
from bot.store import SqlStore


@dataclass(frozen=True)
class Finding:
    ok: bool
    subject: str
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.subject}: {self.detail}"


async def _check_slack(settings: Settings) -> list[Finding]:
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=10,
    )
    try:
        auth = await client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown error")
        return [Finding(False, "Slack token", f"auth.test failed ({error}): check SLACK_BOT_TOKEN")]
    except OSError as exc:
        return [
            Finding(
                False,
                "Slack API",
                f"cannot reach {settings.slack_api_url} ({exc.__class__.__name__})",
            )
        ]
    findings = [
        Finding(
            True, "Slack token", f"bot user {auth.get('user_id')} in workspace {auth.get('team')}"
        )
    ]
    channels = [settings.slack_channel_id]
    if settings.hitl_routes_file is not None:
        routes = settings.hitl_routes_file.routes
        channels += [c for c in channel_ids(routes) if c not in channels]
    for channel in channels:
        findings.append(await _check_channel(client, channel))
    return findings


async def _check_transport(settings: Settings) -> Finding:
    """Which way Slack reaches the bot; in Socket Mode, whether Slack takes the app token
    (the URL it hands out is left unused: it expires on its own)."""
    if settings.slack_app_token is None:
        return Finding(
            True,
            "Slack transport",
            "HTTP: Slack posts to /slack/events, verified with SLACK_SIGNING_SECRET "
            "(set SLACK_APP_TOKEN for Socket Mode)",
        )
    client = AsyncWebClient(base_url=settings.slack_api_url, timeout=10)
    try:
        await client.apps_connections_open(app_token=settings.slack_app_token.get_secret_value())
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown error")
        return Finding(
            False,
            "Slack transport",
            f"Socket Mode: apps.connections.open failed ({error}): check SLACK_APP_TOKEN "
            "(an app-level token with connections:write) and that Socket Mode is on for "
            "the app (manifest.socket.yml)",
        )
    except OSError as exc:
        return Finding(
            False,
            "Slack transport",
            f"cannot reach {settings.slack_api_url} ({exc.__class__.__name__})",
        )
    return Finding(
        True,
        "Slack transport",
        "Socket Mode: the app token opens a socket (apps.connections.open); "
        "/slack/events is not served",
    )


async def _check_channel(client: AsyncWebClient, channel: str) -> Finding:
    try:
        info = await client.conversations_info(channel=channel)
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown error")
        hint = " (is it a channel ID such as C0123ABCD?)" if error == "channel_not_found" else ""
        return Finding(False, f"channel {channel}", f"conversations.info failed: {error}{hint}")
    conversation = info.get("channel") or {}
    if conversation.get("is_member"):
        return Finding(True, f"channel {channel}", "the bot is a member and can post")
    return Finding(
        False,
        f"channel {channel}",
        "the bot is not in this channel: open it in Slack and type "
        "`/invite @Fin Teammate` (or the bot's name), then run check again",
    )


async def _check_database(settings: Settings) -> Finding:
    if settings.database_url.startswith("sqlite:///"):
        folder = Path(settings.database_url.removeprefix("sqlite:///")).parent
        if not folder.is_dir():
            return Finding(False, "database", f"folder {folder} does not exist: create it first")
    try:
        store = await SqlStore.open(settings.database_url)
    except Exception as exc:
        return Finding(
            False, "database", f"cannot open or migrate ({exc.__class__.__name__}: {exc})"
        )
    try:
        _, pending = await store.pending(1)
    finally:
        await store.close()
    return Finding(True, "database", f"open and migrated; {pending} step(s) pending")


async def run_checks(settings: Settings) -> list[Finding]:
    findings = [Finding(True, "configuration", "all required settings present and valid")]
    findings += await _check_slack(settings)
    findings.append(await _check_transport(settings))
    findings.append(await _check_database(settings))
    return findings


def run_check() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        for line in exc.lines:
            print(Finding(False, "configuration", line).line())
        return 1
    findings = asyncio.run(run_checks(settings))
    scrub = settings.secret_values()
    for finding in findings:
        line = finding.line()
        for secret in scrub:
            if secret:
                line = line.replace(secret, "[redacted]")
        print(line)
    ok = all(f.ok for f in findings)
    print("All good." if ok else "Some checks failed; see the lines marked FAIL.")
    return 0 if ok else 1
