"""Prometheus metrics (`GET /metrics`), one registry per app so tests and instances never share."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

# From a quick yes/no to a step left over a weekend.
_ANSWER_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600, 72 * 3600)
_CALLBACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.webhooks = Counter(
            "hitl_webhooks_received_total",
            "Intercom webhook deliveries by outcome.",
            ["outcome"],
            registry=r,
        )
        self.steps = Gauge("hitl_steps", "Steps in the store by state.", ["state"], registry=r)
        self.answers = Counter(
            "hitl_answers_total",
            "Answers settled, by outcome (answered, expired, fulfilled_elsewhere, failed).",
            ["outcome"],
            registry=r,
        )
        self.callback_attempts = Counter(
            "hitl_callback_attempts_total",
            "Calls to Intercom's callback_url by HTTP status (0: no answer).",
            ["status"],
            registry=r,
        )
        self.slack_errors = Counter(
            "hitl_slack_api_errors_total",
            "Slack Web API calls that failed, by method and error.",
            ["method", "error"],
            registry=r,
        )
        self.pending = Gauge("hitl_pending_steps", "Steps waiting for a teammate.", registry=r)
        self.oldest_pending_age = Gauge(
            "hitl_oldest_pending_age_seconds",
            "Age of the oldest step waiting for a teammate (0 when none).",
            registry=r,
        )
        self.time_to_answer = Histogram(
            "hitl_time_to_answer_seconds",
            "From the webhook's arrival to a teammate's answer.",
            buckets=_ANSWER_BUCKETS,
            registry=r,
        )
        self.callback_latency = Histogram(
            "hitl_callback_latency_seconds",
            "Duration of one callback request to Intercom.",
            buckets=_CALLBACK_BUCKETS,
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
