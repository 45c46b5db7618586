"""Client-side encryption of a file: ChaCha20-Poly1305 per segment, one random key per file.

The consumer encrypts before anything leaves its machine; providers, auditors and
repairers only ever see ciphertext. Each file gets a fresh 256-bit key (kept in the
consumer's keyring, never in the manifest and never sent), so nonces can be a counter:
segment ``i`` is sealed under nonce ``i`` (96 bits, big-endian). The associated data
binds a segment to its file, its position and whether it is the last one (the STREAM
construction of Hoang, Reyhanitabar, Rogaway and Vizar), so segments cannot be swapped,
reordered, spliced from another file or cut off at the end without decryption failing::

    aad(file_id, i, final) = AAD_TAG || file_id (32 bytes) || i (8 bytes, big-endian)
                             || final (1 byte: 1 for the last segment, else 0)

Streaming: :func:`encrypt_stream` and :func:`decrypt_stream` hold one segment (plus one
read ahead, to know which is last) in memory whatever the file size.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import BinaryIO, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from depinkit.networks.errors import NetworkError

CIPHER: Final[str] = "chacha20-poly1305"  # RFC 8439; constant time without AES-NI too
KEY_BYTES: Final[int] = 32  # 256-bit key, one per file
NONCE_BYTES: Final[int] = 12  # RFC 8439 nonce: the segment index, big-endian
TAG_BYTES: Final[int] = 16  # Poly1305 tag appended to each segment
FILE_ID_BYTES: Final[int] = 32  # random file id, also the deal's receipt channel
AAD_TAG: Final[bytes] = b"depinkit/storage/segment/v1"  # domain separation of the aad
MAX_SEGMENTS: Final[int] = 2**64  # the index fills 8 bytes of the nonce


class DecryptionError(NetworkError):
    """A segment does not authenticate: wrong key, tampered, reordered or truncated."""


def new_key() -> bytes:
    """A fresh per-file key from the operating system's CSPRNG."""
    return ChaCha20Poly1305.generate_key()


def new_file_id() -> bytes:
    return os.urandom(FILE_ID_BYTES)


def segment_nonce(index: int) -> bytes:
    if not 0 <= index < MAX_SEGMENTS:
        raise ValueError(f"segment index out of range: {index}")
    return index.to_bytes(NONCE_BYTES, "big")


def segment_aad(file_id: bytes, index: int, final: bool) -> bytes:
    if len(file_id) != FILE_ID_BYTES:
        raise ValueError(f"file id must be {FILE_ID_BYTES} bytes")
    return AAD_TAG + file_id + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")


def _aead(key: bytes) -> ChaCha20Poly1305:
    if len(key) != KEY_BYTES:
        raise ValueError(f"key must be {KEY_BYTES} bytes")
    return ChaCha20Poly1305(key)


def encrypt_segment(
    key: bytes, file_id: bytes, index: int, plaintext: bytes, *, final: bool
) -> bytes:
    """Segment ``index`` sealed: ciphertext || 16-byte tag."""
    aad = segment_aad(file_id, index, final)
    return _aead(key).encrypt(segment_nonce(index), plaintext, aad)


def decrypt_segment(
    key: bytes, file_id: bytes, index: int, ciphertext: bytes, *, final: bool
) -> bytes:
    """The plaintext of segment ``index``; DecryptionError if it does not authenticate."""
    aad = segment_aad(file_id, index, final)
    try:
        return _aead(key).decrypt(segment_nonce(index), ciphertext, aad)
    except InvalidTag:
        raise DecryptionError(
            f"segment {index} does not authenticate (wrong key, tampered or out of place)"
        ) from None


def plaintext_segments(size: int, segment_plain_bytes: int) -> int:
    """Segments of a ``size``-byte file; an empty file still has one (empty) segment."""
    if segment_plain_bytes <= 0:
        raise ValueError("segment size must be positive")
    return max(1, -(-size // segment_plain_bytes))


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    parts = []
    left = n
    while left:
        part = stream.read(left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def encrypt_stream(
    key: bytes, file_id: bytes, stream: BinaryIO, segment_plain_bytes: int
) -> Iterator[bytes]:
    """Sealed segments of ``stream`` in order, the last one flagged final; bounded memory."""
    current = _read_exact(stream, segment_plain_bytes)
    index = 0
    while True:
        ahead = (
            _read_exact(stream, segment_plain_bytes) if len(current) == segment_plain_bytes else b""
        )
        final = not ahead
        yield encrypt_segment(key, file_id, index, current, final=final)
        if final:
            return
        current, index = ahead, index + 1


def decrypt_stream(key: bytes, file_id: bytes, segments: Iterable[bytes]) -> Iterator[bytes]:
    """Plaintext of sealed segments given in order; DecryptionError on any bad or missing one.

    The final flag is checked on the segment the caller says is last, so a stream cut short
    (or extended) fails rather than yielding a prefix.
    """
    iterator = iter(segments)
    try:
        current = next(iterator)
    except StopIteration:
        raise DecryptionError("no segments to decrypt") from None
    index = 0
    for ahead in iterator:
        yield decrypt_segment(key, file_id, index, current, final=False)
        current, index = ahead, index + 1
    yield decrypt_segment(key, file_id, index, current, final=True)


__all__ = [
    "CIPHER",
    "FILE_ID_BYTES",
    "KEY_BYTES",
    "TAG_BYTES",
    "DecryptionError",
    "decrypt_segment",
    "decrypt_stream",
    "encrypt_segment",
    "encrypt_stream",
    "new_file_id",
    "new_key",
    "plaintext_segments",
    "segment_aad",
    "segment_nonce",
]
