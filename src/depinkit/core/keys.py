"""secp256k1 identities: one key type for devices, owners and oracles.

Every participant is an EVM address, so the same signature a device puts on a
report can be checked by an oracle in Python and by a contract with
``ecrecover``/OpenZeppelin ``ECDSA``. Signatures are therefore laid out the way
those verifiers expect (65 bytes ``r || s || v``, ``v`` in {27, 28}) and
malleable high-s signatures are refused, as OpenZeppelin refuses them.

The keystore functions live in :mod:`depinkit.core.keystore`; they are
re-exported here because the spec names them under ``keys``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from coincurve import PrivateKey, PublicKey

from depinkit.core.errors import InvalidAddress, InvalidKey, InvalidSignature

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
"""Order of the secp256k1 group: valid scalars (keys, r, s) lie in [1, N-1]."""

SECP256K1_HALF_N = SECP256K1_N // 2
"""Largest s accepted: EIP-2 / OpenZeppelin ECDSA reject s above N/2 (malleability)."""

DIGEST_BYTES = 32  # bytes: signatures are made over a keccak256 digest, never a raw message
SIGNATURE_BYTES = 65  # bytes: r (32) || s (32) || v (1), the ecrecover layout
PRIVATE_KEY_BYTES = 32  # bytes: a secp256k1 scalar
V_OFFSET = 27  # v = recovery id + 27, as Ethereum's ecrecover expects

_ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}\Z")
_CHECKSUM_UPPER = frozenset("89abcdef")  # EIP-55: upper-case where the hash nibble is >= 8

try:  # safe-pysha3's C keccak is ~7x faster than eth-hash's pycryptodome path
    from sha3 import keccak_256 as _keccak_256

    def keccak256(data: bytes) -> bytes:
        """Ethereum's hash (original Keccak padding, not NIST SHA3-256)."""
        return _keccak_256(data).digest()

except ImportError:  # pragma: no cover - same digest, slower
    from eth_hash.auto import keccak as _eth_hash_keccak

    def keccak256(data: bytes) -> bytes:
        """Ethereum's hash (original Keccak padding, not NIST SHA3-256)."""
        return _eth_hash_keccak(data)


def is_address(s: object) -> bool:
    """True for a 0x-prefixed 20-byte hex string whose case is all-lower,
    all-upper or a correct EIP-55 checksum (mixed case with a typo is refused,
    which is the point of EIP-55)."""
    if not isinstance(s, str) or _ADDRESS_RE.match(s) is None:
        return False
    body = s[2:]
    if body == body.lower() or body == body.upper():
        return True
    return _checksum_of(body.lower()) == s


def to_checksum(address: str) -> str:
    """EIP-55 form of an address; raises InvalidAddress for anything else."""
    if not is_address(address):
        raise InvalidAddress(f"not an address: {address!r}")
    return _checksum_of(address[2:].lower())


def address_bytes(address: str) -> bytes:
    """The 20 raw bytes of an address (validated like :func:`to_checksum`)."""
    if not is_address(address):
        raise InvalidAddress(f"not an address: {address!r}")
    return bytes.fromhex(address[2:])


def _checksum_of(lower_hex: str) -> str:
    hashed = keccak256(lower_hex.encode("ascii")).hex()
    return "0x" + "".join(
        c.upper() if h in _CHECKSUM_UPPER else c for c, h in zip(lower_hex, hashed, strict=False)
    )


def is_checksummed(address: str) -> bool:
    """True only for the exact EIP-55 form (what the wire format requires)."""
    return (
        isinstance(address, str)
        and _ADDRESS_RE.match(address) is not None
        and _checksum_of(address[2:].lower()) == address
    )


def _address_of_public_key(uncompressed: bytes) -> str:
    """Address = last 20 bytes of keccak256(X || Y) of the uncompressed point."""
    return _checksum_of(keccak256(uncompressed[1:])[-20:].hex())


