"""The signed report envelope: what a device says, bound to one deployment.

Every network's reports travel in the same envelope, so ingest, dedupe,
storage and replay are written once. The device signs a digest that binds:

* the deployment (chain id and DeviceRegistry address), so a report for a
  testnet can never count on mainnet;
* the header (network, kind, device, seq, time, epoch) and the network's
  opaque body, in canonical msgpack.

The digest starts with byte 0x19 followed by a tag, so it can never equal the
hash of an RLP transaction or an EIP-191/EIP-712 message (those continue
with 0x00, 0x01 or 0x45 after 0x19): a report signature cannot be replayed as
anything else a wallet would sign.

The digest doubles as the report id: identical reports have identical ids,
whatever the signature bytes, which is what ingest dedupes on.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Any, TypeVar

import msgspec

from depinkit.core.canonical import canonical_decode, canonical_encode
from depinkit.core.errors import DecodeError, InvalidSignature
from depinkit.core.keys import (
    Account,
    address_bytes,
    is_address,
    is_checksummed,
    keccak256,
    recover_address,
    recover_address_bytes,
)

T = TypeVar("T", bound=msgspec.Struct)

REPORT_VERSION = 1  # envelope version; bump with a new domain tag if the layout changes
MAX_REPORT_BYTES = 16 * 1024  # bytes: an encoded signed report, body included; bounds ingest memory

DOMAIN_TAG = b"depinkit/report/v1"  # separates our digests from every other signing scheme
DIGEST_PREFIX = b"\x19depinkit"  # 0x19: never an RLP transaction; "d": not EIP-191 (0x00/0x01/0x45)

MAX_U63 = 2**63 - 1  # largest seq/time/epoch: fits a signed 64-bit SQL BIGINT
MAX_CHAIN_ID = 2**256 - 1  # chain ids are uint256 in EIP-155/EIP-712
NAME_PATTERN = r"^[a-z0-9_-]{1,32}$"  # network and kind names: safe in URLs, file names, SQL
_NAME_FULL = re.compile(r"[a-z0-9_-]{1,32}")  # fullmatch: "$" alone would let "x\n" through
SIGNATURE_BYTES = 65  # r || s || v

_U63 = Annotated[int, msgspec.Meta(ge=0, le=MAX_U63)]
_Name = Annotated[str, msgspec.Meta(pattern=NAME_PATTERN)]
_Address = Annotated[str, msgspec.Meta(pattern=r"^0x[0-9a-fA-F]{40}$")]
_Version = Annotated[int, msgspec.Meta(ge=REPORT_VERSION, le=REPORT_VERSION)]
_Body = Annotated[bytes, msgspec.Meta(max_length=MAX_REPORT_BYTES)]
_Signature = Annotated[bytes, msgspec.Meta(min_length=SIGNATURE_BYTES, max_length=SIGNATURE_BYTES)]


class ReportDomain(msgspec.Struct, frozen=True):
    """Which deployment a report is for: the chain and its DeviceRegistry."""

    chain_id: Annotated[int, msgspec.Meta(ge=0, le=MAX_CHAIN_ID)]
    registry: _Address

    def __post_init__(self) -> None:
        if not 0 <= self.chain_id <= MAX_CHAIN_ID:
            raise ValueError(f"chain_id out of range: {self.chain_id}")
        if not is_address(self.registry):
            raise ValueError(f"registry is not an address: {self.registry!r}")

    def separator(self) -> bytes:
        """keccak256(tag || chain_id as 32 bytes big-endian || 20-byte registry)."""
        return _separator(self.chain_id, self.registry)


@lru_cache(maxsize=64)  # a pure function of two values; a process serves few deployments
def _separator(chain_id: int, registry: str) -> bytes:
    return keccak256(DOMAIN_TAG + chain_id.to_bytes(32, "big") + address_bytes(registry))


def _check_header(network: str, kind: str, device: str) -> None:
    # The msgspec patterns document the rule (JSON schema); these checks enforce
    # it exactly. Only the EIP-55 device form is accepted, so one report has one
    # encoding and the device field compares equal to the recovered address.
    if _NAME_FULL.fullmatch(network) is None:
        raise ValueError(f"network name must match {NAME_PATTERN}: {network!r}")
    if _NAME_FULL.fullmatch(kind) is None:
        raise ValueError(f"kind must match {NAME_PATTERN}: {kind!r}")
    if not is_checksummed(device):
        raise ValueError(f"device must be an EIP-55 checksummed address: {device!r}")


# gc=False: only bytes, str and ints inside, so never part of a cycle; an epoch holds millions
# of these, and the cyclic collector would walk them all again on every pass.
class UnsignedReport(
    msgspec.Struct, frozen=True, gc=False, array_like=True, forbid_unknown_fields=True
):
    """The signed part of a report (everything but the signature)."""

    version: _Version
    network: _Name
    kind: _Name
    device: _Address
    seq: _U63
    timestamp_ms: _U63
    epoch: _U63
    body: _Body

    def __post_init__(self) -> None:
        _check_header(self.network, self.kind, self.device)


class Report(msgspec.Struct, frozen=True, gc=False, array_like=True, forbid_unknown_fields=True):
    """A device's signed report, as sent over the wire and stored."""

    version: _Version
    network: _Name
    kind: _Name
    device: _Address
    seq: _U63
    timestamp_ms: _U63
    epoch: _U63
    body: _Body
    signature: _Signature

    def __post_init__(self) -> None:
        _check_header(self.network, self.kind, self.device)

    def unsigned(self) -> UnsignedReport:
        return UnsignedReport(
            version=self.version,
            network=self.network,
            kind=self.kind,
            device=self.device,
            seq=self.seq,
            timestamp_ms=self.timestamp_ms,
            epoch=self.epoch,
            body=self.body,
        )


