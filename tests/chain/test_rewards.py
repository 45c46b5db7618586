"""RewardsDistributor: roots on an oracle quorum, lazy cumulative claims, the schedule."""

from __future__ import annotations

import pytest
from chainenv import Env
from eth_account import Account as EthAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3.logs import DISCARD

from depinkit.chain import eip712
from depinkit.chain.errors import (
    ECDSAInvalidSignatureLength,
    EpochNotEnded,
    EpochNotIncreasing,
    InvalidProof,
    LengthMismatch,
    NotAnOracle,
    NotEnoughSignatures,
    NothingToClaim,
    SignersNotSorted,
    TotalAboveSchedule,
    TotalDecreased,
)
from depinkit.core.keys import Account
from depinkit.core.merkle import MerkleTree, build


def emitted_through(epoch: int, initial: int, halving: int, cap: int) -> int:
    """Python model of the schedule: epoch i emits initial >> (i // halving), capped."""
    total = 0
    for i in range(epoch + 1):
        shift = i // halving if halving else 0
        if shift >= 256:
            break
        total += initial >> shift
    return min(total, cap)


def submit(env: Env, epoch: int, tree: MerkleTree | None, total: int, signers=None) -> None:
    rewards = env.depin.rewards
    root = tree.root if tree is not None else b"\x11" * 32
    digest = rewards.root_digest(epoch, root, total)
    sigs = eip712.quorum_signatures(signers if signers is not None else env.oracles[:3], digest)
    rewards.submit_root(env.users[0], epoch, root, total, sigs)


def tree_of(env: Env, amounts: list[int]) -> MerkleTree:
    return build([(u.address, a) for u, a in zip(env.users, amounts, strict=False)])


def test_submit_root_then_claim_pays_the_difference(env: Env) -> None:
    rewards, token = env.depin.rewards, env.depin.token
    alice, bob = env.users[0], env.users[1]
    env.advance_to_epoch(1)
    tree = tree_of(env, [300, 200])
    submit(env, 0, tree, 500)
    assert rewards.root() == tree.root
    assert rewards.last_epoch() == 0
    assert rewards.total_cumulative() == 500
    assert token.balance_of(rewards.address) == 500

    before = token.balance_of(alice.address)
    receipt = rewards.claim_from_tree(bob, tree, alice.address)  # anyone may claim for alice
    assert token.balance_of(alice.address) == before + 300
    assert rewards.claimed(alice.address) == 300
    (event,) = rewards.contract.events.Claimed().process_receipt(receipt, errors=DISCARD)
    assert event["args"]["amount"] == 300
    assert event["args"]["cumulativeAmount"] == 300

    # next epoch: alice's cumulative grows to 450, she gets only the new 150
    env.advance_to_epoch(2)
    tree2 = tree_of(env, [450, 200])
    submit(env, 1, tree2, 650)
    rewards.claim_from_tree(alice, tree2, alice.address)
    assert token.balance_of(alice.address) == before + 450
    assert token.balance_of(rewards.address) == 650 - 450


def test_claim_twice_reverts(env: Env) -> None:
    env.advance_to_epoch(1)
    tree = tree_of(env, [10, 20])
    submit(env, 0, tree, 30)
    alice = env.users[0]
    env.depin.rewards.claim_from_tree(alice, tree, alice.address)
    with pytest.raises(NothingToClaim):
        env.depin.rewards.claim_from_tree(alice, tree, alice.address)


def test_claim_with_bad_proof_reverts_and_changes_nothing(env: Env) -> None:
    env.advance_to_epoch(1)
    tree = tree_of(env, [10, 20])
    submit(env, 0, tree, 30)
    rewards, alice = env.depin.rewards, env.users[0]
    proof = tree.proof(alice.address)
    with pytest.raises(InvalidProof):
        rewards.claim(alice, alice.address, 11, proof)  # inflated amount
    with pytest.raises(InvalidProof):
        rewards.claim(alice, env.users[2].address, 10, proof)  # someone else's leaf
    with pytest.raises(InvalidProof):
        rewards.claim(alice, alice.address, 10, [b"\x00" * 32])
    assert rewards.claimed(alice.address) == 0


