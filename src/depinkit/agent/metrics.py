"""Prometheus metrics of the agent, in a registry of its own.

Exposition, both optional and set in ``[metrics]``:

* a textfile (default ``<data_dir>/metrics.prom``) rewritten atomically every
  ``interval_s``, for node_exporter's textfile collector: a device usually
  already runs node_exporter, and a file needs no open port;
* an HTTP endpoint on ``host:port`` (``port = 0`` disables it).

Gauges (``pending``, ``acknowledged``, ``failed``) are read from the outbox, so
they are right after a restart; counters (``sent``, ``failed_attempts``,
``reports_signed``) count this process's work since it started.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    start_http_server,
    write_to_textfile,
)

from depinkit.agent.outbox import OracleCounts


class AgentMetrics:
    """The agent's metric families; one instance per runtime, no global registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ["oracle"]
        self.pending = Gauge(
            "depinkit_agent_reports_pending",
            "Reports in the outbox not yet acknowledged by the oracle",
            labels,
            registry=self.registry,
        )
        self.acknowledged = Gauge(
            "depinkit_agent_reports_acknowledged",
            "Reports the oracle acknowledged (stored durably), all time",
            labels,
            registry=self.registry,
        )
        self.failed = Gauge(
            "depinkit_agent_reports_rejected",
            "Reports the oracle rejected permanently, all time",
            labels,
            registry=self.registry,
        )
        self.sent = Counter(
            "depinkit_agent_reports_sent",
            "Reports posted to the oracle (each attempt counts)",
            labels,
            registry=self.registry,
        )
        self.failed_attempts = Counter(
            "depinkit_agent_failed_attempts",
            "Delivery attempts that failed transiently (network, 5xx, retryable code)",
            labels,
            registry=self.registry,
        )
        self.created = Counter(
            "depinkit_agent_reports_signed",
            "Reports signed and committed to the outbox",
            ["network", "kind"],
            registry=self.registry,
        )
        self.next_seq = Gauge(
            "depinkit_agent_next_seq",
            "Sequence number the next report will carry",
            registry=self.registry,
        )

    def observe_outbox(self, counts: list[OracleCounts], next_seq: int) -> None:
        """Refresh the gauges from the outbox's durable totals."""
        for row in counts:
            self.pending.labels(row.oracle).set(row.pending)
            self.acknowledged.labels(row.oracle).set(row.acked)
            self.failed.labels(row.oracle).set(row.failed)
        self.next_seq.set(next_seq)

    def write_textfile(self, path: Path) -> None:
        """Write the exposition atomically (prometheus_client renames a temp file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        write_to_textfile(str(path), self.registry)

    def serve(self, host: str, port: int) -> None:
        """Serve ``/metrics`` on ``host:port`` from a daemon thread."""
        start_http_server(port, addr=host, registry=self.registry)
