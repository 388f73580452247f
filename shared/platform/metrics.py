"""Prometheus metrics of every service, exposed at ``/metrics``.

One registry per process (every service is its own process). Labels are bounded: HTTP routes are the
route templates (never raw paths), message types and refusal codes come from closed lists, and no label
carries personal data.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from shared.rules.deadlines import ARM_STEPS, PORTAL_STEPS

HTTP_REQUESTS = Counter("emhana_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram("emhana_http_request_seconds", "HTTP request handling time", ["service", "method", "route"])
BUS_MESSAGES = Counter(
    "emhana_bus_messages_total", "Bus messages handled, by type and outcome", ["service", "type", "outcome"]
)
BUS_LATENCY = Histogram("emhana_bus_message_seconds", "Bus message handling time", ["service", "type"])
REFUSALS = Counter("emhana_refusals_total", "Refusals sent, by code", ["service", "code"])
DEAD_LETTERED = Counter("emhana_dead_lettered_total", "Messages sent to a dead-letter queue", ["service", "queue"])
DROPPED = Counter(
    "emhana_sync_requests_dropped_total",
    "Synchronous requests dropped instead of dead-lettered (their callers had stopped waiting)",
    ["service", "queue"],
)
DEAD_LETTERS = Gauge("emhana_dead_letters", "Messages in a dead-letter queue", ["queue"])
DEAD_LETTER_AGE = Gauge(
    "emhana_dead_letter_oldest_age_seconds", "Age of the oldest message in a dead-letter queue (0: empty)", ["queue"]
)
DEAD_LETTER_MAX_LENGTH = Gauge("emhana_dead_letter_max_length", "Messages a dead-letter queue keeps at most")
OVERDUE = Counter("emhana_overdue_total", "Requests found past their deadline without an outcome", ["service", "kind"])
ROUTED = Counter(
    "emhana_gateway_routed_total", "Messages routed by the gateway", ["sender", "recipient", "type", "outcome"]
)
DB_COMMITS = Counter("emhana_db_commits_total", "Database transactions committed", ["service"])
# The regulation's steps (Приложение 1, tables 1 and 2): how long each took, in buckets that include every
# step's limit (so "over the limit" is a bucket boundary), and how many went over it.
STEP_BUCKETS = tuple(
    sorted(
        {0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 60.0, 300.0, 3600.0}
        | {limit.total_seconds() for _, limit in (*PORTAL_STEPS.values(), *ARM_STEPS.values())}
    )
)
STEP_SECONDS = Histogram(
    "emhana_step_seconds", "Time of a step of the regulation's diagrams", ["service", "step"], buckets=STEP_BUCKETS
)
STEP_BREACHES = Counter(
    "emhana_step_breaches_total",
    "Steps of the regulation's diagrams that took longer than their limit",
    ["service", "step"],
)
STEP_LIMIT = Gauge("emhana_step_limit_seconds", "The regulation's time limit of each step", ["service", "step"])
UP = Gauge("emhana_up", "1 while the service runs", ["service"])
LONG_POLLS = Gauge("emhana_portal_long_polls", "Long-polls waiting for a request's status to change")


def address_label(address: str) -> str:
    """Clinic addresses are many: keep the БИН (an organisation's, not personal data) but bound the rest."""
    return address if len(address) <= 40 else address[:40]


def route_of(scope: dict[str, Any]) -> str:
    """The route template that matched (``/api/v1/requests/{request_id}``), as routing recorded it in the
    scope; ``unmatched`` for anything else (so raw paths never become labels)."""
    return str(getattr(scope.get("route"), "path", "unmatched"))


class HttpMetrics:
    """ASGI middleware: count and time every HTTP request by route template and status."""

    def __init__(self, app: Any, service: str) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def recording_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = route_of(scope)
            HTTP_REQUESTS.labels(self.service, scope["method"], route, str(status["code"])).inc()
            HTTP_LATENCY.labels(self.service, scope["method"], route).observe(time.perf_counter() - started)


async def metrics_endpoint(_request: Request) -> Response:
    """The Prometheus text format of this process's metrics."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
