"""Errors raised by the oracle services.

All derive from :class:`depinkit.core.errors.DepinkitError`. A rejected report
carries a stable machine-readable ``code`` (part of the ingest API contract,
see docs) next to a human message, so agents can decide to drop or retry.
"""

from __future__ import annotations

from depinkit.core.errors import DepinkitError


class OracleError(DepinkitError):
    """Base of the oracle's errors."""


class SettingsError(OracleError):
    """The oracle configuration file or an environment override is invalid."""


class StoreError(OracleError):
    """The store is unusable (unsupported URL, schema not migrated)."""


class IndexerError(OracleError):
    """The chain indexer cannot make progress (bad manifest, missing artifact)."""


class ReportRejected(OracleError):
    """One report failed an ingest check; ``code`` says which one."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
