"""Governed parameters: key derivation (mirrors contracts/ParameterKeys.sol) and reads.

Oracles must compute an epoch's rewards from the parameters in force at the epoch's start
block, so every read takes a block.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from eth_utils import keccak

from depinkit.chain.client import Chain
from depinkit.chain.errors import ChainError

# Global parameter names (contracts.md, "Parameters").
EPOCH_GENESIS: Final[str] = "epoch.genesis"  # unix seconds at which epoch 0 starts
EPOCH_LENGTH: Final[str] = "epoch.length"  # seconds per epoch
EMISSION_INITIAL: Final[str] = "emission.initial"  # token base units emitted per epoch at first
EMISSION_HALVING_EPOCHS: Final[str] = "emission.halvingEpochs"  # epochs per halving; 0 = never
UNBONDING_PERIOD: Final[str] = "registry.unbondingPeriod"  # seconds a stake stays locked
CREDIT_PRICE_USD_E8: Final[str] = "credits.priceUsdE8"  # USD per whole credit, 8 decimals
CREDIT_PRICE_MAX_AGE: Final[str] = "credits.priceMaxAge"  # seconds a signed price stays usable
GLOBAL_NAMES: Final[tuple[str, ...]] = (
    EPOCH_GENESIS,
    EPOCH_LENGTH,
    EMISSION_INITIAL,
    EMISSION_HALVING_EPOCHS,
    UNBONDING_PERIOD,
    CREDIT_PRICE_USD_E8,
    CREDIT_PRICE_MAX_AGE,
)

# Per-network parameter names.
NET_STAKE: Final[str] = "stake"  # token base units locked per device
NET_REQUIRE_MAKER: Final[str] = "requireMaker"  # 1 when onboarding needs a maker signature
NET_WEIGHT: Final[str] = "weight"  # basis points of each epoch's emission
SPLIT_PREFIX: Final[str] = "split."  # "split.<bucket>": basis points of the network's share
BPS: Final[int] = 10_000  # basis points in a whole

Block = int | str


def param_key(name: str) -> bytes:
    """Key of a global parameter: keccak256(bytes(name))."""
    return keccak(text=name)


def network_id(network_name: str) -> bytes:
    """bytes32 id of a network: keccak256(bytes(name)), e.g. network_id("uptime")."""
    return keccak(text=network_name)


def network_key(network: str | bytes, name: str) -> bytes:
    """Key of a per-network parameter: keccak256(abi.encodePacked(networkId, name))."""
    net = network_id(network) if isinstance(network, str) else network
    if len(net) != 32:
        raise ChainError(f"network id must be 32 bytes, got {len(net)}")
    return keccak(net + name.encode())


def split_name(bucket: str) -> str:
    return SPLIT_PREFIX + bucket


class ParametersClient:
    """Reads of the Parameters contract, at any block."""

    def __init__(self, chain: Chain, address: str) -> None:
        self.chain = chain
        self.contract = chain.contract("Parameters", address)

    @property
    def address(self) -> str:
        return str(self.contract.address)

    def get(self, name: str, *, block: Block = "latest") -> int:
        return int(self.chain.call(self.contract.functions.get(param_key(name)), block=block))

    def get_network(self, network: str | bytes, name: str, *, block: Block = "latest") -> int:
        key = network_key(network, name)
        return int(self.chain.call(self.contract.functions.get(key), block=block))

    def get_keys(self, keys: Sequence[bytes], *, block: Block = "latest") -> list[int]:
        values = self.chain.call(self.contract.functions.getMany(list(keys)), block=block)
        return [int(v) for v in values]

    def globals(self, *, block: Block = "latest") -> dict[str, int]:
        """Every global parameter by name, read in one call."""
        values = self.get_keys([param_key(n) for n in GLOBAL_NAMES], block=block)
        return dict(zip(GLOBAL_NAMES, values, strict=True))

    def network(
        self, network: str, buckets: Sequence[str], *, block: Block = "latest"
    ) -> dict[str, int]:
        """A network's stake, requireMaker, weight and the splits of ``buckets``, by name."""
        names = [NET_STAKE, NET_REQUIRE_MAKER, NET_WEIGHT, *(split_name(b) for b in buckets)]
        values = self.get_keys([network_key(network, n) for n in names], block=block)
        return dict(zip(names, values, strict=True))

    def owner(self) -> str:
        return str(self.chain.call(self.contract.functions.owner()))
