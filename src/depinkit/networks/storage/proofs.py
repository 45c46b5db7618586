"""Storage proofs: making them (provider) and checking them (oracle) against the piece root
fixed at deal time (docs/networks/storage.md, "Proofs").

A piece proof answers this epoch's challenge (:func:`challenged_chunks`) of one piece: the
challenged chunks in challenge order, each with its Merkle path. It is valid exactly when
the indices are the challenge and every chunk hashes up to the deal's root with the
tree shape the deal's piece size fixes (:func:`depinkit.networks.storage.pieces.verify_chunk`
with ``chunks``), so a proof for one challenge, root, size or provider never passes another.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from depinkit.core.canonical import canonical_encode
from depinkit.core.envelope import MAX_REPORT_BYTES
from depinkit.networks.storage.challenge import challenged_chunks
from depinkit.networks.storage.pieces import (
    CHUNK_BYTES,
    chunk_count,
    prove_from_levels,
    verify_chunk,
)
from depinkit.networks.storage.schemas import (
    MAX_PROOF_PIECES,
    ChunkProof,
    PieceProof,
    PieceTerms,
    StorageProof,
)

WRONG_CHALLENGE: Final[str] = "wrong_challenge"  # chunk indices are not this epoch's challenge
BAD_PROOF: Final[str] = "bad_proof"  # a chunk does not hash up to the deal's piece root
ENVELOPE_RESERVE: Final[int] = 1_024  # bytes: the envelope around a body, with room to spare
PROOF_BODY_BUDGET: Final[int] = MAX_REPORT_BYTES - ENVELOPE_RESERVE  # bytes per proof body


def check_piece_proof(
    entropy: bytes, piece: PieceTerms, proof: PieceProof, chunks_per_piece: int
) -> str | None:
    """None when ``proof`` proves ``piece`` for this epoch, else the reason code."""
    chunks = chunk_count(piece.size)
    expected = challenged_chunks(entropy, piece.root, piece.provider, chunks, chunks_per_piece)
    if tuple(c.index for c in proof.chunks) != expected:
        return WRONG_CHALLENGE
    for answered in proof.chunks:
        if not verify_chunk(
            piece.root, answered.index, answered.data, answered.path, chunks=chunks
        ):
            return BAD_PROOF
    return None


def prove_piece(
    entropy: bytes,
    piece: PieceTerms,
    deal_id: bytes,
    tree: Sequence[Sequence[bytes]],
    data: bytes | memoryview,
    chunks_per_piece: int,
) -> PieceProof:
    """The provider's proof of ``piece`` (its bytes ``data``, tree ``pieces.levels(data)``)."""
    chunks = chunk_count(piece.size)
    indices = challenged_chunks(entropy, piece.root, piece.provider, chunks, chunks_per_piece)
    size = CHUNK_BYTES
    return PieceProof(
        deal_id=deal_id,
        segment=piece.segment,
        index=piece.index,
        chunks=[
            ChunkProof(
                index=i,
                data=bytes(data[i * size : (i + 1) * size]),
                path=prove_from_levels(tree, i),
            )
            for i in indices
        ],
    )


def pack_proofs(
    proofs: Iterable[PieceProof], budget: int = PROOF_BODY_BUDGET
) -> list[StorageProof]:
    """Piece proofs grouped into as few ``proof`` bodies as fit one report each, in order."""
    bodies: list[StorageProof] = []
    batch: list[PieceProof] = []
    used = 0
    for proof in proofs:
        size = len(canonical_encode(proof)) + 8  # + array header slack
        if batch and (used + size > budget or len(batch) == MAX_PROOF_PIECES):
            bodies.append(StorageProof(pieces=batch))
            batch, used = [], 0
        batch.append(proof)
        used += size
    if batch:
        bodies.append(StorageProof(pieces=batch))
    return bodies
