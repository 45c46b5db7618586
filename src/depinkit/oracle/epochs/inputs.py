"""What the chain says about an epoch: start block, entropy, parameters, registry, oracles,
and the chain inputs network modules ask for (boosted hexes, governance denylists).

Every read is pinned to the epoch's start block (except the oracle set, read when the
root is signed, since ``submitRoot`` checks the set in force when it runs), so oracles
reading at different times still read the same values.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import msgspec
from web3.exceptions import Web3Exception

from depinkit.chain.depin import Depin
from depinkit.chain.errors import ChainError
from depinkit.chain.params import EPOCH_LENGTH, network_key
from depinkit.chain.params import network_id as chain_network_id
from depinkit.chain.registry import DeviceStatus as ChainStatus
from depinkit.core.envelope import ReportDomain
from depinkit.networks import (
    CHAIN_BOOSTS,
    CHAIN_DENYLIST,
    DEVICE_ACTIVE,
    DEVICE_UNBONDING,
    DEVICE_WITHDRAWN,
    NetworkRegistry,
)
from depinkit.networks.receipts import nanocredits
from depinkit.oracle.epochs.errors import EpochNotReady
from depinkit.oracle.epochs.timing import EpochClock, find_start_block
from depinkit.oracle.rewards import EmissionSchedule

_STATUS: Final[dict[ChainStatus, str]] = {
    ChainStatus.ACTIVE: DEVICE_ACTIVE,
    ChainStatus.UNBONDING: DEVICE_UNBONDING,
    ChainStatus.WITHDRAWN: DEVICE_WITHDRAWN,
}


class RegistryDevice(msgspec.Struct, frozen=True):
    """A device as DeviceRegistry held it at the start block (a networks.DeviceInfo)."""

    owner: str
    network: str | None
    h3_cell: int
    status: str


class EpochParameters(msgspec.Struct, frozen=True):
    """Governed values in force at the start block."""

    schedule: EmissionSchedule
    network_values: dict[str, dict[str, int]]  # network -> weight, split.<bucket>, ...
    module_values: dict[str, dict[str, int]]  # network -> raw module parameters by name


class ChainClock:
    """The chain's time (latest block timestamp) as a :class:`~depinkit.oracle.clock.Clock`.

    The RewardsDistributor decides when an epoch has ended by ``block.timestamp``, so the
    settle loop waits on the same clock: a root is never offered before the chain takes it.
    """

    def __init__(self, depin: Depin) -> None:
        self._chain = depin.chain

    def now_ms(self) -> int:
        return self._chain.now() * 1_000


class ChainInputs:
    """Reads of one deployment for the pipeline (one Depin, JSON-RPC or in-process)."""

    def __init__(self, depin: Depin, networks: NetworkRegistry) -> None:
        self.depin = depin
        self.chain = depin.chain
        self._networks = networks
        self._names = {chain_network_id(n): n for n in networks.names()}
        self._configured_block: int | None = None

    def epoch_clock(self, *, block: int | str = "latest") -> EpochClock:
        values = self.depin.params.globals(block=block)
        return EpochClock(genesis_s=values["epoch.genesis"], length_s=values["epoch.length"])

    def _timestamp(self, number: int) -> int:
        return int(self.chain.w3.eth.get_block(number)["timestamp"])

    def _configured(self, number: int) -> int:
        """1 once the Parameters contract holds an epoch length at block ``number``, else 0."""
        try:
            return int(self.depin.params.get(EPOCH_LENGTH, block=number) != 0)
        except (ChainError, Web3Exception):  # no contract code there yet
            return 0

    def configured_block(self) -> int:
        """The first block at which the deployment's parameters are set.

        Epoch 0 starts at the deployment's own time, before the deployer has set the
        parameters; its start block is this one instead (a rule every oracle applies alike).
        """
        if self._configured_block is None:
            head = self.chain.block_number()
            first = self.depin.deployment.deployment_block
            found = find_start_block(lambda n: self._configured(n + first), head - first, 1)
            if found is None:
                raise EpochNotReady("the deployment's parameters are not set yet")
            self._configured_block = found + first
        return self._configured_block

    def start_block(self, clock: EpochClock, epoch: int) -> tuple[int, bytes]:
        """(number, hash) of the epoch's start block; EpochNotReady until it exists."""
        head = self.chain.block_number()
        number = find_start_block(self._timestamp, head, clock.start_s(epoch))
        if number is None:
            raise EpochNotReady(f"no block at or after the start of epoch {epoch} yet")
        number = max(number, self.configured_block())
        block_hash = bytes(self.chain.w3.eth.get_block(number)["hash"])
        return number, block_hash

    def parameters(self, block: int) -> EpochParameters:
        params = self.depin.params
        globals_ = params.globals(block=block)
        schedule = EmissionSchedule(
            initial=globals_["emission.initial"],
            halving_epochs=globals_["emission.halvingEpochs"],
            cap=self.depin.rewards.emission_cap(),
        )
        network_values: dict[str, dict[str, int]] = {}
        module_values: dict[str, dict[str, int]] = {}
        for module in self._networks.modules():
            network_values[module.name] = params.network(
                module.name, list(module.buckets), block=block
            )
            names = sorted(p.name for p in module.parameters)
            raw = params.get_keys([network_key(module.name, n) for n in names], block=block)
            module_values[module.name] = dict(zip(names, raw, strict=True))
        return EpochParameters(schedule, network_values, module_values)

    def devices(self, addresses: Iterable[str], block: int) -> dict[str, RegistryDevice]:
        """Registered devices among ``addresses`` at ``block`` (unknown ones left out)."""
        found: dict[str, RegistryDevice] = {}
        for address in sorted(set(addresses)):
            record = self.depin.registry.device(address, block=block)
            status = _STATUS.get(record.status)
            if status is None:
                continue
            found[address] = RegistryDevice(
                owner=record.owner,
                network=self._names.get(record.network),
                h3_cell=record.h3_cell,
                status=status,
            )
        return found

    def module_inputs(self, block: int, epoch: int) -> dict[str, dict[str, Any]]:
        """network -> {``ctx.prior`` key: value} of the chain inputs its module asks for.

        Read from HexBoosts at ``block`` (the epoch's start block), sorted, plain ints and
        strings: the boosts in force in ``epoch`` and the network's governance denylist. A
        deployment without HexBoosts (a manifest from before it) gives nothing, and the
        modules keep what they carried.
        """
        if not self.depin.has_boosts:
            return {}
        boosts = self.depin.boosts
        found: dict[str, dict[str, Any]] = {}
        for module in sorted(self._networks.modules(), key=lambda m: m.name):
            values: dict[str, Any] = {}
            for key, source in sorted(module.chain_inputs.items()):
                if source == CHAIN_BOOSTS:
                    values[key] = boosts.boosts_in_force(module.name, epoch, block=block)
                elif source == CHAIN_DENYLIST:
                    values[key] = boosts.denylist(module.name, block=block)
            if values:
                found[module.name] = values
        return found

    @property
    def domain(self) -> ReportDomain:
        """The deployment reports and consumer receipts are bound to."""
        return ReportDomain(chain_id=self.chain.chain_id, registry=self.depin.deployment.registry)

    def credits_bought(self, consumer: str, block: int) -> int:
        """Nanocredits ``consumer`` had bought by ``block`` (Credits never go down on chain)."""
        return nanocredits(self.depin.credits.credits_of(consumer, block=block))

    def oracles_at(self, block: int) -> list[str]:
        """The oracle set in force at ``block`` (what network modules see in their context)."""
        return self.depin.oracles.oracles(block=block)

    def oracle_set(self) -> tuple[list[str], int]:
        oracles = self.depin.oracles
        return oracles.oracles(), oracles.threshold()

    def root_submitted(self, epoch: int) -> bool:
        """Whether a RootSubmitted event for ``epoch`` exists (since the deployment block)."""
        return self.submitted_root(epoch) is not None

    def submitted_root(self, epoch: int) -> bytes | None:
        """The root the chain accepted for ``epoch``, or None if none was submitted for it.

        A later epoch's root may have superseded this one before anybody submitted it (roots
        are cumulative), in which case there is no root for it at all.
        """
        event = self.depin.rewards.contract.events.RootSubmitted()
        logs = event.get_logs(
            from_block=self.depin.deployment.deployment_block, argument_filters={"epoch": epoch}
        )
        return bytes(logs[0]["args"]["root"]) if logs else None

    def root_digest(self, epoch: int, root: bytes, total: int) -> bytes:
        return self.depin.rewards.root_digest(epoch, root, total)
