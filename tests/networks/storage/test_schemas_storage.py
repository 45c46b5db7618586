"""Storage report bodies: canonical, bounded, signed over domain-bound digests."""

from __future__ import annotations

import msgspec
import pytest
from storage_protocol_kit import (
    AUDITOR,
    CONSUMER,
    DOMAIN,
    PROVIDERS,
    make_file,
    registration,
    signed,
)

from depinkit.core.canonical import canonical_decode, canonical_encode
from depinkit.core.envelope import ReportDomain
from depinkit.core.errors import DecodeError
from depinkit.core.keys import keccak256, recover_address
from depinkit.networks.storage import KINDS, StorageModule, deal_digest, sign_deal
from depinkit.networks.storage.audit import AuditTarget, make_result
from depinkit.networks.storage.schemas import (
    AUDIT_PASS,
    DEAL,
    MAX_DEAL_PIECES,
    CapacityDeclaration,
    DealTerms,
    PieceTerms,
    audit_digest,
    deal_id_for,
    split_deal,
)

OTHER_DOMAIN = ReportDomain(chain_id=1, registry="0x5FbDB2315678afecb367f032d93F642f64180aa3")


def test_every_kind_round_trips_canonically() -> None:
    body = registration(make_file(1).terms)
    assert canonical_decode(canonical_encode(body), KINDS[DEAL]) == body
    assert set(KINDS) == set(StorageModule.kinds)


def test_unknown_fields_and_out_of_range_values_are_refused() -> None:
    with pytest.raises(DecodeError):  # a third field where the struct has two
        canonical_decode(canonical_encode([1, "u", 3]), CapacityDeclaration)
    with pytest.raises(DecodeError):
        canonical_decode(canonical_encode([0, ""]), CapacityDeclaration)  # no capacity
    piece = make_file(1).terms.pieces[0]
    raw = list(msgspec.to_builtins(piece, builtin_types=(bytes,)))
    raw[1] = 256  # a share number zfec cannot make
    with pytest.raises(DecodeError):
        canonical_decode(canonical_encode(raw), PieceTerms)


def test_deal_digest_binds_the_domain_and_every_term() -> None:
    terms = make_file(1).terms
    digest = deal_digest(DOMAIN, terms)
    assert digest != deal_digest(OTHER_DOMAIN, terms)
    assert digest != deal_digest(DOMAIN, msgspec.structs.replace(terms, duration_epochs=2))
    assert recover_address(digest, registration(terms).signature) == CONSUMER.address
    with pytest.raises(ValueError, match="consumer"):
        sign_deal(PROVIDERS[0], DOMAIN, terms)


def test_a_deal_of_max_pieces_fits_one_report() -> None:
    pieces = [
        PieceTerms(2**32 - 40 + s, j, keccak256(bytes([s, j])), 2**42, PROVIDERS[j % 8].address)
        for s in range(MAX_DEAL_PIECES // 5)
        for j in range(5)
    ]
    terms = msgspec.structs.replace(make_file(1).terms, pieces=pieces, duration_epochs=2**62)
    signed(PROVIDERS[0], DEAL, registration(terms))  # sign_report raises above 16 KiB


def test_split_deal_keeps_segments_whole_and_ids_distinct() -> None:
    file = make_file(3, segments=70, piece_bytes=10)
    deals = split_deal(
        file_id=file.terms.file_id,
        consumer=CONSUMER.address,
        k=3,
        n=5,
        pieces=list(reversed(file.terms.pieces)),
        price_gib_epoch=1,
        price_gib_egress=1,
        start_epoch=0,
        duration_epochs=10,
    )
    assert [len(d.pieces) for d in deals] == [160, 160, 30]
    assert [d.deal_id for d in deals] == [deal_id_for(file.terms.file_id, i) for i in range(3)]
    key = lambda x: (x.segment, x.index)  # noqa: E731
    assert sorted((x for d in deals for x in d.pieces), key=key) == file.terms.pieces
    for deal in deals:
        assert isinstance(deal, DealTerms)
        segments = {x.segment for x in deal.pieces}
        assert all(sum(x.segment == s for x in deal.pieces) == 5 for s in segments)


def test_audit_results_are_signed_by_their_auditor_for_one_domain() -> None:
    target = AuditTarget(keccak256(b"d"), 0, 1, PROVIDERS[1].address, 2)
    result = make_result(AUDITOR, DOMAIN, 4, target, AUDIT_PASS, keccak256(b"chunk"))
    assert recover_address(audit_digest(DOMAIN, result), result.signature) == AUDITOR.address
    assert audit_digest(OTHER_DOMAIN, result) != audit_digest(DOMAIN, result)
    assert audit_digest(DOMAIN, msgspec.structs.replace(result, outcome=1)) != audit_digest(
        DOMAIN, result
    )
