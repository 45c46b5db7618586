"""The agent runtime: run roles on their schedule, sign, store, deliver.

One loop on one thread, driven by an injected :class:`Clock`:

1. every role whose time has come produces drafts; the drafts of one tick are
   signed and committed to the outbox in one transaction, together with the
   sequence numbers they consume (so a seq is never reused, even across
   ``kill -9``: an uncommitted transaction releases its numbers unused);
2. the sender posts one batch to each oracle that is due (the POSTs to
   different oracles run in parallel; their outcomes are recorded here);
3. the loop sleeps until the next role run or delivery retry, at most
   ``sender.idle_poll_s``.

Why one thread owns everything else: the outbox has one writer and the order
of events is reproducible with a :class:`~depinkit.agent.clock.ManualClock`.
A role run that is late (the device slept) runs once, not once per missed
interval: a burst of stale heartbeats proves nothing.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import msgspec

from depinkit.agent.clock import Clock
from depinkit.agent.config import AgentConfig
from depinkit.agent.errors import ConfigError, RoleError
from depinkit.agent.metrics import AgentMetrics
from depinkit.agent.outbox import Outbox, SealedReport, SealFn
from depinkit.agent.roles import ReportDraft, Role, RoleContext, role_message_digest
from depinkit.agent.sender import Sender, StepReport
from depinkit.core.envelope import ReportDomain, encode_report, report_id, sign_report
from depinkit.core.keys import Account


def epoch_at(now_ms: int, *, genesis_ms: int, length_s: int) -> int:
    """The epoch containing ``now_ms`` (0 before genesis)."""
    return max(0, (now_ms - genesis_ms) // (length_s * 1000))


def as_draft(role: str, produced: object) -> ReportDraft:
    """A role's output as a ReportDraft: any (network, kind, body Struct) triple."""
    if (
        isinstance(produced, tuple)
        and len(produced) == 3
        and isinstance(produced[0], str)
        and isinstance(produced[1], str)
        and isinstance(produced[2], msgspec.Struct)
    ):
        return ReportDraft(*produced)
    raise RoleError(f"role {role!r} produced {produced!r}, not (network, kind, body Struct)")


@dataclass
class _Scheduled:
    role: Role
    next_ms: int


class ReportSigner:
    """Turns drafts into sealed reports for a given seq, as the device key."""

    def __init__(self, account: Account, domain: ReportDomain) -> None:
        self.account = account
        self.domain = domain

    def sign_role_message(self, message: bytes) -> bytes:
        """The device key's signature of ``role_message_digest(message)``."""
        return self.account.sign_digest(role_message_digest(message))

    def sealer(self, draft: ReportDraft, *, timestamp_ms: int, epoch: int) -> SealFn:
        def seal(seq: int) -> SealedReport:
            try:
                report = sign_report(
                    self.account,
                    self.domain,
                    network=draft.network,
                    kind=draft.kind,
                    seq=seq,
                    timestamp_ms=timestamp_ms,
                    epoch=epoch,
                    body=draft.body,
                )
            except ValueError as exc:  # a field the oracles would refuse: never store it
                raise RoleError(
                    f"invalid report draft {draft.network}/{draft.kind}: {exc}"
                ) from exc
            return SealedReport(
                report_id(self.domain, report),
                encode_report(report),
                draft.network,
                draft.kind,
                epoch,
            )

        return seal


