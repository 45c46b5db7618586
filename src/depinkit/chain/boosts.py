"""HexBoosts: boosted H3 hexes bought with DPK or granted by governance, and denylists.

Everything is per network (its name, or its bytes32 id). Consumers call :meth:`fund`;
governance acts through proposals built with :func:`grant_boost_action`,
:func:`deny_action` and :func:`undeny_action`; oracles read :meth:`boosts_in_force` and
:meth:`denylist` at an epoch's start block (paged eth_calls pinned to that block, so every
oracle reads the same list). See docs/settlement.md, "HexBoosts".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import msgspec
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3.logs import DISCARD
from web3.types import TxReceipt

from depinkit.chain.client import Chain
from depinkit.chain.errors import ChainError
from depinkit.chain.governance import Action
from depinkit.chain.params import network_id
from depinkit.chain.token import TokenClient

BOOST_PRICE: Final[str] = "boost_price"  # per-network parameter: base units per cell-epoch-unit
MAX_BOOST: Final[str] = "max_boost"  # per-network parameter: largest multiplier accepted
MAX_BOOST_RES: Final[int] = 11  # finest H3 resolution a boost may name (HexBoosts.MAX_RES)
H3_APERTURE: Final[int] = 7  # children per H3 cell: a res-r hex holds 7^(11-r) res-11 cells
# A burn writes two ERC20Votes checkpoints (total supply, the buyer's delegate); an estimate
# made in the block that wrote them sees overwrites, the transaction pays for fresh slots.
VOTES_CHECKPOINTS_GAS: Final[int] = 50_000
PAGE: Final[int] = 500  # entries per eth_call when reading a list (well under any call gas cap)

Block = int | str


class BoostRecord(msgspec.Struct, frozen=True):
    """One boost as HexBoosts stores it: in force from ``first_epoch`` to ``last_epoch``."""

    id: int
    cell: int
    multiplier: int
    first_epoch: int
    last_epoch: int

    def in_force(self, epoch: int) -> bool:
        return self.first_epoch <= epoch <= self.last_epoch


def boost_cost(price: int, resolution: int, multiplier: int, epochs: int) -> int:
    """What HexBoosts charges: price x multiplier x epochs x res-11 cells in the hex."""
    if not 0 <= resolution <= MAX_BOOST_RES:
        raise ChainError(f"a boost names a hex of resolution 0..{MAX_BOOST_RES}, not {resolution}")
    return price * multiplier * epochs * H3_APERTURE ** (MAX_BOOST_RES - resolution)


def _net(network: str | bytes) -> bytes:
    net = network_id(network) if isinstance(network, str) else network
    if len(net) != 32:
        raise ChainError(f"network id must be 32 bytes, got {len(net)}")
    return net


def _action(chain: Chain, address: str, fn: str, args: list[object]) -> Action:
    data = chain.contract("HexBoosts", address).encode_abi(fn, args=args)
    return Action(to_checksum_address(address), bytes.fromhex(data[2:]))


def grant_boost_action(
    chain: Chain, boosts: str, network: str | bytes, cell: int, multiplier: int, epochs: int
) -> Action:
    """HexBoosts.grantBoost: governance boosts ``cell`` from the epoch after execution."""
    return _action(chain, boosts, "grantBoost", [_net(network), cell, multiplier, epochs])


def deny_action(chain: Chain, boosts: str, network: str | bytes, accounts: Iterable[str]) -> Action:
    """HexBoosts.deny: put ``accounts`` on the network's governance denylist."""
    members = [to_checksum_address(a) for a in accounts]
    return _action(chain, boosts, "deny", [_net(network), members])


def undeny_action(
    chain: Chain, boosts: str, network: str | bytes, accounts: Iterable[str]
) -> Action:
    """HexBoosts.undeny: take ``accounts`` off the network's governance denylist."""
    members = [to_checksum_address(a) for a in accounts]
    return _action(chain, boosts, "undeny", [_net(network), members])


