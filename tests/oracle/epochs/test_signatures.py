"""RewardRoot signatures: verified against the digest and the oracle set, ordered by signer."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from depinkit.core.keys import Account, recover_address
from depinkit.oracle.epochs.errors import SignatureRejected
from depinkit.oracle.epochs.signatures import quorum, sign_root, verify_signature

KEYS = [Account.generate() for _ in range(8)]
DIGEST = b"\x42" * 32


@settings(max_examples=50)
@given(
    chosen=st.lists(st.integers(min_value=0, max_value=7), min_size=1, max_size=8, unique=True),
    threshold=st.integers(min_value=1, max_value=8),
)
def test_quorum_is_ordered_by_signer(chosen: list[int], threshold: int) -> None:
    signed = dict(sign_root(KEYS[i], DIGEST) for i in chosen)
    picked = quorum(signed, threshold)
    if threshold > len(chosen):
        assert picked is None
        return
    assert picked is not None and len(picked) == len(chosen)
    signers = [int(recover_address(DIGEST, sig), 16) for sig in picked]
    assert signers == sorted(signers) and len(set(signers)) == len(signers)


def test_verify_accepts_members_only() -> None:
    members = [k.address for k in KEYS[:3]]
    signer, signature = sign_root(KEYS[1], DIGEST)
    assert verify_signature(DIGEST, signature, members, claimed=signer.lower()) == signer
    with pytest.raises(SignatureRejected, match="not in the oracle set"):
        verify_signature(DIGEST, KEYS[5].sign_digest(DIGEST), members)
    with pytest.raises(SignatureRejected, match=r"not .*another root"):
        verify_signature(b"\x43" * 32, signature, members, claimed=signer)
    with pytest.raises(SignatureRejected, match="65 bytes"):
        verify_signature(DIGEST, signature[:64], members)
    with pytest.raises(SignatureRejected, match="recover"):
        verify_signature(DIGEST, signature[:64] + b"\x05", members)
    assert quorum({}, 0) is None
