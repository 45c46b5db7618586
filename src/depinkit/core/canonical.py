"""Canonical msgpack: the one byte form that gets hashed and signed.

Signers and verifiers must agree on bytes, not on values. msgspec with
``order="deterministic"`` sorts dict keys (and sets), while Structs encode in
field order, so one value has one encoding on every machine and Python
version. Decoding is strict (no type coercion) and turns every failure into
our :class:`~depinkit.core.errors.DecodeError`.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from depinkit.core.errors import DecodeError

T = TypeVar("T")

_ENCODER = msgspec.msgpack.Encoder(order="deterministic")  # stateless, safe to share


def canonical_encode(obj: Any) -> bytes:
    """The canonical msgpack bytes of ``obj`` (a Struct, or plain data)."""
    return _ENCODER.encode(obj)


def canonical_decode(data: bytes | bytearray | memoryview, type: type[T]) -> T:
    """Decode ``data`` as exactly one ``type`` value; DecodeError otherwise.

    Trailing bytes, wrong types and violated constraints all fail.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(f"expected bytes, got {data.__class__.__name__}")
    try:
        return msgspec.msgpack.decode(data, type=type)
    except (msgspec.MsgspecError, UnicodeError, RecursionError) as exc:  # msgspec lets these out
        raise DecodeError(str(exc)) from exc


def is_canonical(data: bytes, struct_type: type[Any]) -> bool:
    """True when ``data`` decodes as ``struct_type`` and re-encodes to the same bytes.

    msgpack allows several encodings of one value (an int in a wider width,
    a short list with a trailing default omitted); checking this keeps a
    signed payload from having look-alike twins.
    """
    try:
        value = canonical_decode(data, struct_type)
    except DecodeError:
        return False
    return canonical_encode(value) == bytes(data)