def test_claim_many(env: Env) -> None:
    env.advance_to_epoch(1)
    tree = tree_of(env, [10, 20, 30])
    submit(env, 0, tree, 60)
    rewards = env.depin.rewards
    accounts = [u.address for u in env.users]
    proofs = [tree.proof(a) for a in accounts]
    rewards.claim_many(env.deployer, accounts, [10, 20, 30], proofs)
    assert [rewards.claimed(a) for a in accounts] == [10, 20, 30]
    with pytest.raises(LengthMismatch):
        rewards.claim_many(env.deployer, accounts, [10, 20], proofs)


def test_epoch_must_increase(env: Env) -> None:
    env.advance_to_epoch(3)
    submit(env, 1, None, 10)
    with pytest.raises(EpochNotIncreasing) as info:
        submit(env, 1, None, 20)
    assert info.value.error_args == {"last": 1, "got": 1}
    with pytest.raises(EpochNotIncreasing):
        submit(env, 0, None, 20)
    submit(env, 2, None, 20)


def test_epoch_must_have_ended(env: Env) -> None:
    env.advance_to_epoch(1)
    with pytest.raises(EpochNotEnded):
        submit(env, 1, None, 10)  # epoch 1 is the current one
    with pytest.raises(EpochNotEnded):
        submit(env, 5, None, 10)


def test_total_cannot_decrease(env: Env) -> None:
    env.advance_to_epoch(3)
    submit(env, 0, None, 100)
    with pytest.raises(TotalDecreased):
        submit(env, 1, None, 99)


def test_total_above_schedule(env: Env) -> None:
    env.advance_to_epoch(3)
    allowed = env.depin.rewards.emitted_through(1)
    with pytest.raises(TotalAboveSchedule) as info:
        submit(env, 1, None, allowed + 1)
    assert info.value.error_args == {"total": allowed + 1, "emitted": allowed}
    submit(env, 1, None, allowed)
    assert env.depin.rewards.total_cumulative() == allowed


def test_emitted_through_matches_the_model(env: Env) -> None:
    rewards = env.depin.rewards
    params = env.depin.deployment.parameters
    cap = rewards.emission_cap()
    assert cap == env.config.cap - env.config.initial_supply
    for epoch in (0, 1, 7, 1000):
        model = emitted_through(
            epoch, params["emission.initial"], params["emission.halvingEpochs"], cap
        )
        assert rewards.emitted_through(epoch) == model


def test_fewer_than_threshold_signatures(env: Env) -> None:
    env.advance_to_epoch(1)
    with pytest.raises(NotEnoughSignatures) as info:
        submit(env, 0, None, 10, signers=env.oracles[:2])
    assert info.value.error_args == {"got": 2, "need": 3}


def test_duplicate_signatures_rejected(env: Env) -> None:
    env.advance_to_epoch(1)
    rewards = env.depin.rewards
    digest = rewards.root_digest(0, b"\x11" * 32, 10)
    sigs = eip712.quorum_signatures(env.oracles[:2], digest)
    with pytest.raises(SignersNotSorted):
        rewards.submit_root(env.users[0], 0, b"\x11" * 32, 10, [sigs[0], sigs[0], sigs[1]])
    reversed_sigs = list(reversed(eip712.quorum_signatures(env.oracles[:3], digest)))
    with pytest.raises(SignersNotSorted):
        rewards.submit_root(env.users[0], 0, b"\x11" * 32, 10, reversed_sigs)


def test_wrong_signer_rejected(env: Env) -> None:
    env.advance_to_epoch(1)
    outsider = Account.generate()
    with pytest.raises(NotAnOracle) as info:
        submit(env, 0, None, 10, signers=[*env.oracles[:2], outsider])
    assert info.value.error_args["signer"] == outsider.address