class HexBoostsClient:
    """Typed calls on HexBoosts."""

    def __init__(self, chain: Chain, address: str, token: TokenClient) -> None:
        self.chain = chain
        self.token = token
        self.contract = chain.contract("HexBoosts", address)
        self.fns = self.contract.functions

    @property
    def address(self) -> str:
        return str(self.contract.address)

    # --- consumers --------------------------------------------------------------------
    def quote(self, network: str | bytes, cell: int, multiplier: int, epochs: int) -> int:
        """DPK base units the boost costs now (reverts as a purchase would)."""
        fn = self.fns.quote(_net(network), cell, multiplier, epochs)
        return int(self.chain.call(fn))

    def fund(
        self,
        buyer: LocalAccount,
        network: str | bytes,
        cell: int,
        multiplier: int,
        epochs: int,
        *,
        approve: bool = True,
    ) -> tuple[BoostRecord, int, TxReceipt]:
        """Burn the buyer's DPK for a boost; returns (the boost, its cost, the receipt)."""
        if approve:
            cost = self.quote(network, cell, multiplier, epochs)
            self.token.ensure_allowance(buyer, self.address, cost)
        fn = self.fns.fundBoost(_net(network), cell, multiplier, epochs)
        receipt = self.chain.transact(buyer, fn, extra_gas=VOTES_CHECKPOINTS_GAS)
        (event,) = self.contract.events.BoostFunded().process_receipt(receipt, errors=DISCARD)
        args = event["args"]
        record = BoostRecord(
            id=int(args["id"]),
            cell=int(args["cell"]),
            multiplier=int(args["multiplier"]),
            first_epoch=int(args["firstEpoch"]),
            last_epoch=int(args["lastEpoch"]),
        )
        return record, int(args["cost"]), receipt

    def prune(self, sender: LocalAccount, network: str | bytes, start: int, count: int) -> int:
        """Remove expired boosts among indices [start, start + count); returns how many."""
        fn = self.fns.prune(_net(network), start, count)
        receipt = self.chain.transact(sender, fn)
        return len(self.contract.events.BoostPruned().process_receipt(receipt, errors=DISCARD))

    # --- reads ------------------------------------------------------------------------
    def current_epoch(self, *, block: Block = "latest") -> int:
        return int(self.chain.call(self.fns.currentEpoch(), block=block))

    def is_boostable_cell(self, cell: int) -> bool:
        """Whether HexBoosts takes ``cell`` (a valid H3 cell of resolution 0 to 11)."""
        if not 0 <= cell < 2**64:
            return False
        return bool(self.chain.call(self.fns.isBoostableCell(cell)))

    def boosts(self, network: str | bytes, *, block: Block = "latest") -> list[BoostRecord]:
        """Every boost the contract holds for ``network`` at ``block`` (expired ones too,
        until pruned), by id."""
        net = _net(network)
        count = int(self.chain.call(self.fns.boostCount(net), block=block))
        found: list[BoostRecord] = []
        for offset in range(0, count, PAGE):
            page = self.chain.call(self.fns.boosts(net, offset, PAGE), block=block)
            found.extend(
                BoostRecord(
                    id=int(b[4]),
                    cell=int(b[0]),
                    multiplier=int(b[1]),
                    first_epoch=int(b[2]),
                    last_epoch=int(b[3]),
                )
                for b in page
            )
        return sorted(found, key=lambda b: b.id)

    def boosts_in_force(
        self, network: str | bytes, epoch: int, *, block: Block = "latest"
    ) -> list[list[int]]:
        """``[[cell, multiplier, last epoch], ...]`` of the boosts in force in ``epoch``, sorted:
        the shape network modules read from ``ctx.prior["boosts"]``."""
        return sorted(
            [b.cell, b.multiplier, b.last_epoch]
            for b in self.boosts(network, block=block)
            if b.in_force(epoch)
        )

    def is_denied(self, network: str | bytes, account: str, *, block: Block = "latest") -> bool:
        fn = self.fns.isDenied(_net(network), to_checksum_address(account))
        return bool(self.chain.call(fn, block=block))

    def denylist(self, network: str | bytes, *, block: Block = "latest") -> list[str]:
        """The network's governance denylist at ``block``: EIP-55 addresses, sorted."""
        net = _net(network)
        count = int(self.chain.call(self.fns.deniedCount(net), block=block))
        found: list[str] = []
        for offset in range(0, count, PAGE):
            page = self.chain.call(self.fns.denied(net, offset, PAGE), block=block)
            found.extend(str(to_checksum_address(a)) for a in page)
        return sorted(found)

    def owner(self) -> str:
        return str(self.chain.call(self.fns.owner()))
