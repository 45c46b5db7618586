"""One client code path to any EVM chain: web3.py plus signed sends and decoded reverts.

Two backends sit behind :class:`Chain`: the in-process py-evm chain of eth-tester (fast
tests, no process) and JSON-RPC (anvil, or any real EVM chain). Everything above this
module (deploy, typed wrappers, oracles, agents) talks to a ``Chain`` and never to a
backend directly; only the test-chain helpers (time travel, mining, snapshots) differ.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar

from eth_account import Account as EthAccount
from eth_account.signers.local import LocalAccount
from eth_tester.exceptions import TransactionFailed as TesterTransactionFailed
from eth_utils import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.providers.eth_tester import EthereumTesterProvider
from web3.types import TxReceipt

from depinkit.chain.contracts import load_artifact
from depinkit.chain.errors import ChainError, ContractRevert, ErrorDecoder, TransactionFailed

# Anvil's first development key (from its well-known test mnemonic): public knowledge,
# for local chains only. Chain.tester() funds it too, so both backends share a deployer.
DEV_PRIVATE_KEY: Final[str] = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
DEV_FUNDS_WEI: Final[int] = 10_000 * 10**18  # 10,000 ETH: matches an anvil dev account
GAS_MARGIN_PCT: Final[int] = 25  # % added to a gas estimate: ERC20Votes paths vary a little
# py-evm estimates gas by bisection (~14 executions per transaction); on the in-process chain a
# single eth_call catches reverts and a fixed limit below its 30M block gas limit is sent instead.
TESTER_GAS_LIMIT: Final[int] = 12_000_000
RECEIPT_TIMEOUT_S: Final[float] = 120.0  # long enough for a --block-time devnet

T = TypeVar("T")


def dev_account() -> LocalAccount:
    """The local development deployer (anvil's first key)."""
    return EthAccount.from_key(DEV_PRIVATE_KEY)


def _tester_revert_data(exc: BaseException) -> bytes | None:
    """eth-tester re-raises a revert as text; the raw bytes sit on the original exception."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, TesterTransactionFailed) and seen.args:
            first = seen.args[0]
            if isinstance(first, Exception) and first.args:
                first = first.args[0]
            if isinstance(first, bytes):
                return first
            if isinstance(first, str) and first.startswith(("b'", 'b"')):
                # py-evm's eth_call path stringifies the revert bytes: parse the literal back
                try:
                    value = ast.literal_eval(first)
                except (ValueError, SyntaxError):
                    value = None
                if isinstance(value, bytes):
                    return value
        seen = seen.__context__
    return None


def _revert_data(exc: BaseException) -> bytes | None:
    """Raw revert bytes carried by a web3 (or eth-tester) exception, when there are any."""
    if isinstance(exc, TesterTransactionFailed):
        return _tester_revert_data(exc)
    data: Any = getattr(exc, "data", None)
    if data is None and isinstance(exc, Web3RPCError):
        response = exc.rpc_response or {}
        error = response.get("error") if isinstance(response, dict) else None
        data = error.get("data") if isinstance(error, dict) else None
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, bytes):
        return data
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return None
    return None


class Chain:
    """A connected chain: contracts by name, signed transactions, decoded reverts, time."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        provider = w3.provider
        self._tester = (
            provider.ethereum_tester if isinstance(provider, EthereumTesterProvider) else None
        )
        self._decoder: ErrorDecoder | None = None
        self._chain_id: int | None = None
        self._abis: dict[str, list[dict[str, Any]]] = {}

    # --- construction -------------------------------------------------------------------
    @classmethod
    def tester(cls) -> Chain:
        """A fresh in-process py-evm chain with the dev account funded."""
        w3 = Web3(EthereumTesterProvider())
        chain = cls(w3)
        assert chain._tester is not None
        funder = chain._tester.get_accounts()[0]
        chain._tester.send_transaction(
            {
                "from": funder,
                "to": dev_account().address,
                "value": DEV_FUNDS_WEI,
                "gas": 21_000,
            }
        )
        return chain

    @classmethod
    def connect(cls, rpc_url: str, *, timeout_s: float = 30.0) -> Chain:
        """A chain over JSON-RPC (HTTP)."""
        w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s}))
        try:
            _ = w3.eth.chain_id
        except Exception as exc:
            raise ChainError(f"no EVM JSON-RPC node answers at {rpc_url}: {exc}") from exc
        return cls(w3)

    @property
    def backend(self) -> str:
        return "tester" if self._tester is not None else "rpc"

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    # --- contracts ----------------------------------------------------------------------
    def abi(self, name: str) -> list[dict[str, Any]]:
        if name not in self._abis:
            self._abis[name] = load_artifact(name).abi
        return self._abis[name]

    def contract(self, name: str, address: str) -> Contract:
        return self.w3.eth.contract(address=to_checksum_address(address), abi=self.abi(name))

    @property
    def decoder(self) -> ErrorDecoder:
        if self._decoder is None:
            from depinkit.chain.contracts import CONTRACT_NAMES

            abis = []
            for name in CONTRACT_NAMES:
                try:
                    abis.append(self.abi(name))
                except ChainError:
                    continue
            self._decoder = ErrorDecoder(abis)
        return self._decoder

    def decode_revert(self, exc: BaseException) -> ContractRevert | None:
        data = _revert_data(exc)
        if data is None:
            return None
        return self.decoder.decode(data)

    # --- reading ------------------------------------------------------------------------
    def call(self, fn: ContractFunction, *, block: int | str = "latest") -> Any:
        """eth_call ``fn`` at ``block``; a revert raises the matching ContractRevert."""
        return self._guard(lambda: fn.call(block_identifier=block))  # type: ignore[arg-type]

    def _guard(self, action: Callable[[], T]) -> T:
        try:
            return action()
        except (ContractLogicError, Web3RPCError, TesterTransactionFailed) as exc:
            decoded = self.decode_revert(exc)
            if decoded is not None:
                raise decoded from exc
            if not isinstance(exc, Web3RPCError):
                raise TransactionFailed(f"contract reverted: {exc}") from exc
            raise ChainError(f"JSON-RPC error: {exc}") from exc

    # --- writing ------------------------------------------------------------------------
    def _send(self, sender: LocalAccount, tx: dict[str, Any]) -> TxReceipt:
        signed = sender.sign_transaction(tx)
        tx_hash = self._guard(lambda: self.w3.eth.send_raw_transaction(signed.raw_transaction))
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_S)
        if receipt["status"] != 1:
            self._replay_failure(tx, receipt)
        return receipt

    def _replay_failure(self, tx: dict[str, Any], receipt: TxReceipt) -> None:
        """Re-run a failed transaction as a call to recover its revert reason."""
        call = {k: tx[k] for k in ("from", "to", "data", "value") if k in tx}
        block = max(int(receipt["blockNumber"]) - 1, 0)
        try:
            self.w3.eth.call(call, block)  # type: ignore[arg-type]
        except (ContractLogicError, Web3RPCError, TesterTransactionFailed) as exc:
            decoded = self.decode_revert(exc)
            if decoded is not None:
                raise decoded from exc
        raise TransactionFailed(f"transaction {receipt['transactionHash'].hex()} failed")

    def _base_tx(self, sender: LocalAccount, gas: int | None, value: int) -> dict[str, Any]:
        tx: dict[str, Any] = {
            "from": sender.address,
            "nonce": self.w3.eth.get_transaction_count(sender.address, "pending"),
            "chainId": self.chain_id,
            "value": value,
        }
        if gas is not None:
            tx["gas"] = gas
        return tx

    def _with_margin(self, tx: dict[str, Any]) -> dict[str, Any]:
        tx["gas"] = int(tx["gas"]) * (100 + GAS_MARGIN_PCT) // 100
        return tx

    def _preflight(self, tx: dict[str, Any]) -> None:
        """Run ``tx`` as a call first so a revert raises before anything is sent."""
        call = {k: tx[k] for k in ("from", "to", "data", "value") if k in tx}
        self._guard(lambda: self.w3.eth.call(call))  # type: ignore[arg-type]

    def _finish(
        self, sender: LocalAccount, tx: dict[str, Any], gas: int | None, extra_gas: int = 0
    ) -> TxReceipt:
        if gas is None and self._tester is None:
            tx = self._with_margin(tx)
            tx["gas"] += extra_gas
        elif gas is None:
            self._preflight(tx)
        return self._send(sender, tx)

    def _base_tx_for(self, sender: LocalAccount, gas: int | None, value: int) -> dict[str, Any]:
        if gas is None and self._tester is not None:
            return self._base_tx(sender, TESTER_GAS_LIMIT, value)
        return self._base_tx(sender, gas, value)

    def transact(
        self,
        sender: LocalAccount,
        fn: ContractFunction,
        *,
        gas: int | None = None,
        value: int = 0,
        extra_gas: int = 0,
    ) -> TxReceipt:
        """Sign and send ``fn`` from ``sender``, wait for the receipt; reverts are decoded.

        Without ``gas`` the node estimates it (or, in process, a call checks the transaction),
        so a revert surfaces before anything is sent and nothing changes on chain.
        ``extra_gas`` is added to an estimate: a node estimates in its latest block, where an
        ERC20Votes checkpoint written in that block is a cheap overwrite, while the transaction
        lands in the next block and writes a fresh checkpoint slot.
        """
        base = self._base_tx_for(sender, gas, value)
        tx = self._guard(lambda: fn.build_transaction(base))  # type: ignore[arg-type]
        return self._finish(sender, dict(tx), gas, extra_gas)

    def deploy_contract(
        self, sender: LocalAccount, name: str, *args: Any, gas: int | None = None
    ) -> tuple[str, TxReceipt]:
        """Deploy artifact ``name`` with constructor ``args``; returns (address, receipt)."""
        artifact = load_artifact(name)
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        base = self._base_tx_for(sender, gas, 0)
        constructor = factory.constructor(*args)
        tx = self._guard(lambda: constructor.build_transaction(base))
        receipt = self._finish(sender, dict(tx), gas)
        address = receipt["contractAddress"]
        if address is None:
            raise TransactionFailed(f"deploying {name} created no contract")
        return to_checksum_address(address), receipt

    def send_eth(self, sender: LocalAccount, to: str, wei: int) -> TxReceipt:
        tx = self._base_tx(sender, 21_000, wei)
        tx["to"] = to_checksum_address(to)
        latest = self.w3.eth.get_block("latest")
        base_fee = int(latest.get("baseFeePerGas", 0) or 0)
        tx["maxPriorityFeePerGas"] = 10**9
        tx["maxFeePerGas"] = 2 * base_fee + 10**9
        return self._send(sender, tx)

    def fund(self, addresses: str | Iterable[str], wei: int = 10**20) -> None:
        """Give local test accounts ETH for gas, from the dev account (local chains only)."""
        targets = [addresses] if isinstance(addresses, str) else list(addresses)
        funder = dev_account()
        for address in targets:
            self.send_eth(funder, address, wei)

    def balance(self, address: str) -> int:
        return int(self.w3.eth.get_balance(to_checksum_address(address)))

    # --- blocks and time ----------------------------------------------------------------
    def block_number(self) -> int:
        return int(self.w3.eth.block_number)

    def now(self) -> int:
        """Timestamp of the latest block: the chain's clock, not the wall clock."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def mine(self, blocks: int = 1) -> None:
        """Mine ``blocks`` empty blocks (test chains only)."""
        if blocks <= 0:
            return
        if self._tester is not None:
            self._tester.mine_blocks(blocks)
        else:
            self._rpc("anvil_mine", [hex(blocks)])

    def advance_time(self, seconds: int) -> int:
        """Move the chain clock ``seconds`` forward and mine a block there; returns its time."""
        if seconds < 0:
            raise ChainError("time only moves forward")
        if self._tester is not None:
            target = self.now() + seconds
            # py-evm stamps a new block with the wall clock when that is later than its
            # parent; travelling "back" to a target before that is refused, and not needed.
            pending = int(self._tester.get_block_by_number("pending")["timestamp"])
            if target > pending:
                self._tester.time_travel(target)
            self._tester.mine_blocks(1)
        else:
            self._rpc("evm_increaseTime", [seconds])
            self._rpc("evm_mine", [])
        return self.now()

    def snapshot(self) -> Any:
        """Remember the chain state; :meth:`revert` goes back to it (test chains only)."""
        if self._tester is not None:
            return self._tester.take_snapshot()
        return self._rpc("evm_snapshot", [])

    def revert(self, snapshot_id: Any) -> None:
        """Return to a snapshot. On anvil a snapshot is used up by reverting to it."""
        if self._tester is not None:
            self._tester.revert_to_snapshot(snapshot_id)
            return
        if not self._rpc("evm_revert", [snapshot_id]):
            raise ChainError(f"cannot revert to snapshot {snapshot_id}")

    def _rpc(self, method: str, params: list[Any]) -> Any:
        response = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in response:
            raise ChainError(f"{method} failed: {response['error']}")
        return response.get("result")
