"""Reconciliation: make this oracle's report set for an epoch the union of its peers'.

Oracles exchange the ids of the reports they hold for the epoch; each fetches what it
lacks from a peer that has it and passes it through the very same ingest checks
(signature, device known and active, network, body, seq) as a report from a device. The
timestamp window is judged against the epoch's end rather than the wall clock, so an
oracle catching up hours later accepts the same reports a prompt one did. A peer cannot
slip in a report: what it serves must carry a valid device signature, and the report id is
recomputed from the report itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import msgspec

from depinkit.core.envelope import ReportDomain
from depinkit.networks import NetworkRegistry
from depinkit.oracle import codes, wire
from depinkit.oracle.clock import FixedClock
from depinkit.oracle.directory import DeviceDirectory, StoreDirectory
from depinkit.oracle.epochs.errors import PeerDown, PeerError
from depinkit.oracle.epochs.peers import Peer
from depinkit.oracle.epochs.store import EpochStore
from depinkit.oracle.ingest import Ingestor
from depinkit.oracle.logs import get_logger
from depinkit.oracle.settings import DEFAULT_MAX_AGE_MS, DEFAULT_MAX_FUTURE_MS

MAX_FETCH_PER_PEER: Final[int] = 100_000  # reports: bounds what one lying peer can make us fetch


class ReconcileResult(msgspec.Struct, frozen=True):
    """What one reconciliation did: reports fetched and accepted, refused, peers unreachable."""

    fetched: int
    accepted: int
    refused: int
    unreachable: list[str]


class Reconciler:
    """Fetches an epoch's missing reports from peers through the ingest checks."""

    def __init__(
        self,
        *,
        epochs: EpochStore,
        domain: ReportDomain,
        networks: NetworkRegistry,
        peers: Sequence[Peer],
        directory: DeviceDirectory | None = None,
        max_future_ms: int = DEFAULT_MAX_FUTURE_MS,
        max_age_ms: int = DEFAULT_MAX_AGE_MS,
    ) -> None:
        self._epochs = epochs
        self._domain = domain
        self._networks = networks
        self._peers = list(peers)
        self._directory = directory or StoreDirectory(epochs.store)
        self._max_future_ms = max_future_ms
        self._max_age_ms = max_age_ms
        self._decoder = wire.ReportDecoder()
        self._log = get_logger("depinkit.oracle.epochs.reconcile")

    def reconcile(self, epoch: int, epoch_end_ms: int) -> ReconcileResult:
        clock = FixedClock(epoch_end_ms)
        ingestor = Ingestor(
            domain=self._domain,
            store=self._epochs.store,
            networks=self._networks,
            directory=self._directory,
            clock=clock,
            max_future_ms=self._max_future_ms,
            max_age_ms=self._max_age_ms,
        )
        have = set(self._epochs.report_ids(epoch))
        fetched = accepted = refused = 0
        unreachable: list[str] = []
        for peer in self._peers:
            try:
                missing = [i for i in peer.report_ids(epoch) if i not in have]
                if len(missing) > MAX_FETCH_PER_PEER:
                    self._log.warning("peer_lists_too_many", peer=peer.url, missing=len(missing))
                    missing = missing[:MAX_FETCH_PER_PEER]
                items = []
                for report_id in missing:
                    stored = peer.report(report_id)
                    if stored is None:
                        continue
                    fetched += 1
                    items.append(self._decoder.decode(stored.report, wire.MSGPACK))
            except PeerError as exc:
                if not isinstance(exc, PeerDown):  # a peer already down was logged then
                    self._log.warning(
                        "peer_unreachable", peer=peer.url, epoch=epoch, error=str(exc)
                    )
                unreachable.append(peer.url)
                continue
            for outcome in ingestor.ingest(items) if items else []:
                if outcome.status == codes.REJECTED:
                    refused += 1
                    self._log.warning(
                        "peer_report_refused", peer=peer.url, code=outcome.code, id=outcome.id
                    )
                else:
                    accepted += 1
                    if outcome.id is not None:
                        have.add(bytes.fromhex(outcome.id.removeprefix("0x")))
        self._log.info(
            "reconciled", epoch=epoch, fetched=fetched, accepted=accepted, refused=refused
        )
        return ReconcileResult(fetched, accepted, refused, unreachable)
