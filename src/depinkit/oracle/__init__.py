"""depinkit.oracle: ingest API, store, chain indexer (and, later, the epoch pipeline).

The public names below are imported lazily, so a module that only needs the
store does not pay for FastAPI or web3 at import time.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "create_app": "depinkit.oracle.app",
    "Ingestor": "depinkit.oracle.ingest",
    "Outcome": "depinkit.oracle.ingest",
    "RegistryIndexer": "depinkit.oracle.indexer",
    "OracleSettings": "depinkit.oracle.settings",
    "load_settings": "depinkit.oracle.settings",
    "Store": "depinkit.oracle.store",
    "ReportRow": "depinkit.oracle.store",
    "DeviceRow": "depinkit.oracle.store",
    "DeviceStatus": "depinkit.oracle.store",
    "IngestMetrics": "depinkit.oracle.metrics",
    "ServerThread": "depinkit.oracle.server",
    "Clock": "depinkit.oracle.clock",
    "SystemClock": "depinkit.oracle.clock",
    "FixedClock": "depinkit.oracle.clock",
    "OracleError": "depinkit.oracle.errors",
    "ReportRejected": "depinkit.oracle.errors",
    "StoreError": "depinkit.oracle.errors",
    "IndexerError": "depinkit.oracle.errors",
    "SettingsError": "depinkit.oracle.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module), name)
