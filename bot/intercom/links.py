"""Links into Intercom's web app, on the regional host that matches the step's API origin."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

_APP_HOSTS = {
    "api.eu.intercom.io": "https://app.eu.intercom.com",
    "api.au.intercom.io": "https://app.au.intercom.com",
}
_DEFAULT_APP_HOST = "https://app.intercom.com"


def conversation_url(app_id: str | None, conversation_id: str, callback_url: str) -> str | None:
    """The inbox link for a conversation, or None when the workspace (app_id) is unknown."""
    if not app_id:
        return None
    api_host = (urlsplit(callback_url).hostname or "").lower()
    app_host = _APP_HOSTS.get(api_host, _DEFAULT_APP_HOST)
    return (
        f"{app_host}/a/inbox/{quote(app_id, safe='')}/inbox/conversation/"
        f"{quote(conversation_id, safe='')}"
    )
