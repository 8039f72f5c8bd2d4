"""Slack calls the durable jobs make beside the request message: thread replies and names.

Errors are translated as the messenger translates them: `SlackRetryable` when time or an
operator can fix it, `SlackPermanent` otherwise.
"""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import Metrics
from bot.redact import NO_SECRETS, Redactor
from bot.slack.messenger import SlackPermanent, call_slack
from bot.slack.text import FALLBACK_TEXT_MAX, mrkdwn


class SlackThreads:
    def __init__(
        self,
        client: AsyncWebClient,
        *,
        metrics: Metrics,
        redactor: Redactor = NO_SECRETS,
    ) -> None:
        self._metrics = metrics
        self._redactor = redactor
        # No retry handlers on this client: a 429 comes back for the job to wait out.
        self._client = client

    async def reply(self, channel_id: str, thread_ts: str, text_already_safe: str) -> None:
        """A short mrkdwn reply in the thread under `thread_ts` (not sent to the channel)."""
        text = mrkdwn(text_already_safe, FALLBACK_TEXT_MAX)["text"]
        await self._call(
            "chat_postMessage",
            channel=channel_id,
            thread_ts=thread_ts,
            text=text,
            unfurl_links=False,
            unfurl_media=False,
        )

    async def direct_message(self, user_id: str, text_already_safe: str) -> None:
        """A direct message from the bot to `user_id` (scope `im:write` opens the DM)."""
        opened = await self._call("conversations_open", users=user_id)
        channel = opened.get("channel")
        channel_id = channel.get("id") if isinstance(channel, dict) else None
        if not isinstance(channel_id, str):
            raise SlackPermanent(f"conversations.open gave no channel for {user_id}")
        text = mrkdwn(text_already_safe, FALLBACK_TEXT_MAX)["text"]
        await self._call("chat_postMessage", channel=channel_id, text=text, unfurl_links=False)

    async def group_members(self, usergroup: str) -> list[str]:
        """The user ids in a user group (scope `usergroups:read`)."""
        data = await self._call("usergroups_users_list", usergroup=usergroup)
        users = data.get("users")
        return [str(u) for u in users] if isinstance(users, list) else []

    async def real_name(self, user_id: str) -> str | None:
        """The user's real name from `users.info`; None when Slack will not say."""
        data = await self._call("users_info", user=user_id)
        user = data.get("user")
        if not isinstance(user, dict):
            return None
        profile = user.get("profile")
        for name in (
            user.get("real_name"),
            profile.get("real_name") if isinstance(profile, dict) else None,
        ):
            if isinstance(name, str) and name.strip():
                return name.strip()
        return None

    async def _call(self, method: str, **kwargs: object) -> dict[str, object]:
        return await call_slack(self._client, self._metrics, method, self._redactor, **kwargs)
