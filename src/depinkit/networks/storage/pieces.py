"""Content addressing of pieces: a piece's name is the Merkle root over its 1 KiB chunks.

A piece (one erasure-coded share of one segment) is cut into ``CHUNK_BYTES`` chunks; the
last one may be shorter. The tree is binary over the chunk hashes, padded on the right to
a power of two with ``EMPTY_LEAF`` (a value no chunk hashes to), so an inclusion proof is
exactly ``depth`` sibling hashes and the bits of the chunk index say left or right at each
level. Leaves and inner nodes are hashed under different one-byte prefixes (RFC 6962
style), so no inner node can be passed off as a chunk::

    leaf(chunk)  = sha256(0x00 || chunk)
    node(l, r)   = sha256(0x01 || l || r)
    root(piece)  = node(...node(leaf(c0), leaf(c1))..., EMPTY_LEAF ...)

sha256 because hashlib runs it on SHA-NI where the CPU has it (~3x blake2b here) and
every EVM and oracle language has it; the root is fixed at deal time and both the storage
proofs (``proofs.py``) and the retrieval audits check chunks against it.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

CHUNK_BYTES: Final[int] = 1024  # 1 KiB: a proof for a 16 MiB piece is 14 x 32 = 448 bytes
HASH_BYTES: Final[int] = 32  # sha256 digest
MAX_DEPTH: Final[int] = 32  # levels: 2**32 chunks = 4 TiB per piece, far above any piece
LEAF_PREFIX: Final[bytes] = b"\x00"  # RFC 6962 domain separation: a leaf ...
NODE_PREFIX: Final[bytes] = b"\x01"  # ... is never an inner node
EMPTY_LEAF: Final[bytes] = bytes(HASH_BYTES)  # padding leaf: sha256 preimage unknown, never a chunk

Proof = list[bytes]  # sibling hashes from the leaf level up; len(proof) == depth of the tree

_LEAF = hashlib.sha256(LEAF_PREFIX)
_NODE = hashlib.sha256(NODE_PREFIX)


def _node(left: bytes, right: bytes) -> bytes:
    h = _NODE.copy()
    h.update(left)
    h.update(right)
    return h.digest()


def _empty_subtrees() -> tuple[bytes, ...]:
    out = [EMPTY_LEAF]
    for _ in range(MAX_DEPTH):
        out.append(_node(out[-1], out[-1]))
    return tuple(out)


EMPTY: Final[tuple[bytes, ...]] = _empty_subtrees()  # EMPTY[d]: root of an all-padding subtree


def chunk_count(size: int) -> int:
    """Chunks in a piece of ``size`` bytes (the last one may be short); ValueError if empty."""
    if type(size) is not int or size <= 0:
        raise ValueError(f"a piece has at least one byte, got size {size!r}")
    count = -(-size // CHUNK_BYTES)
    if count > 1 << MAX_DEPTH:
        raise ValueError(f"piece of {size} bytes exceeds 2**{MAX_DEPTH} chunks")
    return count


def depth(chunks: int) -> int:
    """Tree depth (= proof length) for ``chunks`` leaves: ceil(log2(chunks)), 0 for one."""
    if chunks <= 0:
        raise ValueError("a tree has at least one leaf")
    return (chunks - 1).bit_length()


def chunk(piece: bytes | memoryview, index: int) -> bytes:
    """Chunk ``index`` of ``piece``; IndexError outside the piece."""
    if not 0 <= index < chunk_count(len(piece)):
        raise IndexError(f"chunk {index} outside a piece of {len(piece)} bytes")
    return bytes(piece[index * CHUNK_BYTES : (index + 1) * CHUNK_BYTES])


def leaf_hash(data: bytes | memoryview) -> bytes:
    h = _LEAF.copy()
    h.update(data)
    return h.digest()


def leaves(piece: bytes | memoryview) -> list[bytes]:
    """The leaf hash of every chunk, in order."""
    view = memoryview(piece)
    count = chunk_count(len(view))
    base = _LEAF
    out = []
    for start in range(0, count * CHUNK_BYTES, CHUNK_BYTES):
        h = base.copy()
        h.update(view[start : start + CHUNK_BYTES])
        out.append(h.digest())
    return out


def levels(piece: bytes | memoryview) -> list[list[bytes]]:
    """Every level of the tree, leaves first and the one-element root level last.

    A level of odd length is completed with the empty subtree of that height, which is
    what padding the leaves to a power of two would give, without hashing the padding.
    """
    level = leaves(piece)
    out = [level]
    height = 0
    while len(level) > 1:
        if len(level) % 2:
            level = [*level, EMPTY[height]]
        level = [_node(level[i], level[i + 1]) for i in range(0, len(level), 2)]
        out.append(level)
        height += 1
    return out


def piece_root(piece: bytes | memoryview) -> bytes:
    """The 32-byte name of a piece (see the module docstring)."""
    return levels(piece)[-1][0]


def prove_from_levels(tree: Sequence[Sequence[bytes]], index: int) -> Proof:
    """The inclusion proof of leaf ``index`` from :func:`levels` output (no rehashing)."""
    if not 0 <= index < len(tree[0]):
        raise IndexError(f"chunk {index} outside a tree of {len(tree[0])} chunks")
    proof: Proof = []
    position = index
    for height, level in enumerate(tree[:-1]):
        sibling = position ^ 1
        proof.append(level[sibling] if sibling < len(level) else EMPTY[height])
        position >>= 1
    return proof


def prove(piece: bytes | memoryview, index: int) -> Proof:
    """The inclusion proof of chunk ``index`` of ``piece`` against :func:`piece_root`."""
    return prove_from_levels(levels(piece), index)


def root_from_proof(index: int, chunk_data: bytes | memoryview, proof: Sequence[bytes]) -> bytes:
    """The root that ``chunk_data`` at ``index`` with ``proof`` hashes up to."""
    node = leaf_hash(chunk_data)
    position = index
    for sibling in proof:
        node = _node(sibling, node) if position & 1 else _node(node, sibling)
        position >>= 1
    return node


def verify_chunk(
    root: bytes,
    index: int,
    chunk_data: bytes | memoryview,
    proof: Sequence[bytes],
    *,
    chunks: int | None = None,
) -> bool:
    """True iff ``chunk_data`` is chunk ``index`` of the piece named ``root``.

    The index must fit in ``len(proof)`` bits, so a proof for one index never checks for
    another. ``chunks`` (the piece's chunk count from the deal, optional) also pins the
    tree depth and the index range, and the length of the last chunk.
    """
    if not isinstance(root, bytes) or len(root) != HASH_BYTES:
        return False
    if type(index) is not int or index < 0 or len(proof) > MAX_DEPTH:
        return False
    if index >> len(proof):
        return False
    if not 1 <= len(chunk_data) <= CHUNK_BYTES:
        return False
    if any(not isinstance(s, bytes) or len(s) != HASH_BYTES for s in proof):
        return False
    if chunks is not None:
        if not 0 <= index < chunks or len(proof) != depth(chunks):
            return False
        if index < chunks - 1 and len(chunk_data) != CHUNK_BYTES:
            return False
    return root_from_proof(index, chunk_data, proof) == root


def proof_bytes(chunks: int) -> int:
    """Size of one proof in bytes for a piece of ``chunks`` chunks (siblings only)."""
    return depth(chunks) * HASH_BYTES


__all__ = [
    "CHUNK_BYTES",
    "EMPTY_LEAF",
    "HASH_BYTES",
    "MAX_DEPTH",
    "Proof",
    "chunk",
    "chunk_count",
    "depth",
    "leaf_hash",
    "leaves",
    "levels",
    "piece_root",
    "proof_bytes",
    "prove",
    "prove_from_levels",
    "root_from_proof",
    "verify_chunk",
]
