"""depinkit.core: identity, signatures, canonical encoding and the report envelope.

Pure code (stdlib and crypto libraries only); the keystore functions are the
only ones that touch the file system.
"""

from depinkit.core.canonical import canonical_decode, canonical_encode
from depinkit.core.envelope import (
    MAX_REPORT_BYTES,
    REPORT_VERSION,
    Report,
    ReportDomain,
    UnsignedReport,
    decode_body,
    decode_report,
    decode_report_json,
    encode_report,
    encode_report_json,
    report_digest,
    report_id,
    report_id_hex,
    sign_report,
    verify_report,
)
from depinkit.core.errors import (
    DecodeError,
    DepinkitError,
    InvalidAddress,
    InvalidKey,
    InvalidSignature,
    KeystoreError,
)
from depinkit.core.keys import (
    Account,
    is_address,
    is_checksummed,
    keccak256,
    load_keystore,
    recover_address,
    recover_address_bytes,
    save_keystore,
    to_checksum,
)

__all__ = [
    "MAX_REPORT_BYTES",
    "REPORT_VERSION",
    "Account",
    "DecodeError",
    "DepinkitError",
    "InvalidAddress",
    "InvalidKey",
    "InvalidSignature",
    "KeystoreError",
    "Report",
    "ReportDomain",
    "UnsignedReport",
    "canonical_decode",
    "canonical_encode",
    "decode_body",
    "decode_report",
    "decode_report_json",
    "encode_report",
    "encode_report_json",
    "is_address",
    "is_checksummed",
    "keccak256",
    "load_keystore",
    "recover_address",
    "recover_address_bytes",
    "report_digest",
    "report_id",
    "report_id_hex",
    "save_keystore",
    "sign_report",
    "to_checksum",
    "verify_report",
]
