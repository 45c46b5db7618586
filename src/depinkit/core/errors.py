"""The one exception hierarchy of depinkit.

Every error the project raises on purpose derives from ``DepinkitError``, so a
service edge can catch ours and let genuine bugs surface. Each layer adds its
own subclasses next to its code; the ones here belong to ``depinkit.core``.
Argument errors also derive from ``ValueError`` so ordinary Python callers
that already catch ``ValueError`` keep working.
"""

from __future__ import annotations


class DepinkitError(Exception):
    """Base of every error depinkit raises deliberately."""


class InvalidSignature(DepinkitError):
    """A signature is malformed, malleable (high s), or from the wrong key or domain."""


class DecodeError(DepinkitError):
    """Bytes from outside do not decode to the expected, well-formed value."""


class KeystoreError(DepinkitError):
    """A keystore cannot be written, read, or decrypted (wrong passphrase included)."""


class InvalidKey(DepinkitError, ValueError):
    """Bytes or text that are not a valid secp256k1 private key."""


class InvalidAddress(DepinkitError, ValueError):
    """Text that is not a 20-byte hex address, or whose mixed case fails EIP-55."""
