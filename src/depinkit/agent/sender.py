"""Delivery of outbox reports to every oracle, until each one acknowledges.

One :class:`Sender` step posts at most one batch to each oracle that is not
backing off. What happens next depends on the answer:

* no answer (connection refused, timeout), HTTP 408/429 or 5xx: the oracle is
  unavailable; nothing changes state, the oracle's backoff grows
  (exponential, capped, jittered from the injected RNG) and resets on its
  next answer;
* per-report results: ``accepted`` and ``duplicate`` mark the report acked
  (a duplicate means the oracle already stored it, e.g. the agent was killed
  between the oracle's commit and its own); ``rejected`` with a code in
  :data:`RETRYABLE_CODES` (the oracle cannot judge the report *yet*, e.g. its
  chain indexer has not seen the device's onboarding) retries that report
  later with its own backoff; any other code is permanent and marks the
  report failed with that code, never to be retried;
* another 4xx for a whole batch (e.g. ``too_large`` when the oracle's batch
  limit is lower than ours): the batch is halved and each half sent, down to
  single reports, so one bad report cannot block the rest; a single report
  refused that way is marked failed with the response's error code.

The HTTP client is injected: production passes an ``httpx.Client``; tests can
give it an ``httpx.MockTransport`` to script an oracle's answers, and
integration tests use the real ingest service on loopback.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import msgspec

from depinkit.agent.backoff import Backoff, backoff_delay_ms
from depinkit.agent.clock import Clock
from depinkit.agent.config import OracleEndpoint, SenderSettings
from depinkit.agent.metrics import AgentMetrics
from depinkit.agent.outbox import Outbox, Outgoing

_log = logging.getLogger("depinkit.agent.sender")

REPORTS_PATH = "/v1/reports"
MSGPACK = "application/msgpack"

ACK_STATUSES = frozenset({"accepted", "duplicate"})  # the oracle holds the report durably
RETRYABLE_CODES = frozenset(
    {
        "unknown_device",  # the oracle's indexer has not seen the onboarding yet
        "inactive_device",  # likewise for a (re-)activation
        "timestamp_in_future",  # device clock ahead of the oracle's: judge it again later
    }
)  # every other per-report code is permanent (see docs/oracle/ingest.md for the list)
TRANSIENT_HTTP = frozenset({408, 425, 429})  # plus every 5xx
TOO_LARGE_HTTP = 413  # the batch exceeds the oracle's limit


class ReportResult(msgspec.Struct, frozen=True):
    """One report's outcome in an ingest response (extra fields are ignored)."""

    status: str
    id: str | None = None
    code: str | None = None
    error: str | None = None

    @property
    def error_code(self) -> str:
        return self.code or self.error or "rejected"


class IngestResponse(msgspec.Struct, frozen=True):
    results: list[ReportResult]


@dataclass
class StepReport:
    """What one :meth:`Sender.step` did, for logs, the CLI and tests."""

    sent: int = 0
    acked: int = 0
    failed: int = 0
    retried: int = 0
    unavailable: list[str] = field(default_factory=list)  # oracles that did not answer


@dataclass
class _OracleState:
    endpoint: OracleEndpoint
    backoff: Backoff
    blocked_until_ms: int = 0
    last_error: str = ""
    batch_limit: int | None = None  # learnt from a 413: the oracle's batch limit is lower


