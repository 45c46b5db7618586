"""depinkit.core.merkle: StandardMerkleTree compatibility and proof soundness."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from depinkit.core import merkle
from depinkit.core.errors import DepinkitError
from depinkit.core.merkle import MerkleError, build, leaf_hash, process_proof, verify

# The example of @openzeppelin/merkle-tree's README: two (address, uint256) values.
OZ_VALUES = [
    ("0x1111111111111111111111111111111111111111", 5_000_000_000_000_000_000),
    ("0x2222222222222222222222222222222222222222", 2_500_000_000_000_000_000),
]
OZ_ROOT = "0xd4dee0beab2d53f2cc83e567171bd2820e49898130a22622b10ead383e90bd77"
OZ_LEAF_0 = "0xeb02c421cfa48976e66dfb29120745909ea3a0f843456c263cf8f1253483e283"
OZ_LEAF_1 = "0xb92c48e9d7abe27fd8dfd6b5dfdbfb1c9a463f80c712b66f3a5180a090cccafc"

addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
amounts = st.integers(min_value=0, max_value=merkle.UINT256_MAX)
entry_lists = st.dictionaries(addresses, amounts, min_size=1, max_size=40).map(
    lambda d: list(d.items())
)


def test_matches_openzeppelin_readme_example() -> None:
    tree = build(OZ_VALUES)
    assert tree.root_hex == OZ_ROOT
    assert [("0x" + n.hex()) for n in tree.nodes] == [OZ_ROOT, OZ_LEAF_0, OZ_LEAF_1]
    assert tree.proof_hex(0) == [OZ_LEAF_1]
    assert tree.proof_hex(OZ_VALUES[1][0]) == [OZ_LEAF_0]
    assert "0x" + leaf_hash(*OZ_VALUES[0]).hex() == OZ_LEAF_0


def test_single_leaf_tree_has_empty_proof() -> None:
    tree = build([OZ_VALUES[0]])
    assert tree.root_hex == OZ_LEAF_0
    assert tree.proof(0) == []
    assert verify(tree.root, *OZ_VALUES[0], [])


def test_account_lookup_is_case_insensitive() -> None:
    account = "0xAbCdEf0123456789abcdef0123456789ABCDEF01"
    tree = build([(account, 7), OZ_VALUES[0]])
    assert tree.proof(account.lower()) == tree.proof(0)
    assert tree.amount_of(account.upper().replace("0X", "0x")) == 7


@given(entry_lists)
@settings(max_examples=60, deadline=None)
def test_every_proof_verifies(entries: list[tuple[str, int]]) -> None:
    tree = build(entries)
    for i, (account, amount) in enumerate(entries):
        proof = tree.proof(i)
        assert proof == tree.proof(account)
        assert verify(tree.root, account, amount, proof)
        # depth of a complete binary tree array: at most ceil(log2(n)) + 1 siblings
        assert len(proof) <= len(entries).bit_length()


@given(entry_lists, st.data())
@settings(max_examples=60, deadline=None)
def test_tampered_claims_do_not_verify(entries: list[tuple[str, int]], data: st.DataObject) -> None:
    tree = build(entries)
    i = data.draw(st.integers(0, len(entries) - 1))
    account, amount = entries[i]
    proof = tree.proof(i)
    other_amount = data.draw(amounts.filter(lambda a: a != amount))
    assert not verify(tree.root, account, other_amount, proof)
    other_account = data.draw(addresses.filter(lambda a: a != account))
    assert not verify(tree.root, other_account, amount, proof)
    if proof:
        j = data.draw(st.integers(0, len(proof) - 1))
        flip = data.draw(st.integers(0, 255))
        bad = bytearray(proof[j])
        bad[flip % 32] ^= 1 + (flip % 255)
        tampered = [*proof[:j], bytes(bad), *proof[j + 1 :]]
        assert not verify(tree.root, account, amount, tampered)
        assert not verify(tree.root, account, amount, proof[:-1])
    else:
        assert not verify(tree.root, account, amount, [tree.root])


@given(entry_lists, st.randoms(use_true_random=False))
@settings(max_examples=30, deadline=None)
def test_root_does_not_depend_on_input_order(entries: list[tuple[str, int]], rnd: object) -> None:
    shuffled = list(entries)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert build(shuffled).root == build(entries).root


def test_process_proof_rebuilds_root_for_all_leaves_of_uneven_tree() -> None:
    entries = [("0x" + bytes([i]).hex() * 20, i * 10**18) for i in range(1, 12)]
    tree = build(entries)
    for i, (account, amount) in enumerate(entries):
        assert process_proof(leaf_hash(account, amount), tree.proof(i)) == tree.root


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([], "at least one leaf"),
        ([("0x1234", 1)], "20-byte"),
        ([("1111111111111111111111111111111111111111", 1)], "20-byte"),
        ([("0x" + "zz" * 20, 1)], "not hex"),
        ([(OZ_VALUES[0][0], -1)], "uint256 range"),
        ([(OZ_VALUES[0][0], 2**256)], "uint256 range"),
        ([(OZ_VALUES[0][0], 1.5)], "must be an int"),
        ([OZ_VALUES[0], (OZ_VALUES[0][0].upper().replace("0X", "0x"), 3)], "twice"),
    ],
)
def test_bad_input_raises_merkle_error(entries: list[tuple[str, int]], message: str) -> None:
    with pytest.raises(MerkleError, match=message):
        build(entries)


def test_merkle_error_is_a_depinkit_error() -> None:
    assert issubclass(MerkleError, DepinkitError)


def test_unknown_account_and_index() -> None:
    tree = build(OZ_VALUES)
    with pytest.raises(MerkleError, match="not in tree"):
        tree.proof("0x3333333333333333333333333333333333333333")
    with pytest.raises(MerkleError, match="out of range"):
        tree.proof(2)
    with pytest.raises(MerkleError, match="32 bytes"):
        process_proof(tree.root, [b"short"])
    assert not verify(tree.root, OZ_VALUES[0][0], OZ_VALUES[0][1], [b"short"])


def test_large_tree_proofs() -> None:
    """A 20,000-leaf tree: depth 15, spot-checked proofs (the 1M case is in bench/)."""
    entries = [(i.to_bytes(20, "big"), i) for i in range(1, 20_001)]
    tree = build(entries)
    for i in (0, 1, 9_999, 19_999):
        account, amount = entries[i]
        proof = tree.proof(i)
        assert 14 <= len(proof) <= 15
        assert verify(tree.root, account, amount, proof)


def test_dump_matches_openzeppelin_and_loads_back() -> None:
    tree = build(OZ_VALUES)
    dump = tree.dump()
    assert dump["format"] == "standard-v1"
    assert dump["leafEncoding"] == ["address", "uint256"]
    assert dump["tree"] == [OZ_ROOT, OZ_LEAF_0, OZ_LEAF_1]
    assert dump["values"][0] == {
        "value": [OZ_VALUES[0][0], "5000000000000000000"],
        "treeIndex": 1,
    }
    assert merkle.load(json.loads(json.dumps(dump))).root == tree.root


def test_load_refuses_tampered_or_malformed_dumps() -> None:
    dump = build(OZ_VALUES).dump()
    dump["values"][0]["value"][1] = "6000000000000000000"
    with pytest.raises(MerkleError, match="does not match"):
        merkle.load(dump)
    with pytest.raises(MerkleError, match="standard-v1"):
        merkle.load({**build(OZ_VALUES).dump(), "leafEncoding": ["uint256"]})
    with pytest.raises(MerkleError, match="malformed"):
        merkle.load({"format": "standard-v1"})


@settings(max_examples=60, deadline=None)
@given(
    entries=st.dictionaries(
        st.binary(min_size=20, max_size=20), st.integers(0, 2**256 - 1), min_size=1, max_size=40
    )
)
def test_the_root_of_packed_leaves_is_the_trees_root(entries: dict[bytes, int]) -> None:
    accounts, amounts = list(entries), list(entries.values())
    packed = merkle.pack_leaves(accounts, amounts)
    assert merkle.root_of_packed(packed) == build(zip(accounts, amounts, strict=True)).root


@pytest.mark.parametrize("packed", [b"", b"\x00" * 63, b"\x00" * 65])
def test_packed_leaves_must_be_whole_encodings(packed: bytes) -> None:
    with pytest.raises(MerkleError, match="multiple of 64"):
        merkle.root_of_packed(packed)
