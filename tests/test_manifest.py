"""manifest.yml agrees with the app: the slash command, every URL, the routes and the scopes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from aiohttp import web

from bot.app import create_app
from bot.settings import Settings

MANIFEST = Path(__file__).resolve().parent.parent / "manifest.yml"
EVENTS_PATH = "/slack/events"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return data


@pytest.fixture
async def app(sqlite_url: str) -> AsyncIterator[web.Application]:
    settings = Settings(
        _env_file=None,
        slack_bot_token="xoxb-manifest-test",
        slack_signing_secret="secret",
        slack_channel_id="C0MANIFEST",
        intercom_access_token="token",
        intercom_client_secret="secret",
        database_url=sqlite_url,
    )
    built = create_app(settings)
    # Started and cleaned up as when served, so its clients and store are closed after.
    runner = web.AppRunner(built)
    await runner.setup()
    try:
        yield built
    finally:
        await runner.cleanup()


def manifest_urls(manifest: dict[str, Any]) -> dict[str, str]:
    """Every URL Slack calls, by where it sits in the manifest."""
    urls = {
        f"slash_commands[{c['command']}].url": c["url"]
        for c in manifest["features"].get("slash_commands", [])
    }
    interactivity = manifest["settings"].get("interactivity", {})
    for key in ("request_url", "message_menu_options_url"):
        if key in interactivity:
            urls[f"interactivity.{key}"] = interactivity[key]
    events = manifest["settings"].get("event_subscriptions") or {}
    if "request_url" in events:
        urls["event_subscriptions.request_url"] = events["request_url"]
    return urls


def test_slash_command_is_hitl_with_a_usage_hint(manifest: dict[str, Any]) -> None:
    commands = manifest["features"]["slash_commands"]

    assert [c["command"] for c in commands] == ["/hitl"]
    assert commands[0]["usage_hint"].strip()
    assert commands[0]["description"].strip()


def test_interactivity_and_options_load_urls_are_set(manifest: dict[str, Any]) -> None:
    interactivity = manifest["settings"]["interactivity"]

    assert interactivity["is_enabled"] is True
    assert interactivity["request_url"]
    # external_select options (lists over 100 options) load from here.
    assert interactivity["message_menu_options_url"]


def test_every_url_points_at_slack_events(manifest: dict[str, Any]) -> None:
    urls = manifest_urls(manifest)

    assert len(urls) >= 3, urls
    for where, url in urls.items():
        parts = urlsplit(url)
        assert parts.scheme == "https", where
        assert parts.path == EVENTS_PATH, f"{where}: {url}"
        assert not parts.query, where


async def test_every_manifest_path_is_a_post_route_of_the_app(
    manifest: dict[str, Any], app: web.Application
) -> None:
    routes = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
    }

    for where, url in manifest_urls(manifest).items():
        assert ("POST", urlsplit(url).path) in routes, where


async def test_app_serves_the_contract_routes(app: web.Application) -> None:
    routes = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
    }

    assert ("POST", "/intercom/webhook") in routes
    assert ("POST", EVENTS_PATH) in routes
    assert ("GET", "/healthz") in routes


def test_bot_scopes_cover_posting_and_the_command(manifest: dict[str, Any]) -> None:
    scopes = manifest["oauth_config"]["scopes"]["bot"]

    assert "chat:write" in scopes
    assert "commands" in scopes


def test_bot_scopes_let_it_read_the_allowed_usergroup(manifest: dict[str, Any]) -> None:
    """SLACK_ALLOWED_USERGROUP is checked with usergroups.users.list."""
    assert "usergroups:read" in manifest["oauth_config"]["scopes"]["bot"]


def test_bot_scopes_let_it_send_the_escalation_dm(manifest: dict[str, Any]) -> None:
    """Escalation opens a DM with conversations.open (im:write), then posts in it."""
    assert "im:write" in manifest["oauth_config"]["scopes"]["bot"]


def test_home_tab_is_enabled_and_subscribed_to_app_home_opened(manifest: dict[str, Any]) -> None:
    events = manifest["settings"]["event_subscriptions"]

    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert events["bot_events"] == ["app_home_opened"]
    assert urlsplit(events["request_url"]).path == EVENTS_PATH


def test_app_is_served_over_http_not_socket_mode(manifest: dict[str, Any]) -> None:
    assert manifest["settings"]["socket_mode_enabled"] is False
