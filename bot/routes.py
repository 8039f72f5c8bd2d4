"""The HTTP edge: Intercom's webhook and Slack's single events URL."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.intake import IntakeClosed, StepIntake
from bot.intercom.webhook import (
    MAX_BODY_BYTES,
    Ignored,
    WebhookRejected,
    check_delivery,
    signature_is_valid,
)
from bot.listener import DEFAULT_BODY_TIMEOUT_SECONDS, read_body
from bot.metrics import Metrics
from bot.slack.edge import (
    MAX_BODY_BYTES as SLACK_MAX_BODY_BYTES,
)
from bot.slack.edge import (
    Refused,
    Workspace,
    acting_team,
    check_headers,
    check_signature,
    normalised,
    parse_http_body,
    refusal_body,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntercomWebhook:
    """Verifies, parses and durably stores a delivery before answering 200.

    Steps are stored through the intake, which commits concurrent deliveries together;
    the 200 still goes out only once this delivery's own step is committed.
    """

    intake: StepIntake
    wake_worker: Callable[[], None]
    client_secret: str
    allowed_origins: list[str]
    metrics: Metrics
    body_timeout: float = DEFAULT_BODY_TIMEOUT_SECONDS

    async def handle(self, request: web.Request) -> web.Response:
        try:
            body = await read_body(request, MAX_BODY_BYTES, self.body_timeout)
        except web.HTTPRequestEntityTooLarge:
            return self._refuse(413, "body is larger than 1 MiB")
        except web.HTTPRequestTimeout:
            return self._refuse(408, "the body did not arrive in time")
        if not signature_is_valid(body, request.headers.get("X-Hub-Signature"), self.client_secret):
            return self._refuse(401, "missing or invalid X-Hub-Signature")
        try:
            step = check_delivery(body, self.allowed_origins)
        except WebhookRejected as exc:
            return self._refuse(exc.status, exc.reason)
        if isinstance(step, Ignored):
            self.metrics.webhooks.labels("ignored").inc()
            return web.json_response({"ok": True, "ignored": step.topic})
        try:
            is_new = await self.intake.add(step)
        except IntakeClosed:
            self.metrics.webhooks.labels("unavailable").inc()
            return web.json_response({"ok": False, "error": "shutting down"}, status=503)
        except Exception:
            # Logged by the intake; nothing of this step was stored, so Intercom's retry
            # of it starts afresh.
            self.metrics.webhooks.labels("unavailable").inc()
            return web.json_response({"ok": False, "error": "could not store the step"}, status=503)
        ids = {"step_id": step.step_id, "conversation_id": step.conversation_id}
        if not is_new:
            self.metrics.webhooks.labels("duplicate").inc()
            log.info("hitl step delivered again; already stored", extra=ids)
        elif step.unanswerable:
            # Still a 200: a refusal would only lose the step. It is posted as a notice.
            self.metrics.webhooks.labels("unanswerable").inc()
            log.warning(
                "hitl step received; it cannot be answered from Slack",
                extra=ids | {"reason": step.unanswerable},
            )
        else:
            self.metrics.webhooks.labels("accepted").inc()
            log.info("hitl step received", extra=ids)
        if is_new:
            self.wake_worker()
        return web.json_response({"ok": True, "step_id": step.step_id, "duplicate": not is_new})

    def _refuse(self, status: int, reason: str) -> web.Response:
        outcome = {401: "unauthorized", 413: "too_large", 408: "too_slow"}.get(status, "invalid")
        self.metrics.webhooks.labels(outcome).inc()
        log.warning("webhook refused", extra={"status": status, "reason": reason})
        return web.json_response({"ok": False, "error": reason}, status=status)


@dataclass(frozen=True)
class SlackEvents:
    """`POST /slack/events`: verified on its raw bytes, then through the edge to Bolt."""

    bolt: AsyncApp
    workspace: Workspace
    signing_secret: str
    body_timeout: float = DEFAULT_BODY_TIMEOUT_SECONDS

    async def handle(self, request: web.Request) -> web.Response:
        try:
            # Headers first: an unsigned request is refused before its body is read.
            # Slack's replay window is wall-clock time, whatever clock the bot runs on.
            timestamp, signature = check_headers(request.headers, time.time())
            try:
                body = await read_body(request, SLACK_MAX_BODY_BYTES, self.body_timeout)
            except web.HTTPRequestEntityTooLarge:
                raise Refused(413, "body is larger than 1 MiB") from None
            except web.HTTPRequestTimeout:
                raise Refused(408, "the body did not arrive in time") from None
            check_signature(timestamp, signature, body, self.signing_secret)
            payload = parse_http_body(body, request.content_type)
        except Refused as exc:
            # The body is never logged: unsigned, it is anybody's text.
            log.warning("slack request refused", extra={"status": exc.status, "reason": exc.reason})
            return web.json_response({"ok": False, "error": exc.reason}, status=exc.status)
        status, answer, headers = await dispatch(
            self.bolt, self.workspace, payload, dict(request.headers)
        )
        return web.Response(status=status, body=answer, headers=headers)


async def dispatch(
    bolt: AsyncApp, workspace: Workspace, payload: dict[str, Any], headers: dict[str, str]
) -> tuple[int, str, dict[str, str]]:
    """Hands a verified payload to Bolt once its shape and workspace pass: (status, body,
    headers) of the answer. The same for HTTP and Socket Mode."""
    try:
        payload = normalised(payload)
    except Refused as exc:
        log.warning("slack payload refused", extra={"status": exc.status, "reason": exc.reason})
        return exc.status, json.dumps({"ok": False, "error": exc.reason}), _JSON
    except RecursionError:
        log.warning("slack payload refused", extra={"status": 400, "reason": "nested too deeply"})
        return 400, json.dumps({"ok": False, "error": "payload is nested too deeply"}), _JSON
    try:
        admitted = await workspace.admits(payload)
    except Exception as exc:
        log.warning("could not confirm the installed workspace", extra={"reason": repr(exc)})
        return 503, json.dumps({"ok": False, "error": "try again shortly"}), _JSON
    if not admitted:
        team, enterprise = acting_team(payload)
        log.warning(
            "slack request from another workspace refused",
            extra={"team_id": team, "enterprise_id": enterprise},
        )
        status, body = refusal_body(payload, "not the installed workspace")
        return status, json.dumps(body), _JSON
    # Parsed and checked here; Bolt need not verify or parse again ("socket_mode" is how
    # Bolt takes a payload that is already a dict).
    bolt_headers: dict[str, str | Sequence[str]] = dict(headers)
    request = AsyncBoltRequest(body=payload, headers=bolt_headers, mode="socket_mode")
    response = await bolt.async_dispatch(request)
    content_type = response.headers.get("content-type", ["application/json"])[0]
    return response.status, response.body, {"Content-Type": content_type}


_JSON = {"Content-Type": "application/json"}
