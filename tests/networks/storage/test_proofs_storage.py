"""Storage proofs against the piece root fixed at deal time."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st
from storage_protocol_kit import PROVIDERS, entropy, make_file

from depinkit.core.canonical import canonical_encode
from depinkit.core.envelope import MAX_REPORT_BYTES
from depinkit.networks.storage import pieces
from depinkit.networks.storage.proofs import (
    BAD_PROOF,
    WRONG_CHALLENGE,
    check_piece_proof,
    pack_proofs,
    prove_piece,
)
from depinkit.networks.storage.schemas import PieceTerms

FILE = make_file(7, piece_bytes=40_000)  # 40 chunks per piece: a six-level tree
P0 = PROVIDERS[0].address


def piece_and_proof(epoch: int, provider: str = P0, count: int = 2, share: int = 0):
    piece = msgspec.structs.replace(FILE.terms.pieces[share], provider=provider)
    data = FILE.data[(0, share)]
    return piece, prove_piece(entropy(epoch), piece, FILE.deal_id, pieces.levels(data), data, count)


def test_an_honest_proof_passes() -> None:
    piece, proof = piece_and_proof(3)
    assert check_piece_proof(entropy(3), piece, proof, 2) is None
    assert len(proof.chunks) == 2


def test_tampered_data_path_or_terms_fail() -> None:
    piece, proof = piece_and_proof(3)
    first = proof.chunks[0]
    flipped = msgspec.structs.replace(first, data=bytes([first.data[0] ^ 1]) + first.data[1:])
    assert check_piece_proof(entropy(3), piece, _with(proof, flipped), 2) == BAD_PROOF
    short = msgspec.structs.replace(first, path=first.path[:-1])
    assert check_piece_proof(entropy(3), piece, _with(proof, short), 2) == BAD_PROOF
    other_root = msgspec.structs.replace(piece, root=FILE.terms.pieces[1].root)
    assert check_piece_proof(entropy(3), other_root, proof, 2) in (BAD_PROOF, WRONG_CHALLENGE)
    bigger = msgspec.structs.replace(piece, size=piece.size * 2)
    assert check_piece_proof(entropy(3), bigger, proof, 2) in (BAD_PROOF, WRONG_CHALLENGE)
    fewer = msgspec.structs.replace(proof, chunks=proof.chunks[:1])
    assert check_piece_proof(entropy(3), piece, fewer, 2) == WRONG_CHALLENGE


def _with(proof, chunk):
    return msgspec.structs.replace(proof, chunks=[chunk, *proof.chunks[1:]])


@settings(max_examples=60)
@given(
    st.integers(0, 50),
    st.integers(0, 50),
    st.sampled_from(PROVIDERS[:3]),
    st.sampled_from(PROVIDERS[:3]),
    st.integers(0, 4),
    st.integers(0, 4),
)
def test_a_proof_for_one_challenge_never_passes_another(
    epoch_a: int, epoch_b: int, prov_a, prov_b, share_a: int, share_b: int
) -> None:
    _piece_a, proof = piece_and_proof(epoch_a, prov_a.address, share=share_a)
    piece_b, proof_b = piece_and_proof(epoch_b, prov_b.address, share=share_b)
    # the same bytes answer the same question; anything else fails
    same = share_a == share_b and [c.index for c in proof.chunks] == [
        c.index for c in proof_b.chunks
    ]
    assert (check_piece_proof(entropy(epoch_b), piece_b, proof, 2) is None) == same
    if (epoch_a, prov_a) != (epoch_b, prov_b) or share_a != share_b:
        assert proof != proof_b or same


def test_packed_proofs_fit_reports_and_keep_order() -> None:
    big = make_file(8, piece_bytes=200_000, segments=6)  # 8-level trees: ~1.3 KiB per chunk
    proofs = []
    for piece in big.terms.pieces:
        data = big.data[(piece.segment, piece.index)]
        proofs.append(prove_piece(entropy(1), piece, big.deal_id, pieces.levels(data), data, 2))
    bodies = pack_proofs(proofs)
    assert len(bodies) > 1
    assert [p for b in bodies for p in b.pieces] == proofs
    assert all(len(canonical_encode(b)) < MAX_REPORT_BYTES - 512 for b in bodies)


def test_one_chunk_pieces_prove_with_an_empty_path() -> None:
    tiny = make_file(9, piece_bytes=100)
    piece: PieceTerms = tiny.terms.pieces[0]
    data = tiny.data[(0, 0)]
    assert pieces.chunk_count(len(data)) == 1
    proof = prove_piece(entropy(0), piece, tiny.deal_id, pieces.levels(data), data, 4)
    assert [c.path for c in proof.chunks] == [[]]
    assert check_piece_proof(entropy(0), piece, proof, 4) is None
