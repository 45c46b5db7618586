"""The ingest pipeline: check a batch of reports, store the good ones, say why not.

Checks run in a fixed order and the first failure names the report's code:
size, decoding (both in :mod:`depinkit.oracle.wire`), signature, known and
active device, network and kind known (and the device registered on that
network), body decodes as the kind's Struct, timestamp within the window of
the oracle's clock, sequence number not replayed. A report whose id is already
stored is a ``duplicate`` as soon as its signature checks out: it passed every
check when it was first accepted, and the agent only needs to hear "done".

The whole batch is written in one transaction and outcomes are returned only
after the commit, so an acknowledgement always means durable.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor

import msgspec

from depinkit.core.envelope import Report, ReportDomain, decode_body, report_id_hex
from depinkit.core.errors import DecodeError, InvalidSignature
from depinkit.core.keys import keccak256
from depinkit.networks import NetworkRegistry, UnknownKind, UnknownNetwork
from depinkit.oracle import codes
from depinkit.oracle.clock import Clock
from depinkit.oracle.directory import DeviceDirectory
from depinkit.oracle.errors import ReportRejected
from depinkit.oracle.logs import get_logger
from depinkit.oracle.metrics import IngestMetrics
from depinkit.oracle.store import DeviceStatus, ReportRow, Store
from depinkit.oracle.verify import ReportVerifier
from depinkit.oracle.wire import Item

VERIFY_CHUNK = 64  # reports per verification task when verifying on several threads


class Outcome(msgspec.Struct, frozen=True, omit_defaults=True):
    """What happened to one report of a request, in request order."""

    index: int
    status: str  # accepted | duplicate | rejected
    id: str | None = None  # 0x hex report id, once the signature checked out
    code: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != codes.REJECTED


class Ingestor:
    """Runs the checks and the store write for one deployment's reports."""

    def __init__(
        self,
        *,
        domain: ReportDomain,
        store: Store,
        networks: NetworkRegistry,
        directory: DeviceDirectory,
        clock: Clock,
        max_future_ms: int,
        max_age_ms: int,
        metrics: IngestMetrics | None = None,
        executor: Executor | None = None,
    ) -> None:
        self._verifier = ReportVerifier(domain)
        self._store = store
        self._networks = networks
        self._directory = directory
        self._clock = clock
        self._max_future_ms = max_future_ms
        self._max_age_ms = max_age_ms
        self._metrics = metrics
        self._executor = executor  # verify on several threads (coincurve releases the GIL)
        self._network_ids: dict[str, str] = {}
        self._log = get_logger("depinkit.oracle.ingest")

    def ingest(self, items: Sequence[Item]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(items)

        def reject(i: int, code: str, message: str, rid: bytes | None = None) -> None:
            hex_id = None if rid is None else report_id_hex(rid)
            outcomes[i] = Outcome(i, codes.REJECTED, hex_id, code, message)

        # Size and decoding happened in wire.ReportDecoder; now signatures.
        verified = self._verify_all(items)
        live: list[tuple[int, Report, bytes, bytes]] = []  # index, report, raw, id
        for i, item in enumerate(items):
            result = verified[i]
            if isinstance(item, ReportRejected):
                reject(i, item.code, item.message)
            elif isinstance(result, InvalidSignature):
                reject(i, codes.BAD_SIGNATURE, str(result))
            elif isinstance(result, bytes):
                live.append((i, item[0], item[1], result))

        # A report failing a check below may have been stored before (when it
        # passed): those are duplicates, found with one lookup after the loop,
        # so the common all-good batch needs no extra read.
        deferred: list[tuple[int, str, str, bytes]] = []

        def fail(i: int, code: str, message: str, rid: bytes) -> None:
            deferred.append((i, code, message, rid))

        checked = live
        devices = self._directory.lookup({r.device for _, r, _, _ in checked}) if checked else {}
        now = self._clock.now_ms()
        earliest, latest = now - self._max_age_ms, now + self._max_future_ms
        rows: list[ReportRow] = []
        row_index: dict[bytes, int] = {}
        seen_seq: set[tuple[str, int]] = set()
        for i, report, raw, rid in checked:
            device = devices.get(report.device)
            if device is None:
                fail(i, codes.UNKNOWN_DEVICE, f"device {report.device} is not registered", rid)
                continue
            if device.status != DeviceStatus.ACTIVE:
                fail(i, codes.INACTIVE_DEVICE, f"device {report.device} is {device.status}", rid)
                continue
            try:
                body_type = self._networks.body_type(report.network, report.kind)
            except UnknownNetwork as exc:
                fail(i, codes.UNKNOWN_NETWORK, str(exc), rid)
                continue
            except UnknownKind as exc:
                fail(i, codes.UNKNOWN_KIND, str(exc), rid)
                continue
            if device.network_id != self._network_id(report.network):
                fail(
                    i,
                    codes.NETWORK_MISMATCH,
                    f"device {report.device} is registered on another network",
                    rid,
                )
                continue
            try:
                decode_body(report, body_type)
            except DecodeError as exc:
                fail(i, codes.MALFORMED_BODY, f"body is not a valid {report.kind}: {exc}", rid)
                continue
            if report.timestamp_ms > latest:
                fail(
                    i,
                    codes.TIMESTAMP_IN_FUTURE,
                    f"timestamp {report.timestamp_ms} is more than "
                    f"{self._max_future_ms} ms ahead of the oracle clock ({now})",
                    rid,
                )
                continue
            if report.timestamp_ms < earliest:
                fail(
                    i,
                    codes.TIMESTAMP_TOO_OLD,
                    f"timestamp {report.timestamp_ms} is more than "
                    f"{self._max_age_ms} ms behind the oracle clock ({now})",
                    rid,
                )
                continue
            if rid in row_index:  # the same report twice in one batch
                outcomes[i] = Outcome(i, codes.DUPLICATE, report_id_hex(rid))
                continue
            key = (report.device, report.seq)
            if key in seen_seq:
                fail(i, codes.SEQ_REPLAYED, _replay_message(report.device, report.seq), rid)
                continue
            seen_seq.add(key)
            row_index[rid] = i
            rows.append(
                ReportRow(
                    id=rid,
                    device=report.device,
                    network=report.network,
                    kind=report.kind,
                    seq=report.seq,
                    epoch=report.epoch,
                    timestamp_ms=report.timestamp_ms,
                    received_ms=now,
                    raw=raw,
                )
            )

        accepted_networks: dict[str, int] = {}
        if rows:
            written = self._store.insert_reports(rows)
            for row in rows:
                i = row_index[row.id]
                if row.id in written.conflicts:
                    reject(i, codes.SEQ_REPLAYED, _replay_message(row.device, row.seq), row.id)
                elif row.id in written.duplicates:
                    outcomes[i] = Outcome(i, codes.DUPLICATE, report_id_hex(row.id))
                else:
                    outcomes[i] = Outcome(i, codes.ACCEPTED, report_id_hex(row.id))
                    accepted_networks[row.network] = accepted_networks.get(row.network, 0) + 1

        if deferred:
            stored = self._store.existing_report_ids(rid for _, _, _, rid in deferred)
            for i, code, message, rid in deferred:
                if rid in stored:
                    outcomes[i] = Outcome(i, codes.DUPLICATE, report_id_hex(rid))
                else:
                    reject(i, code, message, rid)

        final = [o for o in outcomes if o is not None]
        if len(final) != len(items):
            raise AssertionError("every report gets exactly one outcome")
        self._record(final, accepted_networks)
        return final

    def _verify_all(self, items: Sequence[Item]) -> list[bytes | InvalidSignature | None]:
        """Report ids (or the signature error) per item; None for items already rejected."""
        if self._executor is None or len(items) <= VERIFY_CHUNK:
            return self._verify_chunk(items)
        chunks = [items[k : k + VERIFY_CHUNK] for k in range(0, len(items), VERIFY_CHUNK)]
        results: list[bytes | InvalidSignature | None] = []
        for part in self._executor.map(self._verify_chunk, chunks):
            results.extend(part)
        return results

    def _verify_chunk(self, items: Sequence[Item]) -> list[bytes | InvalidSignature | None]:
        verify = self._verifier.verify
        out: list[bytes | InvalidSignature | None] = []
        for item in items:
            if isinstance(item, ReportRejected):
                out.append(None)
                continue
            try:
                out.append(verify(item[0]))
            except InvalidSignature as exc:
                out.append(exc)
        return out

    def _network_id(self, name: str) -> str:
        """0x hex of keccak256(name), the bytes32 id DeviceRegistry stores."""
        found = self._network_ids.get(name)
        if found is None:
            found = "0x" + keccak256(name.encode()).hex()
            self._network_ids[name] = found
        return found

    def _record(self, outcomes: Sequence[Outcome], accepted_networks: dict[str, int]) -> None:
        accepted = sum(accepted_networks.values())
        duplicates = sum(1 for o in outcomes if o.status == codes.DUPLICATE)
        rejected = [o.code or "" for o in outcomes if o.status == codes.REJECTED]
        if self._metrics is not None:
            for network, count in accepted_networks.items():
                self._metrics.accepted.labels(network=network).inc(count)
            if duplicates:
                self._metrics.duplicates.inc(duplicates)
            for code in rejected:
                self._metrics.rejected.labels(reason=code).inc()
        self._log.info(
            "ingest_batch",
            reports=len(outcomes),
            accepted=accepted,
            duplicates=duplicates,
            rejected=len(rejected),
        )


def _replay_message(device: str, seq: int) -> str:
    return f"device {device} already used seq {seq} for a different report"
