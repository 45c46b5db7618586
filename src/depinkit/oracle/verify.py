"""Report signature verification for the ingest hot path.

Equivalent to :func:`depinkit.core.envelope.verify_report` (a property test
holds them equal) but cheaper per report, because ingest verifies thousands
per second and recovery dominates its CPU time:

* the domain separator is hashed once per verifier, not once per report;
* the unsigned encoding is cut out of the report's own canonical encoding
  (a Struct array's fields encode independently, so dropping the trailing
  signature and fixing the array header gives exactly the UnsignedReport
  bytes) instead of building an UnsignedReport object;
* the recovered key is compared with the device as 20 raw bytes, skipping the
  EIP-55 checksum text that ``recover_address`` builds.

The signature rules are core's: 65 bytes, v in {27, 28}, 0 < r < n,
0 < s <= n/2 (no malleable twins).
"""

from __future__ import annotations

from collections.abc import Callable

from depinkit.core.canonical import canonical_encode
from depinkit.core.envelope import (
    DIGEST_PREFIX,
    SIGNATURE_BYTES,
    Report,
    ReportDomain,
    report_id,
)
from depinkit.core.errors import InvalidSignature
from depinkit.core.keys import keccak256, recover_address_bytes

_REPORT_HEADER = 0x99  # msgpack fixarray of 9 elements: Report
_UNSIGNED_HEADER = b"\x98"  # msgpack fixarray of 8 elements: UnsignedReport
_SIGNATURE_TRAILER = b"\xc4" + bytes((SIGNATURE_BYTES,))  # bin8 header of the 65-byte signature
_TRAILER_BYTES = len(_SIGNATURE_TRAILER) + SIGNATURE_BYTES


def fastest_keccak() -> Callable[[bytes], bytes]:
    """pysha3's keccak when installed (about 4x faster than pycryptodome's), else core's."""
    try:
        from eth_hash.backends.pysha3 import keccak256 as pysha3_keccak256
    except ImportError:
        return keccak256
    return pysha3_keccak256


class ReportVerifier:
    """Verifies reports for one deployment (chain id and registry)."""

    def __init__(self, domain: ReportDomain) -> None:
        self.domain = domain
        self._prefix = DIGEST_PREFIX + domain.separator()
        self._keccak = fastest_keccak()

    def digest(self, report: Report) -> bytes:
        """The report id (same value as ``core.report_id(domain, report)``)."""
        encoded = canonical_encode(report)
        if encoded[0] != _REPORT_HEADER or encoded[-_TRAILER_BYTES:-SIGNATURE_BYTES] != (
            _SIGNATURE_TRAILER
        ):
            return report_id(self.domain, report)  # layout changed: take the general path
        unsigned = _UNSIGNED_HEADER + encoded[1:-_TRAILER_BYTES]
        return self._keccak(self._prefix + self._keccak(unsigned))

    def verify(self, report: Report) -> bytes:
        """Return the report id; raise InvalidSignature unless report.device signed it."""
        digest = self.digest(report)
        if recover_address_bytes(digest, report.signature) != bytes.fromhex(report.device[2:]):
            raise InvalidSignature(f"report claims device {report.device} but another key signed")
        return digest
