"""OracleSet quorum checks and Credits purchases at an oracle-signed price."""

from __future__ import annotations

import pytest
from chainenv import Env

from depinkit.chain import TOKEN, credits_for, eip712
from depinkit.chain.errors import (
    ERC20InsufficientAllowance,
    NotAnOracle,
    NotEnoughSignatures,
    OwnableUnauthorizedAccount,
    PriceFromFuture,
    SignersNotSorted,
    StalePrice,
    ZeroAddress,
    ZeroCredits,
)
from depinkit.core.keys import Account

DIGEST = b"\x42" * 32
PRICE = 250_000_000  # USD 2.50 per DPK, 8 decimals


def test_oracle_set_reads(env: Env) -> None:
    oracles = env.depin.oracles
    assert oracles.oracles() == [o.address for o in env.oracles]
    assert oracles.threshold() == 3
    assert oracles.is_oracle(env.oracles[0].address)
    assert not oracles.is_oracle(env.deployer.address)
    assert oracles.owner() == env.depin.deployment.timelock


def test_verify_quorum(env: Env) -> None:
    oracles = env.depin.oracles
    oracles.verify_quorum(DIGEST, eip712.quorum_signatures(env.oracles[:3], DIGEST))
    oracles.verify_quorum(DIGEST, eip712.quorum_signatures(env.oracles, DIGEST))
    with pytest.raises(NotEnoughSignatures):
        oracles.verify_quorum(DIGEST, eip712.quorum_signatures(env.oracles[:2], DIGEST))
    with pytest.raises(NotEnoughSignatures):
        oracles.verify_quorum(DIGEST, [])
    sigs = eip712.quorum_signatures(env.oracles[:3], DIGEST)
    with pytest.raises(SignersNotSorted):
        oracles.verify_quorum(DIGEST, [sigs[0], sigs[0], sigs[1]])
    with pytest.raises(SignersNotSorted):
        oracles.verify_quorum(DIGEST, [sigs[1], sigs[0], sigs[2]])
    with pytest.raises(NotAnOracle):
        oracles.verify_quorum(
            DIGEST, eip712.quorum_signatures([*env.oracles[:2], Account.generate()], DIGEST)
        )


def test_sort_signatures_orders_collected_pairs(env: Env) -> None:
    pairs = [(o.address, eip712.sign_digest(o, DIGEST)) for o in env.oracles[:3]]
    env.depin.oracles.verify_quorum(DIGEST, eip712.sort_signatures(reversed(pairs)))


def test_only_the_timelock_changes_the_oracle_set(env: Env) -> None:
    contract = env.depin.oracles.contract
    for caller in (env.deployer, env.users[0]):
        with pytest.raises(OwnableUnauthorizedAccount):
            env.chain.transact(caller, contract.functions.setOracles([caller.address], 1))


def signed_price(env: Env, price: int, timestamp: int, signers=None) -> list[bytes]:
    digest = env.depin.credits.price_digest(price, timestamp)
    return eip712.quorum_signatures(signers if signers is not None else env.oracles[:3], digest)


def test_buy_credits_burns_tokens(env: Env) -> None:
    credits, token = env.depin.credits, env.depin.token
    buyer, beneficiary = env.users[0], env.users[1]
    ts = env.chain.now()
    supply = token.total_supply()
    before = token.balance_of(buyer.address)
    credits.buy(
        buyer, 4 * TOKEN, PRICE, ts, signed_price(env, PRICE, ts), beneficiary=beneficiary.address
    )
    expected = credits_for(4 * TOKEN, PRICE, env.config.credit_price_usd_e8)
    assert expected == 1000 * TOKEN  # 4 DPK x USD 2.50 at USD 0.01 per credit
    assert credits.credits_of(beneficiary.address) == expected
    assert credits.credits_of(buyer.address) == 0
    assert token.balance_of(buyer.address) == before - 4 * TOKEN
    assert token.total_supply() == supply - 4 * TOKEN
    assert "transfer" not in {
        f["name"] for f in credits.contract.abi if f.get("type") == "function"
    }


def test_stale_and_future_prices_rejected(env: Env) -> None:
    credits = env.depin.credits
    buyer = env.users[0]
    old = env.chain.now()
    env.chain.advance_time(env.config.price_max_age_s + 5)
    with pytest.raises(StalePrice) as info:
        credits.buy(buyer, TOKEN, PRICE, old, signed_price(env, PRICE, old))
    assert info.value.error_args == {"timestamp": old, "maxAge": env.config.price_max_age_s}
    future = env.chain.now() + 3_600
    with pytest.raises(PriceFromFuture):
        credits.buy(buyer, TOKEN, PRICE, future, signed_price(env, PRICE, future))
    assert credits.credits_of(buyer.address) == 0


def test_bad_purchases(env: Env) -> None:
    credits = env.depin.credits
    buyer = env.users[0]
    ts = env.chain.now()
    sigs = signed_price(env, PRICE, ts)
    with pytest.raises(ZeroCredits):
        credits.buy(buyer, 1, 1, ts, signed_price(env, 1, ts))
    with pytest.raises(ZeroAddress):
        credits.buy(buyer, TOKEN, PRICE, ts, sigs, beneficiary="0x" + "00" * 20)
    with pytest.raises(ERC20InsufficientAllowance):
        credits.buy(env.users[2], TOKEN, PRICE, ts, sigs, approve=False)
    with pytest.raises(NotEnoughSignatures):
        credits.buy(buyer, TOKEN, PRICE, ts, signed_price(env, PRICE, ts, env.oracles[:2]))
    with pytest.raises(NotAnOracle):  # quorum signed a different price
        credits.buy(buyer, TOKEN, PRICE * 2, ts, sigs)
    other = eip712.token_price_digest(env.chain.chain_id + 1, credits.address, PRICE, ts)
    with pytest.raises(NotAnOracle):  # quorum signed for another chain
        credits.buy(buyer, TOKEN, PRICE, ts, eip712.quorum_signatures(env.oracles[:3], other))
    assert credits.credits_of(buyer.address) == 0
