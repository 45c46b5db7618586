"""Our hand-built EIP-712 digests equal eth-account's general implementation."""

from __future__ import annotations

from typing import Any

from eth_account import Account as EthAccount
from eth_account.messages import encode_typed_data
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from depinkit.chain import eip712
from depinkit.core.keys import Account, recover_address

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
addresses = st.binary(min_size=20, max_size=20).map(
    lambda b: EthAccount.create().address if not any(b) else "0x" + b.hex()
)
uint256 = st.integers(0, 2**256 - 1)
uint64 = st.integers(0, 2**64 - 1)
bytes32 = st.binary(min_size=32, max_size=32)


def reference(
    name: str, chain_id: int, primary: str, fields: list[tuple[str, str]], message: dict[str, Any]
) -> bytes:
    data = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            primary: [{"name": n, "type": t} for n, t in fields],
        },
        "primaryType": primary,
        "domain": {
            "name": name,
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": CONTRACT,
        },
        "message": message,
    }
    signable = encode_typed_data(full_message=data)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


@given(st.integers(1, 2**63), uint64, bytes32, uint256)
@settings(max_examples=25, deadline=None)
def test_reward_root(chain_id: int, epoch: int, root: bytes, total: int) -> None:
    ours = eip712.reward_root_digest(chain_id, CONTRACT, epoch, root, total)
    assert ours == reference(
        "RewardsDistributor",
        chain_id,
        "RewardRoot",
        [("epoch", "uint64"), ("root", "bytes32"), ("totalCumulative", "uint256")],
        {"epoch": epoch, "root": root, "totalCumulative": total},
    )


@given(st.integers(1, 2**63), addresses, uint256, bytes32, uint256)
@settings(max_examples=25, deadline=None)
def test_fraud_verdict(chain_id: int, device: str, amount: int, reason: bytes, nonce: int) -> None:
    ours = eip712.fraud_verdict_digest(chain_id, CONTRACT, device, amount, reason, nonce)
    assert ours == reference(
        "DeviceRegistry",
        chain_id,
        "FraudVerdict",
        [
            ("device", "address"),
            ("amount", "uint256"),
            ("reason", "bytes32"),
            ("verdictNonce", "uint256"),
        ],
        {"device": device, "amount": amount, "reason": reason, "verdictNonce": nonce},
    )


@given(st.integers(1, 2**63), uint256, uint64)
@settings(max_examples=25, deadline=None)
def test_token_price(chain_id: int, price: int, timestamp: int) -> None:
    ours = eip712.token_price_digest(chain_id, CONTRACT, price, timestamp)
    assert ours == reference(
        "Credits",
        chain_id,
        "TokenPrice",
        [("priceUsdE8", "uint256"), ("timestamp", "uint64")],
        {"priceUsdE8": price, "timestamp": timestamp},
    )


@given(st.integers(1, 2**63), addresses, addresses, bytes32, uint64, uint256, uint256)
@settings(max_examples=25, deadline=None)
def test_onboard_and_maker(
    chain_id: int, device: str, owner: str, network: bytes, cell: int, nonce: int, deadline: int
) -> None:
    ours = eip712.onboard_digest(
        chain_id,
        CONTRACT,
        device=device,
        owner=owner,
        network=network,
        h3_cell=cell,
        nonce=nonce,
        deadline=deadline,
    )
    assert ours == reference(
        "DeviceRegistry",
        chain_id,
        "Onboard",
        [
            ("device", "address"),
            ("owner", "address"),
            ("network", "bytes32"),
            ("h3Cell", "uint64"),
            ("nonce", "uint256"),
            ("deadline", "uint256"),
        ],
        {
            "device": device,
            "owner": owner,
            "network": network,
            "h3Cell": cell,
            "nonce": nonce,
            "deadline": deadline,
        },
    )
    assert eip712.maker_approval_digest(chain_id, CONTRACT, device, network) == reference(
        "DeviceRegistry",
        chain_id,
        "MakerApproval",
        [("device", "address"), ("network", "bytes32")],
        {"device": device, "network": network},
    )


def test_signers_of_both_kinds_recover() -> None:
    digest = eip712.token_price_digest(1, CONTRACT, 10**8, 1_700_000_000)
    ours, theirs = Account.generate(), EthAccount.create()
    assert (
        recover_address(digest, eip712.sign_token_price(ours, 1, CONTRACT, 10**8, 1_700_000_000))
        == ours.address
    )
    assert recover_address(digest, eip712.sign_digest(theirs, digest)) == theirs.address
    sigs = eip712.quorum_signatures([ours, theirs], digest)
    signers = [recover_address(digest, s) for s in sigs]
    assert signers == sorted(signers, key=lambda a: int(a, 16))
