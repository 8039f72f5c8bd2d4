"""Who may answer a step: `SLACK_ALLOWED_USERS` and/or members of `SLACK_ALLOWED_USERGROUP`.

Checked on every click and submission on the server; a user group's members are read with
`usergroups.users.list` and cached for a few minutes (the method is rate-limited, tier 2).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

NOT_ALLOWED = (
    "Sorry, you can't answer this: only the teammates this bot is set up for can answer "
    "Fin's steps. Ask one of them, or an admin to add you."
)
MEMBERS_TTL_SECONDS = 300.0


class AnswerAccess:
    def __init__(
        self,
        users: Iterable[str] = (),
        usergroup: str | None = None,
        *,
        ttl: float = MEMBERS_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._users = frozenset(users)
        self._usergroup = usergroup
        self._ttl = ttl
        self._clock = clock
        self._members: frozenset[str] | None = None
        self._fetched_at = 0.0

    @property
    def restricted(self) -> bool:
        return bool(self._users) or self._usergroup is not None

    async def allows(self, user_id: str, client: AsyncWebClient) -> bool:
        """Whether `user_id` may answer; with no restriction configured, anyone may."""
        if not self.restricted or user_id in self._users:
            return True
        if self._usergroup is None:
            return False
        members = await self._group_members(self._usergroup, client)
        return user_id in members

    async def _group_members(self, usergroup: str, client: AsyncWebClient) -> frozenset[str]:
        now = self._clock()
        if self._members is not None and now - self._fetched_at < self._ttl:
            return self._members
        try:
            response = await client.usergroups_users_list(usergroup=usergroup)
        except (SlackApiError, TimeoutError, OSError) as exc:
            # Fail closed; a list read earlier is still better than refusing everyone.
            log.warning(
                "could not read the allowed user group's members",
                extra={"usergroup": usergroup, "reason": exc.__class__.__name__},
            )
            return self._members or frozenset()
        users = response.get("users")
        self._members = frozenset(str(u) for u in users) if isinstance(users, list) else frozenset()
        self._fetched_at = now
        return self._members
