"""The chain client: revert decoding, time travel, snapshots, the anvil launcher."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_abi import encode
from eth_utils import keccak

from depinkit.chain import (
    CONTRACT_NAMES,
    Anvil,
    Chain,
    ErrorDecoder,
    dev_account,
    find_anvil,
    load_artifact,
)
from depinkit.chain.errors import (
    AnvilError,
    ArtifactMissing,
    ContractRevert,
    NotEnoughSignatures,
    Panic,
    RevertString,
    UnknownRevert,
)


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def test_error_decoder_names_and_arguments() -> None:
    decoder = ErrorDecoder([load_artifact("OracleSet").abi])
    data = selector("NotEnoughSignatures(uint256,uint256)") + encode(["uint256"] * 2, [1, 3])
    error = decoder.decode(data)
    assert isinstance(error, NotEnoughSignatures)
    assert error.error_args == {"got": 1, "need": 3}
    assert "NotEnoughSignatures(got=1, need=3)" in str(error)
    assert isinstance(
        decoder.decode(selector("Error(string)") + encode(["string"], ["no"])), RevertString
    )
    assert isinstance(decoder.decode(selector("Panic(uint256)") + encode(["uint256"], [17])), Panic)
    assert isinstance(decoder.decode(b"\xde\xad\xbe\xef"), UnknownRevert)
    assert isinstance(
        decoder.decode(selector("NotEnoughSignatures(uint256,uint256)") + b"\x01"), UnknownRevert
    )
    assert isinstance(decoder.decode(b""), UnknownRevert)


def test_every_abi_error_is_decodable_to_a_named_class() -> None:
    """Each custom error in the ABIs we deploy has a Python class of the same name."""
    from depinkit.chain import errors

    for name in CONTRACT_NAMES:
        for item in load_artifact(name).abi:
            if item.get("type") == "error":
                cls = getattr(errors, item["name"], None)
                assert cls is not None and issubclass(cls, ContractRevert), item["name"]


def test_missing_artifact() -> None:
    with pytest.raises(ArtifactMissing):
        load_artifact("NoSuchContract")


@pytest.fixture(params=["tester", pytest.param("anvil", marks=pytest.mark.anvil)])
def fresh_chain(request: pytest.FixtureRequest) -> Chain:
    if request.param == "tester":
        return Chain.tester()
    return Chain.connect(request.getfixturevalue("anvil_node").url)


def test_time_travel_snapshot_and_revert(fresh_chain: Chain) -> None:
    chain = fresh_chain
    start = chain.now()
    snapshot = chain.snapshot()
    after = chain.advance_time(3_600)
    assert after >= start + 3_600
    block = chain.block_number()
    chain.mine(3)
    assert chain.block_number() == block + 3
    chain.revert(snapshot)
    assert chain.block_number() < block


def test_fund_and_balance(fresh_chain: Chain) -> None:
    target = "0x" + "ab" * 20
    before = fresh_chain.balance(target)
    fresh_chain.fund(target, 12345)
    assert fresh_chain.balance(target) == before + 12345
    assert fresh_chain.balance(dev_account().address) > 10**18


def test_connect_to_nothing_fails_clearly() -> None:
    from depinkit.chain.anvil import free_port

    with pytest.raises(Exception, match="no EVM JSON-RPC node"):
        Chain.connect(f"http://127.0.0.1:{free_port()}", timeout_s=2)


@pytest.mark.anvil
def test_anvil_state_persists_across_restarts(tmp_path: Path) -> None:
    state = tmp_path / "chain.json"
    target = "0x" + "cd" * 20
    with Anvil(state=state) as node:
        chain = Chain.connect(node.url)
        chain.fund(target, 777)
        height = chain.block_number()
    assert not node.running
    assert state.exists()
    with Anvil(state=state) as node:
        chain = Chain.connect(node.url)
        assert chain.balance(target) == 777
        assert chain.block_number() >= height


@pytest.mark.anvil
def test_anvil_block_time_mines_on_its_own() -> None:
    with Anvil(block_time=1) as node:
        chain = Chain.connect(node.url)
        first = chain.block_number()
        import time

        deadline = time.monotonic() + 10
        while chain.block_number() == first and time.monotonic() < deadline:
            time.sleep(0.2)
        assert chain.block_number() > first


def test_find_anvil_honours_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DEPINKIT_ANVIL", str(tmp_path / "nothing"))
    with pytest.raises(AnvilError):
        find_anvil()
    monkeypatch.delenv("DEPINKIT_ANVIL")
    real = find_anvil()
    monkeypatch.setenv("DEPINKIT_ANVIL", str(real))
    assert find_anvil() == real
