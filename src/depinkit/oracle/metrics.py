"""Prometheus metrics of the ingest service, in a registry per app instance.

A registry per instance (not prometheus_client's global one) lets tests and
one process run several apps without duplicate-metric errors.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 10, 50, 100, 200, 500, 1000)  # reports per request


class IngestMetrics:
    """Counters and histograms the ingest updates per batch."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.accepted = Counter(
            "depinkit_ingest_reports_accepted",
            "Reports stored for the first time.",
            ["network"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "depinkit_ingest_reports_duplicate",
            "Reports already stored, acknowledged again.",
            registry=self.registry,
        )
        self.rejected = Counter(
            "depinkit_ingest_reports_rejected",
            "Reports refused, by reason code.",
            ["reason"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "depinkit_ingest_request_seconds",
            "Time to answer POST /v1/reports, commit included.",
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "depinkit_ingest_batch_reports",
            "Reports per POST /v1/reports.",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        """The text exposition format for /metrics."""
        return generate_latest(self.registry)
