"""Links into Intercom's web app: the payload's own `conversation_url` when it is Intercom's,
else one built on the regional host that matches the step's API origin. Never anywhere else.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from bot.domain import Step

APP_HOSTS = frozenset({"app.intercom.com", "app.eu.intercom.com", "app.au.intercom.com"})
_APP_HOST_BY_API_HOST = {
    "api.eu.intercom.io": "app.eu.intercom.com",
    "api.au.intercom.io": "app.au.intercom.com",
}
_DEFAULT_APP_HOST = "app.intercom.com"
# Printable ASCII without space, backslash or the characters that end a Slack link token:
# what a browser and Slack read is then exactly what was checked.
_PLAIN_URL = re.compile(r"[!#-;=?-\[\]-{}~]+")
_URL_MAX = 2000


def intercom_app_url(value: object) -> str | None:
    """`value` if it is an https URL on one of Intercom's app hosts, else None."""
    if not isinstance(value, str) or len(value) > _URL_MAX or not _PLAIN_URL.fullmatch(value):
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme != "https" or port not in (None, 443) or parts.username or parts.password:
        return None
    if (parts.hostname or "") not in APP_HOSTS or parts.netloc.lower() != parts.hostname:
        return None
    return value


def built_conversation_url(
    app_id: str | None, conversation_id: str, callback_url: str
) -> str | None:
    """The inbox link Intercom documents, or None when the workspace (app_id) is unknown."""
    if not app_id or not conversation_id:
        return None
    try:
        api_host = (urlsplit(callback_url).hostname or "").lower()
    except ValueError:
        api_host = ""
    app_host = _APP_HOST_BY_API_HOST.get(api_host, _DEFAULT_APP_HOST)
    return (
        f"https://{app_host}/a/inbox/{quote(app_id, safe='')}/inbox/shared/all/conversation/"
        f"{quote(conversation_id, safe='')}"
    )


def inbox_link(step: Step) -> str | None:
    """Where a teammate opens the step's conversation in Intercom (None for a test step)."""
    if step.test:
        return None
    return step.conversation_url or built_conversation_url(
        step.app_id, step.conversation_id, step.callback_url
    )