class Sender:
    """Delivers pending outbox reports to every configured oracle."""

    def __init__(
        self,
        outbox: Outbox,
        oracles: Sequence[OracleEndpoint],
        settings: SenderSettings,
        *,
        client: httpx.Client,
        clock: Clock,
        rng: random.Random,
        metrics: AgentMetrics | None = None,
    ) -> None:
        self.outbox = outbox
        self.settings = settings
        self._client = client
        self._clock = clock
        self._rng = rng
        self._metrics = metrics
        self._executor: ThreadPoolExecutor | None = None  # created when 2+ oracles are due
        self._oracles = [
            _OracleState(
                endpoint,
                Backoff(
                    initial_ms=settings.initial_backoff_ms,
                    max_ms=settings.max_backoff_ms,
                    rng=rng,
                ),
            )
            for endpoint in oracles
        ]

    def oracle_backoff(self, name: str) -> Backoff:
        return self._state(name).backoff

    def blocked_until_ms(self, name: str) -> int:
        return self._state(name).blocked_until_ms

    def last_error(self, name: str) -> str:
        return self._state(name).last_error

    def _state(self, name: str) -> _OracleState:
        for state in self._oracles:
            if state.endpoint.name == name:
                return state
        raise KeyError(name)

    # -- scheduling ------------------------------------------------------

    def next_wake_ms(self) -> int | None:
        """Earliest time at which a step could send something; None if nothing is pending."""
        wakes = []
        for state in self._oracles:
            due = self.outbox.next_due_ms(state.endpoint.name)
            if due is not None:
                wakes.append(max(due, state.blocked_until_ms))
        return min(wakes, default=None)

    def step(self) -> StepReport:
        """Send one batch to each oracle that has due reports and is not backing off.

        The POSTs to different oracles run concurrently, so a slow oracle does
        not hold back the others; every outbox write stays on this thread.
        """
        result = StepReport()
        plans: list[tuple[_OracleState, list[Outgoing]]] = []
        for state in self._oracles:
            now = self._clock.now_ms()
            if now < state.blocked_until_ms:
                continue
            limit = min(self.settings.batch_size, state.batch_limit or self.settings.batch_size)
            batch = self.outbox.due(state.endpoint.name, now, limit)
            if batch:
                plans.append((state, batch))
        for (state, batch), response in zip(plans, self._post_all(plans), strict=True):
            self._handle(state, batch, response, result)
        return result

    def close(self) -> None:
        """Stop the posting threads (the HTTP client belongs to the caller)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    # -- one batch -------------------------------------------------------

    def _post_all(
        self, plans: list[tuple[_OracleState, list[Outgoing]]]
    ) -> list[httpx.Response | None]:
        if len(plans) < 2:
            return [self._post(state, batch) for state, batch in plans]
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=len(self._oracles), thread_name_prefix="depinkit-agent-post"
            )
        return list(self._executor.map(lambda plan: self._post(*plan), plans))

    def _deliver(self, state: _OracleState, batch: list[Outgoing], result: StepReport) -> None:
        self._handle(state, batch, self._post(state, batch), result)

    def _handle(
        self,
        state: _OracleState,
        batch: list[Outgoing],
        response: httpx.Response | None,
        result: StepReport,
    ) -> None:
        result.sent += len(batch)
        if self._metrics is not None:
            self._metrics.sent.labels(state.endpoint.name).inc(len(batch))
        now = self._clock.now_ms()
        results = None if response is None else _parse_results(response, len(batch))
        if response is not None and not _is_transient(response.status_code):
            if results is not None:
                self._answered(state)
                self._apply_results(state, batch, results, now, result)
                return
            if not response.is_success:
                self._answered(state)
                self._refused(state, batch, response, now, result)
                return
            state.last_error = f"HTTP {response.status_code} without per-report results"
        elif response is not None:
            state.last_error = f"HTTP {response.status_code}"
        self._unavailable(state, batch, now, result)

    def _unavailable(
        self, state: _OracleState, batch: list[Outgoing], now: int, result: StepReport
    ) -> None:
        """No usable answer: nothing changes state; the oracle backs off."""
        name = state.endpoint.name
        self.outbox.record_attempts(name, [item.pk for item in batch])
        state.blocked_until_ms = now + state.backoff.failure()
        result.unavailable.append(name)
        if state.backoff.failures == 1:  # log the outage once, not every retry
            _log.warning("oracle %s unavailable (%s); retrying", name, state.last_error)
        if self._metrics is not None:
            self._metrics.failed_attempts.labels(name).inc(len(batch))

    def _answered(self, state: _OracleState) -> None:
        if state.backoff.failures:
            _log.warning(
                "oracle %s answers again after %d failures",
                state.endpoint.name,
                state.backoff.failures,
            )
        state.backoff.success()
        state.blocked_until_ms = 0

    def _refused(
        self,
        state: _OracleState,
        batch: list[Outgoing],
        response: httpx.Response,
        now: int,
        result: StepReport,
    ) -> None:
        """A 4xx for the whole request: halve to isolate the cause, then fail it."""
        if len(batch) > 1:
            middle = len(batch) // 2
            if response.status_code == TOO_LARGE_HTTP:  # remember, so later steps fit
                state.batch_limit = min(middle, state.batch_limit or middle)
            for half in (batch[:middle], batch[middle:]):
                if self._clock.now_ms() >= state.blocked_until_ms:
                    self._deliver(state, half, result)
            return
        code = _error_code(response)
        state.last_error = code
        self.outbox.record_outcome(state.endpoint.name, now, failed=[(batch[0].pk, code)])
        _log.warning(
            "oracle %s rejected report #%d for good: %s", state.endpoint.name, batch[0].pk, code
        )
        result.failed += 1

    def _apply_results(
        self,
        state: _OracleState,
        batch: list[Outgoing],
        results: list[ReportResult],
        now: int,
        result: StepReport,
    ) -> None:
        acked: list[int] = []
        failed: list[tuple[int, str]] = []
        retry: list[tuple[int, int]] = []
        for item, outcome in zip(batch, results, strict=True):
            if outcome.status in ACK_STATUSES:
                acked.append(item.pk)
            elif outcome.error_code in RETRYABLE_CODES:
                delay = backoff_delay_ms(
                    item.attempts + 1,
                    initial_ms=self.settings.initial_backoff_ms,
                    max_ms=self.settings.max_backoff_ms,
                    rng=self._rng,
                )
                retry.append((item.pk, now + delay))
                state.last_error = outcome.error_code
            else:
                failed.append((item.pk, outcome.error_code))
                state.last_error = outcome.error_code
        self.outbox.record_outcome(
            state.endpoint.name, now, acked=acked, failed=failed, retry=retry
        )
        for pk, code in failed:
            _log.warning(
                "oracle %s rejected report #%d for good: %s", state.endpoint.name, pk, code
            )
        result.acked += len(acked)
        result.failed += len(failed)
        result.retried += len(retry)
        if self._metrics is not None and retry:
            self._metrics.failed_attempts.labels(state.endpoint.name).inc(len(retry))

    def _post(self, state: _OracleState, batch: list[Outgoing]) -> httpx.Response | None:
        url = state.endpoint.url.rstrip("/") + REPORTS_PATH
        body = encode_batch([item.encoded for item in batch])
        try:
            return self._client.post(
                url,
                content=body,
                headers={"content-type": MSGPACK, "accept": "application/json"},
                timeout=self.settings.request_timeout_s,
            )
        except httpx.HTTPError as exc:  # refused, reset, timed out: the oracle is unavailable
            state.last_error = f"{type(exc).__name__}: {exc}"
            return None


def encode_batch(encoded_reports: Sequence[bytes]) -> bytes:
    """The ingest batch body ``{"reports": [report, ...]}`` in msgpack.

    The reports are embedded as they are stored (inline msgpack arrays), not
    decoded and re-encoded, so the oracle receives exactly the signed bytes.
    """
    return msgspec.msgpack.encode({"reports": [msgspec.Raw(item) for item in encoded_reports]})


def _is_transient(status: int) -> bool:
    return status >= 500 or status in TRANSIENT_HTTP


def _parse_results(response: httpx.Response, expected: int) -> list[ReportResult] | None:
    """Per-report results, or None when the body does not carry one per report."""
    try:
        parsed = msgspec.json.decode(response.content, type=IngestResponse)
    except msgspec.MsgspecError:
        return None
    if len(parsed.results) != expected:
        return None
    return parsed.results


class _ErrorBody(msgspec.Struct, frozen=True):
    """The part of an ingest error body the agent reads (other fields are skipped)."""

    code: str | None = None


def _error_code(response: httpx.Response) -> str:
    """The machine-readable code of a whole-request refusal, or ``http_<status>``.

    Decoded into a flat Struct, never untyped: a deeply nested body from a
    broken oracle must not overflow the C stack (see docs/agent.md).
    """
    try:
        body = msgspec.json.decode(response.content, type=_ErrorBody)
    except msgspec.MsgspecError:
        return f"http_{response.status_code}"
    return body.code or f"http_{response.status_code}"
