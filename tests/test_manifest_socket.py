"""manifest.socket.yml: Socket Mode on, no request URL anywhere, and otherwise the same app
as manifest.yml (scopes, Home tab, events, the slash command), so the two cannot drift."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
URL_KEYS = ("url", "request_url", "message_menu_options_url")


def read(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def socket_manifest() -> dict[str, Any]:
    return read("manifest.socket.yml")


@pytest.fixture(scope="module")
def http_manifest() -> dict[str, Any]:
    return read("manifest.yml")


def without_urls(value: Any) -> Any:
    """`value` with every request URL left out (and the emptied objects they leave)."""
    if isinstance(value, dict):
        return {k: without_urls(v) for k, v in value.items() if k not in URL_KEYS}
    if isinstance(value, list):
        return [without_urls(item) for item in value]
    return value


def urls_in(value: Any, where: str = "") -> list[str]:
    if isinstance(value, dict):
        found = [f"{where}.{k}" for k in value if k in URL_KEYS]
        return found + [u for k, v in value.items() for u in urls_in(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [u for i, item in enumerate(value) for u in urls_in(item, f"{where}[{i}]")]
    return []


def test_socket_mode_is_on(socket_manifest: dict[str, Any]) -> None:
    assert socket_manifest["settings"]["socket_mode_enabled"] is True


def test_no_request_url_is_left_to_fill_in(socket_manifest: dict[str, Any]) -> None:
    assert urls_in(socket_manifest) == []
    assert "YOUR-HOST" not in (ROOT / "manifest.socket.yml").read_text(encoding="utf-8")


def test_interactivity_and_the_home_event_are_on(socket_manifest: dict[str, Any]) -> None:
    settings = socket_manifest["settings"]

    assert settings["interactivity"]["is_enabled"] is True
    assert settings["event_subscriptions"]["bot_events"] == ["app_home_opened"]


def test_it_is_manifest_yml_without_its_urls_and_with_socket_mode(
    socket_manifest: dict[str, Any], http_manifest: dict[str, Any]
) -> None:
    """Scopes, features, the slash command and every other setting stay in step."""
    expected = copy.deepcopy(without_urls(http_manifest))
    expected["settings"]["socket_mode_enabled"] = True

    assert without_urls(socket_manifest) == expected
