"""The ingress's own Prometheus metrics, served at ``GET /metrics``.

Requests by route template and status (never by raw path, so ids don't multiply the series),
their latency, and what webhooks did: started or signalled a workflow, or were duplicates. Each
app has its own registry, so several apps in one process (tests, or the embedded run) don't
collide.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest


@dataclass
class IngressMetrics:
    """One app's metrics and the registry they live in."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "peyvand_ingress_requests",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "peyvand_ingress_request_seconds",
            "time to answer an HTTP request",
            ["route"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "peyvand_ingress_webhook_events",
            "webhook events acted on, by source, kind and outcome (acted or duplicate)",
            ["source", "kind", "outcome"],
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        """The registry in Prometheus's text format."""
        return generate_latest(self.registry)
