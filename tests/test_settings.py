"""Settings added for who may answer, reminders and the audit note: parsed, or refused clearly."""

from __future__ import annotations

from typing import Any

import pytest

from bot.settings import SettingsError, load_settings
from bot.slack.mentions import remind_mention

REQUIRED = {
    "SLACK_BOT_TOKEN": "xoxb-settings-test",
    "SLACK_SIGNING_SECRET": "secret",
    "SLACK_CHANNEL_ID": "C0SETTINGS",
    "INTERCOM_ACCESS_TOKEN": "token",
    "INTERCOM_CLIENT_SECRET": "secret",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)

    def set_env(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_env


def test_new_settings_are_off_by_default(env: Any) -> None:
    settings = load_settings()

    assert settings.slack_allowed_users == []
    assert settings.slack_allowed_usergroup is None
    assert settings.hitl_remind_after is None
    assert settings.hitl_remind_mention is None
    assert settings.intercom_admin_id is None


def test_allowed_users_are_read_comma_separated(env: Any) -> None:
    env(SLACK_ALLOWED_USERS=" U0ALICE, U0BOB ,", SLACK_ALLOWED_USERGROUP="S0TEAM")

    settings = load_settings()

    assert settings.slack_allowed_users == ["U0ALICE", "U0BOB"]
    assert settings.slack_allowed_usergroup == "S0TEAM"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SLACK_ALLOWED_USERS", "alice,bob"),
        ("SLACK_ALLOWED_USERGROUP", "@support"),
        ("HITL_REMIND_AFTER", "-5"),
        ("HITL_REMIND_MENTION", "@support please"),
    ],
)
def test_a_wrong_value_is_refused_naming_the_variable(env: Any, name: str, value: str) -> None:
    env(**{name: value})

    with pytest.raises(SettingsError) as caught:
        load_settings()

    assert any(line.startswith(f"{name}:") for line in caught.value.lines)
    assert all(value not in line for line in caught.value.lines)


@pytest.mark.parametrize(
    ("configured", "sent"),
    [
        ("<!subteam^S0TEAM>", "<!subteam^S0TEAM>"),
        ("<!subteam^S0TEAM|@support>", "<!subteam^S0TEAM|@support>"),
        ("<!here>", "<!here>"),
        ("U0ALICE,U0BOB", "<@U0ALICE> <@U0BOB>"),
        ("<@U0ALICE>, U0BOB", "<@U0ALICE> <@U0BOB>"),
    ],
)
def test_remind_mention_becomes_slack_mentions(configured: str, sent: str) -> None:
    assert remind_mention(configured) == sent


# --- Socket Mode ----------------------------------------------------------------------------

APP_TOKEN = "xapp-1-A0HITL-1-settings-test-token"


def test_without_an_app_token_slack_comes_over_http(env: Any) -> None:
    settings = load_settings()

    assert settings.slack_app_token is None
    assert settings.socket_mode is False


def test_an_app_token_turns_socket_mode_on_and_the_signing_secret_optional(
    env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    env(SLACK_APP_TOKEN=APP_TOKEN)

    settings = load_settings()

    assert settings.socket_mode is True
    assert settings.slack_signing_secret is None


def test_a_malformed_app_token_is_one_line_without_its_value(env: Any) -> None:
    env(SLACK_APP_TOKEN="xoxb-a-bot-token-by-mistake")

    with pytest.raises(SettingsError) as caught:
        load_settings()

    assert len(caught.value.lines) == 1
    (line,) = caught.value.lines
    assert line.startswith("SLACK_APP_TOKEN: must be an app-level token starting with xapp-")
    assert "xoxb-a-bot-token-by-mistake" not in line


def test_a_blank_app_token_is_unset(env: Any) -> None:
    env(SLACK_APP_TOKEN="  ")

    assert load_settings().socket_mode is False


def test_neither_signing_secret_nor_app_token_names_both(
    env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLACK_SIGNING_SECRET")

    with pytest.raises(SettingsError) as caught:
        load_settings()

    assert caught.value.lines == [
        "SLACK_SIGNING_SECRET: is required (or SLACK_APP_TOKEN, for Socket Mode)"
    ]


def test_the_app_token_is_redacted_like_every_secret(env: Any) -> None:
    from bot.redact import Redactor

    env(SLACK_APP_TOKEN=APP_TOKEN)
    redactor = Redactor(load_settings().secret_values())

    assert redactor.text(f"apps.connections.open with {APP_TOKEN}") == (
        "apps.connections.open with [redacted]"
    )
