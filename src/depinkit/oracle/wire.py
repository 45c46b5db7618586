"""Request bodies of POST /v1/reports: one report or a batch, msgpack or JSON.

Splitting a body into items and decoding each item are separate steps, so a
single bad item in a batch gets its own code while the others go on. The
formats are documented in the package README (depinkit/oracle/README.md).
"""

from __future__ import annotations

import msgspec

from depinkit.core.envelope import MAX_REPORT_BYTES, Report, encode_report
from depinkit.core.keys import is_address, to_checksum
from depinkit.oracle import codes
from depinkit.oracle.errors import ReportRejected

MSGPACK = "application/msgpack"
JSON = "application/json"
MEDIA_TYPES = (MSGPACK, "application/x-msgpack", JSON)

MAX_JSON_REPORT_BYTES = 2 * MAX_REPORT_BYTES  # base64 bodies: JSON is up to ~4/3 the msgpack size
ENVELOPE_SLACK_BYTES = 64  # bytes: batch map header and per-item length prefixes headroom

# RecursionError: a batch item nested deeper than the interpreter's recursion
# limit (web3's py_ecc raises it to 100000) is malformed input, not a crash.
_BIN_HEADERS = frozenset((0xC4, 0xC5, 0xC6))  # msgpack bin8/16/32
_MAP_HEADERS = frozenset((*range(0x80, 0x90), 0xDE, 0xDF))  # msgpack fixmap/map16/map32


class Batch(msgspec.Struct, forbid_unknown_fields=True):
    """A batch body: ``{"reports": [item, ...]}``."""

    reports: list[msgspec.Raw]


MAX_CHECKED_DEVICES = 100_000  # addresses whose EIP-55 check is memoized (~10 MB at most)


class WireReport(Report, frozen=True, array_like=True, forbid_unknown_fields=True):
    """core's Report with the same fields and constraints, minus the per-object EIP-55 check.

    ``Report.__post_init__`` recomputes the device's checksum (a keccak and a
    string rebuild) for every report; a device sends thousands, so
    :class:`ReportDecoder` checks each address once and remembers the answer.
    It is still a ``Report`` for every core function.
    """

    def __post_init__(self) -> None:
        pass


_MSGPACK_BATCH = msgspec.msgpack.Decoder(Batch)
_JSON_BATCH = msgspec.json.Decoder(Batch)
_MSGPACK_REPORT = msgspec.msgpack.Decoder(WireReport)
_JSON_REPORT = msgspec.json.Decoder(WireReport)
_MSGPACK_BYTES = msgspec.msgpack.Decoder(bytes)

Item = tuple[Report, bytes] | ReportRejected  # a decoded report with its wire bytes, or why not


def media_type(content_type: str | None) -> str | None:
    """The supported media type named by a Content-Type header, else None."""
    if not content_type:
        return None
    base = content_type.split(";", 1)[0].strip().lower()
    if base in (MSGPACK, "application/x-msgpack"):
        return MSGPACK
    if base == JSON:
        return JSON
    return None


def max_body_bytes(max_batch: int) -> int:
    """Largest request body worth reading: a full batch of maximal JSON reports."""
    return max_batch * (MAX_JSON_REPORT_BYTES + ENVELOPE_SLACK_BYTES) + ENVELOPE_SLACK_BYTES


def split_body(body: bytes, media: str, max_batch: int) -> tuple[bool, list[bytes]]:
    """(is_batch, raw items). Raises ReportRejected for a bad body as a whole."""
    if not body:
        raise ReportRejected(codes.MALFORMED, "empty request body")
    if media == MSGPACK:
        if body[0] not in _MAP_HEADERS:
            return False, [body]
        try:
            batch = _MSGPACK_BATCH.decode(body)
        except (msgspec.MsgspecError, RecursionError) as exc:
            raise ReportRejected(codes.MALFORMED, f"batch does not decode: {exc}") from None
        _check_count(len(batch.reports), max_batch)
        return True, [_unwrap_bin(item) for item in batch.reports]
    stripped = body.lstrip()
    if not stripped.startswith(b"{"):
        return False, [body]
    try:
        batch = _JSON_BATCH.decode(body)
    except (msgspec.MsgspecError, RecursionError) as exc:
        raise ReportRejected(codes.MALFORMED, f"batch does not decode: {exc}") from None
    _check_count(len(batch.reports), max_batch)
    return True, [bytes(item) for item in batch.reports]


def _check_count(count: int, max_batch: int) -> None:
    if count > max_batch:
        raise ReportRejected(codes.TOO_LARGE, f"batch of {count} reports, limit {max_batch}")


def _unwrap_bin(item: msgspec.Raw) -> bytes:
    raw = bytes(item)
    if raw and raw[0] in _BIN_HEADERS:
        return _MSGPACK_BYTES.decode(raw)
    return raw  # an inline report array


class ReportDecoder:
    """Size check then decode one report, like core's ``decode_report``, faster.

    Accepts exactly what ``decode_report`` / ``decode_report_json`` accept (a
    property test holds them equal); rejections are returned, not raised.
    """

    def __init__(self) -> None:
        self._checked: dict[str, bool] = {}  # device address -> is EIP-55 checksummed

    def _device_ok(self, device: str) -> bool:
        ok = self._checked.get(device)
        if ok is None:
            ok = is_address(device) and to_checksum(device) == device
            if len(self._checked) >= MAX_CHECKED_DEVICES:
                self._checked.clear()
            self._checked[device] = ok
        return ok

    def _checked_device(self, report: WireReport, raw: bytes) -> Item:
        if not self._device_ok(report.device):
            return ReportRejected(
                codes.MALFORMED,
                f"device must be an EIP-55 checksummed address: {report.device!r}",
            )
        return report, raw

    def decode(self, raw: bytes, media: str) -> Item:
        if media == MSGPACK:
            if len(raw) > MAX_REPORT_BYTES:
                return ReportRejected(
                    codes.TOO_LARGE, f"report is {len(raw)} bytes, limit {MAX_REPORT_BYTES}"
                )
            try:
                report = _MSGPACK_REPORT.decode(raw)
            except (msgspec.MsgspecError, RecursionError) as exc:
                return ReportRejected(codes.MALFORMED, str(exc))
            return self._checked_device(report, raw)
        if len(raw) > MAX_JSON_REPORT_BYTES:
            return ReportRejected(
                codes.TOO_LARGE, f"report JSON is {len(raw)} bytes, limit {MAX_JSON_REPORT_BYTES}"
            )
        try:
            report = _JSON_REPORT.decode(raw)
        except (msgspec.MsgspecError, RecursionError) as exc:
            return ReportRejected(codes.MALFORMED, str(exc))
        encoded = encode_report(report)
        if len(encoded) > MAX_REPORT_BYTES:
            return ReportRejected(
                codes.TOO_LARGE, f"report is {len(encoded)} bytes, limit {MAX_REPORT_BYTES}"
            )
        return self._checked_device(report, encoded)
