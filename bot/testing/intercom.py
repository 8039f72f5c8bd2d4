"""A loopback fake of Intercom's HITL callback and conversation reply endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar

import httpx
from aiohttp import web

from bot.testing.loopback import LoopbackServer

# Default error (code, message) per HTTP status, worded as Intercom words them.
_ERRORS: Mapping[int, tuple[str, str]] = MappingProxyType(
    {
        400: ("parameter_invalid", "Invalid request body"),
        401: ("unauthorized", "Access Token Invalid"),
        403: ("forbidden", "Admin does not have access to this conversation"),
        404: ("not_found", "Resource Not Found"),
        409: ("conflict", "This HITL request has already been fulfilled"),
        429: ("rate_limit_exceeded", "Exceeded rate limit"),
        500: ("server_error", "Server error"),
        503: ("service_unavailable", "Sorry, the API service is temporarily unavailable"),
    }
)
_EXPIRED = "This HITL request has expired"
# Recorded status of a request whose connection was dropped without an answer.
DROPPED = 0


def error_list(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """An Intercom ``error.list`` body; the fake fills ``request_id`` when answering."""
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return {"type": "error.list", "errors": [error]}


def _default_body(status: int) -> dict[str, Any]:
    if status < 400:
        return {}
    fallback = _ERRORS[500] if status >= 500 else ("client_error", "Request failed")
    return error_list(*_ERRORS.get(status, fallback))


@dataclass(frozen=True)
class Reply:
    """One scripted answer; ``body`` None means the usual body for ``status``."""

    status: int = 200
    body: dict[str, Any] | None = None
    retry_after: int | None = None
    delay: float = 0.0
    drop: bool = False

    @classmethod
    def expired(cls) -> Reply:
        return cls(404, error_list("not_found", _EXPIRED))

    @classmethod
    def conflict(cls) -> Reply:
        return cls(409)

    @classmethod
    def unauthorized(cls) -> Reply:
        return cls(401)

    @classmethod
    def forbidden(cls) -> Reply:
        return cls(403)

    @classmethod
    def unavailable(cls) -> Reply:
        return cls(503)

    @classmethod
    def rate_limited(cls, retry_after: int = 1) -> Reply:
        return cls(429, retry_after=retry_after)


@dataclass
class RecordedCallback:
    """One collect_agent_input request; ``status`` is what was answered (0: dropped)."""

    conversation_id: str
    step_id: str | None
    headers: dict[str, str]
    body: Any
    status: int
    at: float


@dataclass
class RecordedNote:
    """One conversation reply request; ``status`` is what was answered (0: dropped)."""

    conversation_id: str
    headers: dict[str, str]
    body: Any
    status: int
    at: float


_Recorded = TypeVar("_Recorded", RecordedCallback, RecordedNote)


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _invalid_callback(body: Any) -> Reply | None:
    """A 400 for a body that is not a well-formed collect_agent_input request."""
    if not isinstance(body, dict):
        return Reply(400, error_list("parameter_invalid", "Body must be a JSON object"))
    step_id = body.get("step_id")
    if not isinstance(step_id, str) or not step_id:
        return Reply(400, error_list("parameter_invalid", "step_id must be a string", "step_id"))
    values = body.get("attribute_values")
    if not isinstance(values, list):
        message = "attribute_values must be an array"
        return Reply(400, error_list("parameter_invalid", message, "attribute_values"))
    for item in values:
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("identifier"), str)
            or "value" not in item
        ):
            message = "each attribute value needs an identifier and a value"
            return Reply(400, error_list("parameter_invalid", message, "attribute_values"))
    return None


class FakeIntercom(LoopbackServer):
    """Intercom's API on a loopback port: HITL callbacks and internal notes, recorded.

    Each step_id accepts its first valid callback (200 ``{}``) and answers later ones 409,
    or 404 once ``expire()``d; ``script()`` / ``script_all()`` queue other answers first.
    """

    name = "FakeIntercom"

    def __init__(self, access_token: str = "intercom-test-token") -> None:  # noqa: S107
        super().__init__()
        self.access_token = access_token
        self.callbacks: list[RecordedCallback] = []
        self.notes: list[RecordedNote] = []
        self._fulfilled: set[str] = set()
        self._expired: set[str] = set()
        self._scripts: dict[str, deque[Reply]] = {}
        self._script_all: tuple[Reply, ...] = ()
        self._script_all_given: set[str] = set()
        self._note_script: deque[Reply] = deque()
        self._request_counter = 0
        self._part_counter = 0

    # -- routes and address (serving: bot/testing/loopback.py) ------------------------------

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post(
            "/procedures/{conversation_id}/collect_agent_input", self._handle_callback
        )
        app.router.add_post("/conversations/{conversation_id}/reply", self._handle_note)

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``, standing in for ``https://api.intercom.io``."""
        return self._base_url

    def callback_url(self, conversation_id: str) -> str:
        """The ``callback_url`` a HITL webhook for this conversation would carry."""
        return f"{self.origin}/procedures/{conversation_id}/collect_agent_input"

    # -- scripting -------------------------------------------------------------------------

    def expire(self, step_id: str) -> None:
        """Answer every later callback for ``step_id`` 404 "This HITL request has expired"."""
        self._expired.add(step_id)

    def script(self, step_id: str, *replies: Reply) -> None:
        """Answer the next callbacks for ``step_id`` with ``replies``, in order."""
        self._scripts.setdefault(step_id, deque()).extend(replies)

    def script_all(self, *replies: Reply) -> None:
        """Give every step_id its own copy of ``replies``, used from its next callback on.

        The copy goes after anything ``script()`` queued for that step.
        """
        self._script_all = replies
        self._script_all_given = set()

    def script_notes(self, *replies: Reply) -> None:
        """Answer the next conversation reply (note) requests with ``replies``, in order."""
        self._note_script.extend(replies)

    # -- inspection ------------------------------------------------------------------------

    @property
    def accepted(self) -> list[RecordedCallback]:
        """The callbacks answered 200."""
        return [c for c in self.callbacks if c.status == 200]

    async def wait_for_callbacks(
        self,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the wait, part of the API
        status: int | None = None,
    ) -> list[RecordedCallback]:
        """Wait until ``count`` callbacks (answered ``status``, if given) exist; return them."""
        return await self._wait_for(self.callbacks, "callback", count, timeout, status)

    async def wait_for_notes(self, count: int = 1, **wait: Any) -> list[RecordedNote]:
        """As `wait_for_callbacks`, for notes (`timeout`, `status`)."""
        return await self._wait_for(self.notes, "note", count, **wait)

    async def _wait_for(
        self,
        records: list[_Recorded],
        what: str,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the wait
        status: int | None = None,
    ) -> list[_Recorded]:
        def matching() -> list[_Recorded]:
            return [r for r in records if status is None or r.status == status]

        def describe() -> str:
            seen = [(r.conversation_id, r.status) for r in records]
            which = "" if status is None else f" answered {status}"
            return f"wanted {count} {what}(s){which}; (conversation_id, status) seen: {seen}"

        await self._wait_until(lambda: len(matching()) >= count, timeout, describe)
        return matching()

    # -- HTTP handlers ---------------------------------------------------------------------

    async def _handle_callback(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        conversation_id = request.match_info["conversation_id"]
        body = _parse_json(await request.read())
        step_id = body.get("step_id") if isinstance(body, dict) else None
        if not isinstance(step_id, str):
            step_id = None
        reply = self._check_auth(request) or _invalid_callback(body)
        if reply is None:
            reply = self._decide(body["step_id"])
        await self._delay(reply.delay)
        self.callbacks.append(
            RecordedCallback(
                conversation_id=conversation_id,
                step_id=step_id,
                headers=dict(request.headers),
                body=body,
                status=DROPPED if reply.drop else reply.status,
                at=arrived,
            )
        )
        await self._notify()
        return self._answer(request, reply)

    async def _handle_note(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        conversation_id = request.match_info["conversation_id"]
        body = _parse_json(await request.read())
        reply = self._check_auth(request)
        if reply is None and not isinstance(body, dict):
            reply = Reply(400, error_list("parameter_invalid", "Body must be a JSON object"))
        if reply is None and self._note_script:
            reply = self._note_script.popleft()
        if reply is None:
            reply = Reply(200, self._conversation_json(conversation_id, body))
        await self._delay(reply.delay)
        self.notes.append(
            RecordedNote(
                conversation_id=conversation_id,
                headers=dict(request.headers),
                body=body,
                status=DROPPED if reply.drop else reply.status,
                at=arrived,
            )
        )
        await self._notify()
        return self._answer(request, reply)

    def _check_auth(self, request: web.Request) -> Reply | None:
        expected = f"Bearer {self.access_token}"
        return None if request.headers.get("Authorization") == expected else Reply.unauthorized()

    def _decide(self, step_id: str) -> Reply:
        reply = self._next_scripted(step_id) or self._default_reply(step_id)
        # Decided before any delay, so two racing callbacks cannot both get 200.
        if reply.status == 200 and not reply.drop:
            self._fulfilled.add(step_id)
        return reply

    def _next_scripted(self, step_id: str) -> Reply | None:
        if self._script_all and step_id not in self._script_all_given:
            self._script_all_given.add(step_id)
            self._scripts.setdefault(step_id, deque()).extend(self._script_all)
        queue = self._scripts.get(step_id)
        return queue.popleft() if queue else None

    def _default_reply(self, step_id: str) -> Reply:
        if step_id in self._expired:
            return Reply.expired()
        if step_id in self._fulfilled:
            return Reply.conflict()
        return Reply()

    async def _delay(self, seconds: float) -> None:
        if seconds > 0:
            # Waking on stop() keeps a long delay from holding the server's shutdown.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)

    def _answer(self, request: web.Request, reply: Reply) -> web.StreamResponse:
        if reply.drop:
            # Closing the socket unanswered makes the client see a disconnect; aiohttp
            # then ignores the response below, which can no longer be written.
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)
        body = reply.body if reply.body is not None else _default_body(reply.status)
        if body.get("type") == "error.list" and "request_id" not in body:
            body = {**body, "request_id": self._next_request_id()}
        retry_after = reply.retry_after
        if retry_after is None and reply.status == 429:
            retry_after = 1
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        return web.json_response(body, status=reply.status, headers=headers)

    def _next_request_id(self) -> str:
        # Counter-based so runs are reproducible; still a well-formed UUID.
        self._request_counter += 1
        return str(uuid.UUID(int=self._request_counter))

    def _conversation_json(self, conversation_id: str, body: dict[str, Any]) -> dict[str, Any]:
        self._part_counter += 1
        now = int(time.time())
        return {
            "type": "conversation",
            "id": conversation_id,
            "created_at": now,
            "updated_at": now,
            "conversation_parts": {
                "type": "conversation_part.list",
                "conversation_parts": [
                    {
                        "type": "conversation_part",
                        "id": str(self._part_counter),
                        "part_type": body.get("message_type", "note"),
                        "body": body.get("body"),
                        "created_at": now,
                        "author": {"type": "admin", "id": body.get("admin_id")},
                    }
                ],
                "total_count": 1,
            },
        }


class ToFakeIntercom(httpx.AsyncBaseTransport):
    """An httpx transport that sends requests for Intercom's own API hosts to a fake.

    The request keeps its path, headers (Host included) and body; only the address it is
    sent to changes, so a step whose `callback_url` is `https://api.intercom.io/…` (as in
    Intercom's own example) is answered, through real HTTP, by the fake on 127.0.0.1.
    """

    def __init__(self, fake_origin: str, hosts: frozenset[str]) -> None:
        fake = httpx.URL(fake_origin)
        self._scheme, self._host, self._port = fake.scheme, fake.host, fake.port
        self._hosts = hosts
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host in self._hosts:
            request.url = request.url.copy_with(
                scheme=self._scheme, host=self._host, port=self._port
            )
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