def report_digest(domain: ReportDomain, unsigned: UnsignedReport) -> bytes:
    """keccak256(0x19 "depinkit" || domain separator || keccak256(canonical(unsigned)))."""
    return keccak256(DIGEST_PREFIX + domain.separator() + keccak256(canonical_encode(unsigned)))


def sign_report(
    account: Account,
    domain: ReportDomain,
    *,
    network: str,
    kind: str,
    seq: int,
    timestamp_ms: int,
    epoch: int,
    body: msgspec.Struct,
) -> Report:
    """Build and sign a report as ``account`` (the device key).

    Raises ValueError when a field is out of range, so a device can never
    emit a report that every oracle would reject.
    """
    if not isinstance(body, msgspec.Struct):
        raise ValueError(f"body must be a msgspec Struct, not {type(body).__name__}")
    encoded_body = canonical_encode(body)
    unsigned = UnsignedReport(
        version=REPORT_VERSION,
        network=network,
        kind=kind,
        device=account.address,
        seq=seq,
        timestamp_ms=timestamp_ms,
        epoch=epoch,
        body=encoded_body,
    )
    try:  # run the same constraint checks an oracle's decoders will run
        canonical_decode(encoded_body, type(body))
        canonical_decode(canonical_encode(unsigned), UnsignedReport)
    except DecodeError as exc:
        raise ValueError(f"report would not decode: {exc}") from exc
    signature = account.sign_digest(report_digest(domain, unsigned))
    report = Report(
        version=unsigned.version,
        network=unsigned.network,
        kind=unsigned.kind,
        device=unsigned.device,
        seq=unsigned.seq,
        timestamp_ms=unsigned.timestamp_ms,
        epoch=unsigned.epoch,
        body=unsigned.body,
        signature=signature,
    )
    if len(encode_report(report)) > MAX_REPORT_BYTES:
        raise ValueError(f"encoded report exceeds {MAX_REPORT_BYTES} bytes")
    return report


def report_id(domain: ReportDomain, report: Report | UnsignedReport) -> bytes:
    """The report's 32-byte id: its signing digest (independent of the signature)."""
    unsigned = report.unsigned() if isinstance(report, Report) else report
    return report_digest(domain, unsigned)


def report_id_hex(report_id_bytes: bytes) -> str:
    """0x-prefixed lowercase hex of a report id, for logs, URLs and JSON."""
    return "0x" + bytes(report_id_bytes).hex()


def verify_report(domain: ReportDomain, report: Report) -> bytes:
    """Check the device signed this report for this domain; return its id.

    Raises InvalidSignature for a malformed or malleable signature, a
    signature by another key, or one made for another deployment.
    """
    digest = report_id(domain, report)
    signer = recover_address_bytes(digest, report.signature)
    if signer.hex() != report.device[2:].lower():  # device's shape was checked on decode
        raise InvalidSignature(
            f"report claims device {report.device} but was signed by "
            f"{recover_address(digest, report.signature)}"
        )
    return digest


def encode_report(report: Report) -> bytes:
    """Wire (msgpack) form of a signed report."""
    return canonical_encode(report)


def decode_report(data: Any) -> Report:
    """Decode a report from untrusted bytes; DecodeError for anything malformed.

    Callers should check ``len(data) <= MAX_REPORT_BYTES`` before reading the
    whole request; this refuses oversized input as well.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(f"expected bytes, got {data.__class__.__name__}")
    if len(data) > MAX_REPORT_BYTES:
        raise DecodeError(f"report is {len(data)} bytes, limit {MAX_REPORT_BYTES}")
    return canonical_decode(data, Report)


def encode_report_json(report: Report) -> bytes:
    """JSON form for HTTP edges (a JSON array; bytes fields as base64)."""
    return msgspec.json.encode(report)


def decode_report_json(data: Any) -> Report:
    """Decode the JSON form; DecodeError for anything malformed or too large.

    The JSON form is larger than msgpack (base64 bodies), so the size limit
    here is the msgpack limit times 2, then the result is re-checked.
    """
    if not isinstance(data, bytes | bytearray | memoryview | str):
        raise DecodeError(f"expected bytes or str, got {data.__class__.__name__}")
    if len(data) > 2 * MAX_REPORT_BYTES:
        raise DecodeError(f"report JSON is {len(data)} bytes, limit {2 * MAX_REPORT_BYTES}")
    try:
        report = msgspec.json.decode(data, type=Report)
    except (msgspec.MsgspecError, UnicodeError, RecursionError) as exc:  # msgspec lets these out
        raise DecodeError(str(exc)) from exc
    if len(encode_report(report)) > MAX_REPORT_BYTES:
        raise DecodeError(f"report exceeds {MAX_REPORT_BYTES} bytes")
    return report


def decode_body(report: Report | UnsignedReport, struct_type: type[T]) -> T:
    """Decode a report's body as the network's Struct; DecodeError otherwise.

    Non-canonical bodies are refused too, so two bodies that mean the same
    thing are always the same bytes (and reports have one id per meaning).
    """
    value = canonical_decode(report.body, struct_type)
    if canonical_encode(value) != report.body:
        raise DecodeError("report body is not in canonical encoding")
    return value
