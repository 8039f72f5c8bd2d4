"""The HTTP edge: Intercom's webhook and Slack's single events URL."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot.intake import IntakeClosed, StepIntake
from bot.intercom.webhook import (
    MAX_BODY_BYTES,
    WebhookRejected,
    parse_delivery,
    signature_is_valid,
)
from bot.metrics import Metrics

log = logging.getLogger(__name__)


class IntercomWebhook:
    """Verifies, parses and durably stores a delivery before answering 200.

    Steps are stored through the intake, which commits concurrent deliveries together;
    the 200 still goes out only once this delivery's own step is committed.
    """

    def __init__(
        self,
        intake: StepIntake,
        wake_worker: Callable[[], None],
        *,
        client_secret: str,
        allowed_origins: list[str],
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics or Metrics()
        self._intake = intake
        self._wake_worker = wake_worker
        self._client_secret = client_secret
        self._allowed_origins = allowed_origins

    async def handle(self, request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return self._refuse(413, "body is larger than 1 MiB")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._refuse(413, "body is larger than 1 MiB")
        if not signature_is_valid(
            body, request.headers.get("X-Hub-Signature"), self._client_secret
        ):
            return self._refuse(401, "missing or invalid X-Hub-Signature")
        try:
            delivery = parse_delivery(body, self._allowed_origins)
        except WebhookRejected as exc:
            return self._refuse(exc.status, exc.reason)
        if delivery.step is None:
            self._metrics.webhooks.labels("ignored").inc()
            return web.json_response({"ok": True, "ignored": delivery.topic})
        step = delivery.step
        try:
            is_new = await self._intake.add(step)
        except IntakeClosed:
            self._metrics.webhooks.labels("unavailable").inc()
            return web.json_response({"ok": False, "error": "shutting down"}, status=503)
        except Exception:
            # Logged by the intake; nothing of this step was stored, so Intercom's retry
            # of it starts afresh.
            self._metrics.webhooks.labels("unavailable").inc()
            return web.json_response({"ok": False, "error": "could not store the step"}, status=503)
        ids = {"step_id": step.step_id, "conversation_id": step.conversation_id}
        if not is_new:
            self._metrics.webhooks.labels("duplicate").inc()
            log.info("hitl step delivered again; already stored", extra=ids)
        elif step.unanswerable:
            # Still a 200: a refusal would only lose the step. It is posted as a notice.
            self._metrics.webhooks.labels("unanswerable").inc()
            log.warning(
                "hitl step received; it cannot be answered from Slack",
                extra=ids | {"reason": step.unanswerable},
            )
        else:
            self._metrics.webhooks.labels("accepted").inc()
            log.info("hitl step received", extra=ids)
        if is_new:
            self._wake_worker()
        return web.json_response({"ok": True, "step_id": step.step_id, "duplicate": not is_new})

    def _refuse(self, status: int, reason: str) -> web.Response:
        outcome = {401: "unauthorized", 413: "too_large"}.get(status, "invalid")
        self._metrics.webhooks.labels(outcome).inc()
        log.warning("webhook refused", extra={"status": status, "reason": reason})
        return web.json_response({"ok": False, "error": reason}, status=status)


def slack_events_handler(bolt: AsyncApp) -> Callable[[web.Request], object]:
    async def handle(request: web.Request) -> web.Response:
        bolt_request = await to_bolt_request(request)
        bolt_response = await bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    return handle