@dataclass(frozen=True, slots=True)
class Account:
    """A secp256k1 private key with its derived address.

    Compared and shown by address only: the secret never appears in a repr
    or a log line by accident.
    """

    address: str
    public_key: bytes = field(repr=False)
    _secret: PrivateKey = field(repr=False, compare=False)

    @classmethod
    def generate(cls) -> Account:
        """A fresh key from the operating system's CSPRNG."""
        return cls._from_private_key(PrivateKey())

    @classmethod
    def from_key(cls, key: bytes | str) -> Account:
        """Load a 32-byte key, given raw or as hex (with or without 0x)."""
        if isinstance(key, str):
            text = key[2:] if key[:2] in ("0x", "0X") else key
            try:
                raw = bytes.fromhex(text)
            except ValueError:
                raise InvalidKey("private key hex is malformed") from None
        elif isinstance(key, bytes | bytearray | memoryview):
            raw = bytes(key)
        else:
            raise InvalidKey(f"private key must be bytes or hex text, not {type(key).__name__}")
        if len(raw) != PRIVATE_KEY_BYTES:
            raise InvalidKey(f"private key must be {PRIVATE_KEY_BYTES} bytes, got {len(raw)}")
        scalar = int.from_bytes(raw, "big")
        if not 0 < scalar < SECP256K1_N:
            raise InvalidKey("private key is outside [1, n-1] of secp256k1")
        return cls._from_private_key(PrivateKey(raw))

    @classmethod
    def _from_private_key(cls, secret: PrivateKey) -> Account:
        public = secret.public_key.format(compressed=False)
        return cls(address=_address_of_public_key(public), public_key=public, _secret=secret)

    @property
    def private_key(self) -> bytes:
        return bytes(self._secret.secret)

    def sign_digest(self, digest: bytes) -> bytes:
        """Sign a 32-byte digest: ``r || s || v`` with low s and v in {27, 28}.

        libsecp256k1 always produces low-s signatures, so what we sign is what
        OpenZeppelin ECDSA and :func:`recover_address` accept.
        """
        if len(digest) != DIGEST_BYTES:
            raise ValueError(f"digest must be {DIGEST_BYTES} bytes, got {len(digest)}")
        sig = self._secret.sign_recoverable(bytes(digest), hasher=None)
        return sig[:64] + bytes((sig[64] + V_OFFSET,))


def recover_address(digest: bytes, signature: bytes) -> str:
    """The checksummed address whose key made ``signature`` over ``digest``.

    Raises InvalidSignature unless the signature is exactly 65 bytes with
    v in {27, 28}, 0 < r < n, 0 < s <= n/2, and recovers to a point.
    """
    return _checksum_of(recover_address_bytes(digest, signature).hex())


def recover_address_bytes(digest: bytes, signature: bytes) -> bytes:
    """Like :func:`recover_address` but the raw 20 bytes (skips the EIP-55 hash)."""
    if len(digest) != DIGEST_BYTES:
        raise ValueError(f"digest must be {DIGEST_BYTES} bytes, got {len(digest)}")
    if not isinstance(signature, bytes | bytearray | memoryview):
        raise InvalidSignature(f"signature must be bytes, not {type(signature).__name__}")
    sig = bytes(signature)
    if len(sig) != SIGNATURE_BYTES:
        raise InvalidSignature(f"signature must be {SIGNATURE_BYTES} bytes, got {len(sig)}")
    v = sig[64]
    if v not in (V_OFFSET, V_OFFSET + 1):
        raise InvalidSignature(f"signature v must be 27 or 28, got {v}")
    r = int.from_bytes(sig[:32], "big")
    s = int.from_bytes(sig[32:64], "big")
    if not 0 < r < SECP256K1_N:
        raise InvalidSignature("signature r is out of range")
    if not 0 < s <= SECP256K1_HALF_N:
        raise InvalidSignature("signature s is zero or high (malleable)")
    try:
        public = PublicKey.from_signature_and_message(
            sig[:64] + bytes((v - V_OFFSET,)), bytes(digest), hasher=None
        )
    except Exception as exc:  # coincurve raises bare Exception/ValueError on failure
        raise InvalidSignature("signature does not recover to a public key") from exc
    return keccak256(public.format(compressed=False)[1:])[-20:]


# Re-exported under ``keys`` as the spec lists them; defined in keystore.py.
from depinkit.core.keystore import load_keystore, save_keystore  # noqa: E402

__all__ = [
    "Account",
    "address_bytes",
    "is_address",
    "is_checksummed",
    "keccak256",
    "load_keystore",
    "recover_address",
    "recover_address_bytes",
    "save_keystore",
    "to_checksum",
]