class AgentRuntime:
    """Schedules roles, commits their reports to the outbox and drives the sender."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        signer: ReportSigner,
        outbox: Outbox,
        sender: Sender,
        roles: Sequence[Role],
        clock: Clock,
        rng: random.Random,
        metrics: AgentMetrics | None = None,
    ) -> None:
        self.config = config
        self.signer = signer
        self.outbox = outbox
        self.sender = sender
        self.clock = clock
        self.rng = rng
        self.metrics = metrics
        self.started_ms = clock.now_ms()
        self._schedule = [_Scheduled(role, self.started_ms) for role in roles]
        self._metrics_due_ms = self.started_ms
        self._prune_due_ms = self.started_ms

    def close(self) -> None:
        """Release the sender's threads and the outbox (the HTTP client is the caller's)."""
        self.sender.close()
        self.outbox.close()

    # -- producing -------------------------------------------------------

    def epoch_now(self, now_ms: int) -> int:
        return epoch_at(
            now_ms, genesis_ms=self.config.epoch.genesis_ms, length_s=self.config.epoch.length_s
        )

    def enqueue(self, drafts: Sequence[ReportDraft]) -> list[int]:
        """Sign ``drafts`` and commit them to the outbox in one transaction; their seqs."""
        if not drafts:
            return []
        now = self.clock.now_ms()
        epoch = self.epoch_now(now)
        sealers = [self.signer.sealer(d, timestamp_ms=now, epoch=epoch) for d in drafts]
        seqs = self.outbox.append(sealers, now)
        if self.metrics is not None:
            for draft in drafts:
                self.metrics.created.labels(draft.network, draft.kind).inc()
        return seqs

    def run_due_roles(self) -> int:
        """Run every role whose time has come; returns how many reports were committed."""
        now = self.clock.now_ms()
        context = RoleContext(
            device=self.signer.account.address,
            now_ms=now,
            epoch=self.epoch_now(now),
            started_ms=self.started_ms,
            data_dir=Path(self.config.data_dir),
            rng=self.rng,
            sign=self.signer.sign_role_message,
        )
        drafts: list[ReportDraft] = []
        for item in self._schedule:
            if item.next_ms > now:
                continue
            drafts.extend(as_draft(item.role.name, d) for d in item.role.produce(context))
            interval_ms = max(1, round(item.role.interval_s * 1000))
            item.next_ms += interval_ms
            if item.next_ms <= now:  # fell behind: run once, then keep the cadence from now
                item.next_ms = now + interval_ms
        return len(self.enqueue(drafts))

    def next_role_ms(self) -> int | None:
        return min((item.next_ms for item in self._schedule), default=None)

    # -- the loop --------------------------------------------------------

    def tick(self) -> StepReport:
        """One pass: due roles, one delivery step, metrics and pruning when due."""
        self.run_due_roles()
        step = self.sender.step()
        self.refresh_metrics()
        self.prune_when_due()
        return step

    def prune_when_due(self) -> int:
        """Drop delivered reports older than ``outbox.retention_s`` (hourly by default)."""
        now = self.clock.now_ms()
        if now < self._prune_due_ms:
            return 0
        settings = self.config.outbox
        self._prune_due_ms = now + round(settings.prune_interval_s * 1000)
        return self.outbox.prune(now - settings.retention_s * 1000)

    def refresh_metrics(self, *, force: bool = False) -> None:
        if self.metrics is None:
            return
        now = self.clock.now_ms()
        if not force and now < self._metrics_due_ms:
            return
        self._metrics_due_ms = now + round(self.config.metrics.interval_s * 1000)
        self.metrics.observe_outbox(self.outbox.counts(), self.outbox.next_seq())
        if self.config.metrics.textfile:
            self.metrics.write_textfile(self.config.data_path(self.config.metrics.textfile))

    def sleep_until_due(self) -> None:
        """Sleep until the next role run or delivery retry (at most ``idle_poll_s``)."""
        now = self.clock.now_ms()
        wakes = [w for w in (self.next_role_ms(), self.sender.next_wake_ms()) if w is not None]
        limit_ms = round(self.config.sender.idle_poll_s * 1000)
        wait_ms = min([limit_ms, *(w - now for w in wakes)])
        if wait_ms > 0:
            self.clock.sleep(wait_ms / 1000)

    def run(
        self,
        *,
        stop: threading.Event | None = None,
        until_delivered: bool = False,
        max_ticks: int | None = None,
    ) -> None:
        """Loop until ``stop`` is set, ``max_ticks`` passes run, or (with
        ``until_delivered``) nothing is pending for any configured oracle."""
        ticks = 0
        while not (stop is not None and stop.is_set()):
            self.tick()
            ticks += 1
            if max_ticks is not None and ticks >= max_ticks:
                break
            if until_delivered and self.outbox.pending_total() == 0:
                break
            self.sleep_until_due()
        self.refresh_metrics(force=True)


def build_runtime(
    config: AgentConfig,
    account: Account,
    *,
    roles: Sequence[Role],
    client: httpx.Client,
    clock: Clock,
    rng: random.Random,
    metrics: AgentMetrics | None = None,
) -> AgentRuntime:
    """Assemble outbox, sender and runtime from a config (the caller closes the outbox)."""
    if not config.oracles:
        raise ConfigError("no oracles configured: add an [[oracles]] entry")
    domain = ReportDomain(chain_id=config.domain.chain_id, registry=config.domain.registry)
    outbox = Outbox(
        config.outbox_path, device=account.address, oracles=[o.name for o in config.oracles]
    )
    sender = Sender(
        outbox, config.oracles, config.sender, client=client, clock=clock, rng=rng, metrics=metrics
    )
    return AgentRuntime(
        config,
        signer=ReportSigner(account, domain),
        outbox=outbox,
        sender=sender,
        roles=roles,
        clock=clock,
        rng=rng,
        metrics=metrics,
    )
