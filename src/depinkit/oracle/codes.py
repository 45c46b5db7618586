"""Ingest outcome codes: part of the HTTP API contract, stable across versions.

Agents act on the code, not the message: a ``duplicate`` or any rejection
other than a transient server error means "drop from the outbox".
"""

from __future__ import annotations

from typing import Final

ACCEPTED: Final = "accepted"
DUPLICATE: Final = "duplicate"
REJECTED: Final = "rejected"

# Rejection codes, in the order the checks run.
TOO_LARGE: Final = "too_large"
MALFORMED: Final = "malformed"
BAD_SIGNATURE: Final = "bad_signature"
UNKNOWN_DEVICE: Final = "unknown_device"
INACTIVE_DEVICE: Final = "inactive_device"
UNKNOWN_NETWORK: Final = "unknown_network"
UNKNOWN_KIND: Final = "unknown_kind"
NETWORK_MISMATCH: Final = "network_mismatch"  # device registered on another network
MALFORMED_BODY: Final = "malformed_body"
TIMESTAMP_IN_FUTURE: Final = "timestamp_in_future"
TIMESTAMP_TOO_OLD: Final = "timestamp_too_old"
SEQ_REPLAYED: Final = "seq_replayed"

# Request-level codes (never per report).
UNSUPPORTED_MEDIA_TYPE: Final = "unsupported_media_type"
NOT_FOUND: Final = "not_found"
BAD_QUERY: Final = "bad_query"

HTTP_STATUS: Final[dict[str, int]] = {
    TOO_LARGE: 413,
    MALFORMED: 400,
    BAD_SIGNATURE: 401,
    UNKNOWN_DEVICE: 403,
    INACTIVE_DEVICE: 403,
    NETWORK_MISMATCH: 403,
    UNKNOWN_NETWORK: 422,
    UNKNOWN_KIND: 422,
    MALFORMED_BODY: 422,
    TIMESTAMP_IN_FUTURE: 422,
    TIMESTAMP_TOO_OLD: 422,
    SEQ_REPLAYED: 409,
    UNSUPPORTED_MEDIA_TYPE: 415,
    NOT_FOUND: 404,
    BAD_QUERY: 400,
}
