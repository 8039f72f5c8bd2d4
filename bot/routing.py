"""Routing (`HITL_ROUTES_FILE`): which channel, mention and answerers a step gets.

The file is YAML: `routes: [{procedure, team, admin, priority, channel, mention,
allowed_users, allowed_usergroup}]`. Matchers work on Intercom's published fields:
`procedure` is a glob on `procedure_name`; `team` / `admin` a glob on `assign_to.name` or
the exact `assign_to.id`, for that `assign_to.type`; `priority` true or false. Every matcher
a route gives must match; a route with none matches every step; the first match wins;
unmatched steps use `SLACK_CHANNEL_ID` and the global settings.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from bot.domain import AssigneeType, Step
from bot.slack.access import AnswerAccess
from bot.slack.mentions import escalation_targets, remind_mention

_SLACK_ID = r"^[A-Z0-9]{2,}$"
SlackId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=_SLACK_ID)]


class RoutesError(Exception):
    """The routes file cannot be used; `lines` says why, one problem a line."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


_Glob = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


def _glob_matches(pattern: str, text: str | None) -> bool:
    return text is not None and fnmatch.fnmatchcase(text.lower(), pattern.lower())


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    procedure: _Glob | None = None
    team: _Glob | None = None
    admin: _Glob | None = None
    priority: bool | None = None
    # Unset: the step goes to SLACK_CHANNEL_ID with this route's other settings.
    channel: SlackId | None = None
    mention: str | None = None
    allowed_users: tuple[SlackId, ...] = ()
    allowed_usergroup: SlackId | None = None
    # Who the escalation DM reaches for this route's steps (as HITL_ESCALATE_TO).
    escalate_to: str | None = None

    @field_validator("procedure", "team", "admin", mode="before")
    @classmethod
    def _number_as_text(cls, value: object) -> object:
        # YAML reads `team: 814865` (an Intercom id) as a number.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("escalate_to", mode="before")
    @classmethod
    def _escalate_to_shape(cls, value: object) -> object:
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        if isinstance(value, str):
            if not value.strip():
                return None
            escalation_targets(value)
            return value.strip()
        return value

    @field_validator("mention")
    @classmethod
    def _mention_as_slack_text(cls, value: str | None) -> str | None:
        # Same forms as HITL_REMIND_MENTION: `<!subteam^S…>`, `<!here>` or user ids `U1,U2`.
        return remind_mention(value) if value is not None and value.strip() else None

    def matches(self, step: Step) -> bool:
        """Whether every matcher this route gives matches the step."""
        if self.procedure is not None and not _glob_matches(self.procedure, step.procedure_name):
            return False
        if self.team is not None and not _assigned(step, AssigneeType.TEAM, self.team):
            return False
        if self.admin is not None and not _assigned(step, AssigneeType.ADMIN, self.admin):
            return False
        return self.priority is None or self.priority == step.is_priority


def _assigned(step: Step, kind: AssigneeType, pattern: str) -> bool:
    assignee = step.assign_to
    if assignee is None or assignee.type is not kind:
        return False
    return pattern == assignee.id or _glob_matches(pattern, assignee.name)


class _RoutesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    routes: list[Route] = Field(min_length=1)


class RoutesFile(BaseModel):
    """The routes file as read at start: where it is and what it says."""

    model_config = ConfigDict(frozen=True)

    path: Path
    routes: tuple[Route, ...]


def read_routes_file(value: object) -> RoutesFile | None:
    """`HITL_ROUTES_FILE` read once, as settings are loaded: None when unset; every
    problem in it one line of the ValueError."""
    if value is None or isinstance(value, RoutesFile):
        return value
    if isinstance(value, str | Path) and str(value).strip():
        path = Path(str(value).strip())
        try:
            return RoutesFile(path=path, routes=load_routes(path))
        except RoutesError as exc:
            raise ValueError("\n".join(exc.lines)) from None
    if isinstance(value, str):
        return None
    raise ValueError("must be the path of a YAML routes file")


def load_routes(path: Path) -> tuple[Route, ...]:
    """Reads and validates the routes file; every problem is reported at once."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RoutesError([f"cannot read {path}: {exc.strerror or exc}"]) from None
    except yaml.YAMLError as exc:
        raise RoutesError([f"{path} is not valid YAML: {str(exc).splitlines()[0]}"]) from None
    try:
        return tuple(_RoutesFile.model_validate(raw).routes)
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(part) for part in error["loc"]) or "file"
            message = error["msg"]
            if error["type"] == "string_pattern_mismatch":
                message = "must be a Slack ID such as C0123ABCD / U0123ABCD / S0123ABCD"
            lines.append(f"{path}: {where}: {message}")
        raise RoutesError(lines) from None


class Router:
    """Answers, for one step, where it goes, whom reminders mention and who may answer."""

    def __init__(
        self,
        routes: tuple[Route, ...],
        *,
        default_channel: str,
        default_mention: str | None,
        default_access: AnswerAccess,
        default_escalate_to: str | None = None,
    ) -> None:
        self._routes = routes
        self._default_escalate = default_escalate_to
        self._default_channel = default_channel
        self._default_mention = default_mention
        self._default_access = default_access
        # One access object per route, so each caches its own user group's members.
        self._access = {
            index: AnswerAccess(route.allowed_users, route.allowed_usergroup)
            for index, route in enumerate(routes)
            if route.allowed_users or route.allowed_usergroup
        }

    def _match(self, step: Step) -> tuple[int, Route] | None:
        for index, route in enumerate(self._routes):
            if route.matches(step):
                return index, route
        return None

    def channel_for(self, step: Step) -> str:
        found = self._match(step)
        channel = found[1].channel if found else None
        return channel or self._default_channel

    def mention_for(self, step: Step) -> str | None:
        found = self._match(step)
        if found and found[1].mention is not None:
            return found[1].mention
        return self._default_mention

    def escalate_to_for(self, step: Step) -> tuple[tuple[str, ...], str | None]:
        """(user ids, user group) the step's escalation DM reaches; nobody when unset."""
        found = self._match(step)
        value = found[1].escalate_to if found and found[1].escalate_to else self._default_escalate
        return escalation_targets(value) if value else ((), None)

    @property
    def restricted(self) -> bool:
        """Whether some steps may be answered only by some people."""
        return self._default_access.restricted or bool(self._access)

    def access_key(self, step: Step) -> int:
        """Which access rule applies to `step`: its route's index, or -1 for the global one.
        Steps never change, so a key can be kept for as long as the routes are."""
        found = self._match(step)
        return found[0] if found and found[0] in self._access else -1

    def access_at(self, key: int) -> AnswerAccess:
        return self._access.get(key, self._default_access)

    def access_for(self, step: Step | None) -> AnswerAccess:
        found = self._match(step) if step is not None else None
        if found and found[0] in self._access:
            return self._access[found[0]]
        return self._default_access


def channel_ids(routes: tuple[Route, ...]) -> list[str]:
    """Every channel the routes post to (for `check`)."""
    return sorted({route.channel for route in routes if route.channel})


__all__ = ["Route", "Router", "RoutesError", "RoutesFile", "channel_ids", "load_routes"]