def test_malformed_signature_rejected(env: Env) -> None:
    env.advance_to_epoch(1)
    rewards = env.depin.rewards
    sigs = eip712.quorum_signatures(env.oracles[:3], rewards.root_digest(0, b"\x11" * 32, 10))
    with pytest.raises(ECDSAInvalidSignatureLength):
        rewards.submit_root(env.users[0], 0, b"\x11" * 32, 10, [*sigs[:2], sigs[2][:64]])


@pytest.mark.parametrize("replay", ["chain_id", "contract", "epoch", "total"])
def test_signature_for_another_domain_or_message_is_rejected(env: Env, replay: str) -> None:
    """A quorum signed for another chain, contract, epoch or total recovers to strangers."""
    env.advance_to_epoch(2)
    rewards = env.depin.rewards
    chain_id, contract, epoch, total = env.chain.chain_id, rewards.address, 1, 10
    if replay == "chain_id":
        chain_id += 1
    elif replay == "contract":
        contract = env.depin.registry.address
    elif replay == "epoch":
        epoch = 0
    else:
        total = 11
    digest = eip712.reward_root_digest(chain_id, contract, epoch, b"\x11" * 32, total)
    sigs = eip712.quorum_signatures(env.oracles[:3], digest)
    with pytest.raises(NotAnOracle):
        rewards.submit_root(env.users[0], 1, b"\x11" * 32, 10, sigs)
    assert rewards.root() == b"\x00" * 32


@st.composite
def reward_histories(draw: st.DrawFn) -> list[tuple[list[int], list[bool]]]:
    """Rounds of (cumulative amount per user, who claims after the root)."""
    rounds = draw(st.integers(1, 3))
    current = [0, 0, 0]
    history = []
    for _ in range(rounds):
        current = [c + draw(st.integers(0, 50 * 10**18)) for c in current]
        claims = draw(st.lists(st.booleans(), min_size=3, max_size=3))
        history.append((list(current), claims))
    return history


@given(history=reward_histories())
@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_account_ever_gets_more_than_its_latest_cumulative(
    env: Env, history: list[tuple[list[int], list[bool]]]
) -> None:
    chain, rewards, token = env.chain, env.depin.rewards, env.depin.token
    snapshot = chain.snapshot()
    try:
        users = [EthAccount.create() for _ in range(3)]  # zero token balance: payouts only
        paid_model = [0, 0, 0]
        start_epoch = env.epoch_now()
        cap = rewards.emission_cap()
        for round_no, (amounts, claims) in enumerate(history):
            epoch = start_epoch + round_no
            env.advance_to_epoch(epoch + 1)
            tree = build([(u.address, a) for u, a in zip(users, amounts, strict=True)])
            total = sum(amounts)
            allowed = rewards.emitted_through(epoch)
            if total > allowed:
                with pytest.raises(TotalAboveSchedule):
                    submit(env, epoch, tree, total)
                break
            submit(env, epoch, tree, total)
            for i, (user, amount, wants) in enumerate(zip(users, amounts, claims, strict=True)):
                if not wants:
                    continue
                if paid_model[i] == amount:
                    with pytest.raises(NothingToClaim):
                        rewards.claim_from_tree(env.deployer, tree, user.address)
                else:
                    rewards.claim_from_tree(env.deployer, tree, user.address)
                    paid_model[i] = amount
            paid = [token.balance_of(u.address) for u in users]
            assert paid == paid_model
            assert all(p <= a for p, a in zip(paid, amounts, strict=True))
            assert rewards.claimed(users[0].address) == paid[0]
            assert sum(paid) <= rewards.total_cumulative() <= allowed <= cap
        assert token.total_supply() <= token.cap()
    finally:
        chain.revert(snapshot)
