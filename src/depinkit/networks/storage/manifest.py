"""The consumer's file manifest: what it needs, with its key, to fetch and repair a file.

A manifest names the file (a random 32-byte id, also the receipt channel of its deals),
its plaintext size, the coding (k of n, the sealed segment size), the cipher, and for
every segment its sealed length and its n pieces: number, Merkle root (the piece's name
and the root storage proofs are checked against) and placement (provider address and
URL). It never holds the key: that stays in the consumer's keyring, so a manifest can be
registered with the oracles as the deal's terms and shown to repairers.

Stored as JSON (bytes as base64, msgspec's convention), written atomically.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Final

import msgspec

from depinkit.networks.errors import NetworkError
from depinkit.networks.storage.crypto import CIPHER, FILE_ID_BYTES
from depinkit.networks.storage.erasure import check_params, piece_size
from depinkit.networks.storage.pieces import HASH_BYTES, chunk_count

MANIFEST_VERSION: Final[int] = 1  # bumped on any incompatible change of the layout below

_Address = Annotated[str, msgspec.Meta(pattern=r"^0x[0-9a-fA-F]{40}$")]
_Root = Annotated[bytes, msgspec.Meta(min_length=HASH_BYTES, max_length=HASH_BYTES)]


class ManifestError(NetworkError):
    """A manifest that cannot be read or does not hang together."""


class PiecePlacement(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Piece ``number`` of a segment: its root and the provider that holds it."""

    number: Annotated[int, msgspec.Meta(ge=0)]
    root: _Root
    provider: _Address
    url: str


class SegmentEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    index: Annotated[int, msgspec.Meta(ge=0)]
    length: Annotated[int, msgspec.Meta(ge=0)]  # sealed bytes (plaintext + AEAD tag)
    pieces: tuple[PiecePlacement, ...]


class Manifest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One stored file, as its consumer keeps it."""

    file_id: Annotated[bytes, msgspec.Meta(min_length=FILE_ID_BYTES, max_length=FILE_ID_BYTES)]
    name: str
    size: Annotated[int, msgspec.Meta(ge=0)]  # plaintext bytes
    k: int
    n: int
    segment_bytes: Annotated[int, msgspec.Meta(gt=0)]  # sealed bytes per segment (last shorter)
    consumer: _Address
    created_ms: Annotated[int, msgspec.Meta(ge=0)]
    segments: tuple[SegmentEntry, ...]
    cipher: str = CIPHER
    version: int = MANIFEST_VERSION

    @property
    def file_hex(self) -> str:
        return self.file_id.hex()

    def piece_size(self, segment: int) -> int:
        return piece_size(self.segments[segment].length, self.k)

    def stored_bytes(self) -> int:
        """Bytes the file occupies across providers (every piece of every segment)."""
        return sum(self.piece_size(s.index) * len(s.pieces) for s in self.segments)

    def providers(self) -> list[str]:
        return sorted({p.provider for s in self.segments for p in s.pieces})

    def pieces_on(self, provider: str) -> list[tuple[int, PiecePlacement]]:
        """(segment index, piece) held by ``provider``, in segment order."""
        return [(s.index, p) for s in self.segments for p in s.pieces if p.provider == provider]

    def chunks(self, segment: int) -> int:
        """Chunks in each piece of ``segment`` (what proofs sample from)."""
        return chunk_count(self.piece_size(segment))


def validate(manifest: Manifest) -> Manifest:
    """ManifestError unless the manifest is internally consistent."""
    try:
        check_params(manifest.k, manifest.n)
    except NetworkError as exc:
        raise ManifestError(str(exc)) from None
    if manifest.version != MANIFEST_VERSION:
        raise ManifestError(f"manifest version {manifest.version}, expected {MANIFEST_VERSION}")
    if manifest.cipher != CIPHER:
        raise ManifestError(f"unknown cipher {manifest.cipher!r}")
    for position, segment in enumerate(manifest.segments):
        if segment.index != position:
            raise ManifestError(f"segment {position} carries index {segment.index}")
        numbers = [p.number for p in segment.pieces]
        if len(set(numbers)) != len(numbers) or any(not 0 <= j < manifest.n for j in numbers):
            raise ManifestError(f"segment {position}: piece numbers must be distinct in [0, n)")
        if segment.length > manifest.segment_bytes:
            raise ManifestError(f"segment {position} is longer than the segment size")
    if not manifest.segments:
        raise ManifestError("a manifest has at least one segment")
    return manifest


def encode_manifest(manifest: Manifest) -> bytes:
    return msgspec.json.encode(manifest)


def decode_manifest(data: bytes) -> Manifest:
    try:
        return validate(msgspec.json.decode(data, type=Manifest))
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ManifestError(f"malformed manifest: {exc}") from None


def save_manifest(manifest: Manifest, path: Path) -> None:
    """Write atomically (temporary file, fsync, rename): a crash leaves old or new, not half."""
    atomic_write(path, encode_manifest(manifest))


def load_manifest(path: Path) -> Manifest:
    try:
        return decode_manifest(path.read_bytes())
    except OSError as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc.strerror}") from None


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """``data`` at ``path`` durably: written to a sibling temporary file, fsynced, renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (POSIX: the entry lives in the directory)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = [
    "MANIFEST_VERSION",
    "Manifest",
    "ManifestError",
    "PiecePlacement",
    "SegmentEntry",
    "atomic_write",
    "decode_manifest",
    "encode_manifest",
    "fsync_dir",
    "load_manifest",
    "save_manifest",
    "validate",
]
