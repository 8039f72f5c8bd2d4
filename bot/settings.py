"""The bot's configuration, read once from the environment (and `.env`) and checked at start."""

from __future__ import annotations

import re
import sys
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.intercom.origins import DEFAULT_API_ORIGINS, normalise_origin
from bot.routing import RoutesFile, read_routes_file
from bot.slack.mentions import escalation_targets, remind_mention

DEFAULT_INTERCOM_API_ORIGINS = DEFAULT_API_ORIGINS
_SLACK_ID = re.compile(r"^[A-Z0-9]{2,}$")


class SettingsError(Exception):
    """The configuration cannot run; `lines` holds one readable line per problem."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    slack_bot_token: SecretStr
    # Socket Mode (bot/socket_mode.py) when set: Slack's requests arrive over a WebSocket
    # the bot opens, so no signing secret is needed. Defined before the signing secret,
    # whose check reads it.
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = Field(default=None, validate_default=True)
    slack_channel_id: str
    slack_api_url: str = "https://slack.com/api/"

    intercom_access_token: SecretStr
    intercom_client_secret: SecretStr
    intercom_api_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_INTERCOM_API_ORIGINS)
    )

    database_url: str = "sqlite:///hitl.db"
    host: str = "0.0.0.0"  # noqa: S104 - a server meant to sit behind a load balancer
    port: int = Field(default=3000, ge=0, le=65535)

    # How long the bot keeps retrying a delivery Intercom has not refused, when the step
    # carries no expiry of its own.
    hitl_give_up_after: float = Field(default=24 * 3600, gt=0)
    # How often the worker looks for jobs written by other instances or due for retry;
    # its own jobs wake it at once.
    hitl_poll_interval: float = Field(default=1.0, gt=0)
    # Seconds a job stays leased to the instance running it (renewed while it runs): the
    # longest an instance that died holds up its jobs before another takes them over.
    hitl_job_lease: float = Field(default=20.0, ge=0.5, le=600)

    # What the listener holds open for a client (bot/listener.py): connections at once,
    # seconds for a request's headers (or an idle keep-alive), seconds for its body.
    hitl_max_connections: int = Field(default=1000, ge=1, le=1_000_000)
    hitl_header_timeout: float = Field(default=10.0, gt=0, le=300)
    hitl_body_timeout: float = Field(default=10.0, gt=0, le=300)

    # Seconds between /healthz turning 503 and the listener closing, so a load balancer
    # sees the instance leave before connections are refused. 0 for a single instance.
    hitl_drain_seconds: float = Field(default=0.0, ge=0, le=60)
    # Several processes on one port (SO_REUSEPORT): more cores for one host's instances.
    hitl_reuse_port: bool = False

    # Who may answer: user ids, and/or members of one user group. Neither set: anyone.
    slack_allowed_users: Annotated[list[str], NoDecode] = Field(default_factory=list)
    slack_allowed_usergroup: str | None = None

    # Seconds an unanswered step waits before a reminder in its thread (unset: none),
    # and who the reminder mentions (`<!subteam^S…>` or user ids `U1,U2`).
    hitl_remind_after: float | None = Field(default=None, gt=0)
    hitl_remind_mention: str | None = None

    # Working a step (README "Working a step"): how long "I'm on it" holds; the fractions
    # of an expiring step's life at which its thread mentions the route's people, its
    # escalation people get a direct message, and the last call goes out; who those
    # people are; how long an answer waits, with Undo, before it is sent (0: at once).
    hitl_claim_minutes: float = Field(default=15.0, gt=0, le=24 * 60)
    hitl_escalation: Annotated[tuple[float, float, float], NoDecode] = (0.5, 0.8, 0.95)
    hitl_escalate_to: str | None = None
    hitl_undo_seconds: float = Field(default=10.0, ge=0, le=300)

    # YAML routes (channel, mention, who may answer), read once, here; see bot/routing.py.
    hitl_routes_file: Annotated[RoutesFile | None, BeforeValidator(read_routes_file)] = None

    # The Intercom admin the audit note after an answer is written as (unset: no note).
    intercom_admin_id: str | None = None

    log_format: str = Field(default="text", pattern="^(json|text)$")
    log_level: str = Field(default="INFO", pattern="(?i)^(debug|info|warning|error|critical)$")

    def secret_values(self) -> list[str]:
        """Every secret this process holds, for the log scrubber."""
        return [
            self.slack_bot_token.get_secret_value(),
            _secret(self.slack_app_token),
            _secret(self.slack_signing_secret),
            self.intercom_access_token.get_secret_value(),
            self.intercom_client_secret.get_secret_value(),
            urlsplit(self.database_url).password or "",
        ]

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token", mode="before")
    @classmethod
    def _blank_app_token_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError(
                "must be an app-level token starting with xapp- (Basic Information → "
                "App-Level Tokens, scope connections:write)"
            )
        return value

    @field_validator("slack_signing_secret", mode="before")
    @classmethod
    def _blank_secret_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value:
            return None
        return value

    @field_validator("slack_signing_secret")
    @classmethod
    def _signing_secret_unless_socket_mode(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        # A malformed app token is absent from info.data: reported on its own line only.
        if value is None and info.data.get("slack_app_token", "malformed") is None:
            raise ValueError("is required (or SLACK_APP_TOKEN, for Socket Mode)")
        return value

    @property
    def socket_mode(self) -> bool:
        """Slack's requests arrive over Socket Mode, not at POST /slack/events."""
        return self.slack_app_token is not None

    @field_validator("slack_channel_id")
    @classmethod
    def _channel_shape(cls, value: str) -> str:
        if not _SLACK_ID.match(value.strip()):
            raise ValueError("must be a channel ID such as C0123ABCD, not a channel name")
        return value.strip()

    @field_validator("slack_api_url")
    @classmethod
    def _slack_api_url(cls, value: str) -> str:
        normalise_origin(value)
        return value if value.endswith("/") else value + "/"

    @field_validator("slack_allowed_users", mode="before")
    @classmethod
    def _split_users(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("slack_allowed_users")
    @classmethod
    def _user_ids(cls, value: list[str]) -> list[str]:
        for user_id in value:
            if not _SLACK_ID.match(user_id):
                raise ValueError("must be comma-separated user IDs such as U0123ABCD")
        return value

    @field_validator("slack_allowed_usergroup", "intercom_admin_id", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("slack_allowed_usergroup")
    @classmethod
    def _usergroup_shape(cls, value: str | None) -> str | None:
        if value is not None and not _SLACK_ID.match(value):
            raise ValueError("must be a user group ID such as S0123ABCD")
        return value

    @field_validator("hitl_remind_mention")
    @classmethod
    def _mention_shape(cls, value: str | None) -> str | None:
        if value is not None and value.strip():
            remind_mention(value)
            return value.strip()
        return None

    @field_validator("hitl_escalation", mode="before")
    @classmethod
    def _split_fractions(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return tuple(float(part) for part in value.split(",") if part.strip())
            except ValueError:
                raise ValueError("must be three fractions such as 0.5,0.8,0.95") from None
        return value

    @field_validator("hitl_escalation")
    @classmethod
    def _fractions_in_order(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if not 0 < value[0] < value[1] < value[2] < 1:
            raise ValueError("must be three fractions rising between 0 and 1, e.g. 0.5,0.8,0.95")
        return value

    @field_validator("hitl_escalate_to")
    @classmethod
    def _escalate_to_shape(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        escalation_targets(value)
        return value.strip()

    @field_validator("intercom_api_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part for part in value.split(",") if part.strip()]
        return value

    @field_validator("intercom_api_origins")
    @classmethod
    def _normalise_origins(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("needs at least one origin")
        return [normalise_origin(origin) for origin in value]

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment; every problem reported at once, without values."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_input=False, include_url=False):
            name = str(error["loc"][0]).upper() if error["loc"] else "settings"
            if error["type"] == "missing":
                messages = ["is required"]
            elif error["type"] == "value_error":
                # One line per problem a validator found (a routes file can have many).
                messages = str(error.get("ctx", {}).get("error", error["msg"])).splitlines()
            else:
                messages = [error["msg"]]
            lines += [f"{name}: {message}" for message in messages]
        raise SettingsError(lines) from None


def load_settings_or_report() -> Settings | None:
    """`load_settings` for a command line: each problem printed to stderr; None if any."""
    try:
        return load_settings()
    except SettingsError as exc:
        for line in exc.lines:
            print(f"configuration error: {line}", file=sys.stderr)
        return None
