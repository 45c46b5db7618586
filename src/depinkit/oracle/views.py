"""Response bodies of the ingest API (msgspec Structs, also the OpenAPI schemas)."""

from __future__ import annotations

import msgspec

from depinkit.oracle.ingest import Outcome
from depinkit.oracle.store import ReportRow


class Ack(msgspec.Struct, frozen=True):
    """A single report stored (``accepted``) or already stored (``duplicate``)."""

    id: str
    status: str


class ErrorBody(msgspec.Struct, frozen=True, omit_defaults=True):
    """Why a request or a single report was refused; ``code`` is machine-readable."""

    code: str
    message: str
    id: str | None = None


class BatchResult(msgspec.Struct, frozen=True):
    """Per-report outcomes of a batch, in request order, and their totals."""

    results: list[Outcome]
    accepted: int
    duplicates: int
    rejected: int


class StoredReport(msgspec.Struct, frozen=True):
    """A stored report: the indexed fields and the signed report as received."""

    id: str
    device: str
    network: str
    kind: str
    seq: int
    epoch: int
    timestamp_ms: int
    received_ms: int
    report: bytes  # encoded signed report (msgpack); base64 in JSON

    @classmethod
    def of(cls, row: ReportRow) -> StoredReport:
        return cls(
            id="0x" + row.id.hex(),
            device=row.device,
            network=row.network,
            kind=row.kind,
            seq=row.seq,
            epoch=row.epoch,
            timestamp_ms=row.timestamp_ms,
            received_ms=row.received_ms,
            report=row.raw,
        )


class ReportPage(msgspec.Struct, frozen=True):
    """One page of a listing; pass ``next`` as ``after`` to get the following page."""

    reports: list[StoredReport]
    next: str | None


class Health(msgspec.Struct, frozen=True):
    status: str
    chain_id: int
    registry: str


SCHEMA_TYPES: tuple[type, ...] = (Ack, ErrorBody, BatchResult, ReportPage, StoredReport, Health)
