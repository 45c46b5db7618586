"""One epoch's rewards from its stored reports: decode, verify, score, allocate (pure).

The only inputs are the report rows, the epoch's bounds and entropy, the parameters and
registry view read at the start block, the previous epoch's totals, carry and network
states, and the consumers' credit balances at the start block: the same inputs give the
same root and manifest on every oracle (and in the simulator).

Networks run in name order. A consumer's credits are shared by every network, so each
network sees the balances the networks before it left: what a verdict spends (facts
``credits`` and ``payer``, see depinkit.networks.receipts) is taken off before the next.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import msgspec

from depinkit.core.canonical import canonical_decode, canonical_encode
from depinkit.core.envelope import ReportDomain, decode_report
from depinkit.core.errors import DecodeError
from depinkit.core.keys import to_checksum
from depinkit.networks import EpochContext, NetworkRegistry, ReceivedReport, run_module
from depinkit.networks.errors import NetworkError
from depinkit.networks.module import Verdict, check_explanation
from depinkit.networks.receipts import FACT_CREDITS, FACT_PAYER
from depinkit.oracle.epochs.inputs import EpochParameters, RegistryDevice
from depinkit.oracle.rewards import (
    EpochRewards,
    compute_epoch_rewards,
    parameters_from_network_values,
)
from depinkit.oracle.rewards.manifest import CreditSpend, DeviceDetails
from depinkit.oracle.store import ReportRow

MAX_PAYER: int = 2**160 - 1  # an address as an integer


class CreditBalances(Mapping[str, int]):
    """Nanocredits each consumer may still spend: bought by the start block, minus spends.

    ``bought`` reads a consumer's nanocredits at the start block (a chain read pinned to that
    block, so every oracle sees the same value); ``spent`` holds what settled epochs and the
    networks already run in this epoch took. Looked up by consumer only: the set of
    consumers is open-ended, so iterating is refused (a module must not depend on it).
    """

    def __init__(self, bought: Callable[[str], int], spent: Mapping[str, int]) -> None:
        self._bought = bought
        self._spent = dict(spent)
        self._cache: dict[str, int] = {}

    def __getitem__(self, consumer: str) -> int:
        if consumer not in self._cache:
            self._cache[consumer] = self._bought(consumer)
        return max(0, self._cache[consumer] - self._spent.get(consumer, 0))

    def __iter__(self) -> Iterator[str]:
        raise TypeError("credit balances are looked up by consumer, not listed")

    def __len__(self) -> int:
        raise TypeError("credit balances are looked up by consumer, not counted")

    def __contains__(self, consumer: object) -> bool:
        return isinstance(consumer, str)

    def spend(self, consumer: str, amount: int) -> None:
        self._spent[consumer] = self._spent.get(consumer, 0) + amount


class EpochOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """Rewards plus what the networks carry out and what consumers spent."""

    rewards: EpochRewards
    states: dict[str, bytes]  # network -> canonical msgpack of its next_prior
    spent: dict[tuple[str, str], int]  # (consumer, network) -> nanocredits


def decode_state(raw: bytes | None) -> dict[str, Any]:
    """A network's stored state as its next ``ctx.prior`` ({} when it carried none)."""
    if raw is None:
        return {}
    try:  # the oracle's own bytes, written by canonical_encode of a module's plain data
        return canonical_decode(raw, dict[str, Any])
    except DecodeError as exc:
        raise NetworkError(f"stored network state does not decode: {exc}") from exc


def spends_of(network: str, verdicts: Sequence[Verdict]) -> dict[tuple[str, str], int]:
    """(consumer, network) -> nanocredits from accepted verdicts' credits/payer facts."""
    out: dict[tuple[str, str], int] = {}
    for verdict in verdicts:
        amount = verdict.facts.get(FACT_CREDITS)
        payer = verdict.facts.get(FACT_PAYER)
        if not verdict.accepted or amount is None or payer is None:
            continue
        if not (amount > 0 and 0 <= payer <= MAX_PAYER):
            raise NetworkError(f"{network}: verdict spends {amount} for payer {payer}")
        consumer = to_checksum(f"0x{payer:040x}")
        out[(consumer, network)] = out.get((consumer, network), 0) + amount
    return out


def received_reports(rows: Sequence[ReportRow]) -> dict[str, list[ReceivedReport]]:
    """Stored rows grouped by network; rows that no longer decode are skipped.

    Ingest stored only reports whose signature checked out and that decode, so a skip
    means a damaged store, not a device's fault.
    """
    by_network: dict[str, list[ReceivedReport]] = {}
    for row in rows:
        try:
            report = decode_report(row.raw)
        except (DecodeError, ValueError):
            continue
        by_network.setdefault(report.network, []).append(ReceivedReport(row.id, report))
    return by_network


def epoch_rewards(
    *,
    epoch: int,
    start_ms: int,
    end_ms: int,
    entropy: bytes,
    rows: Sequence[ReportRow],
    networks: NetworkRegistry,
    parameters: EpochParameters,
    devices: Mapping[str, RegistryDevice],
    previous: Mapping[str, int],
    carry_in: int,
    prior_states: Mapping[str, bytes] | None = None,
    credits: CreditBalances | None = None,
    domain: ReportDomain | None = None,
    oracles: Sequence[str] = (),
    chain_prior: Mapping[str, Mapping[str, Any]] | None = None,
) -> EpochOutcome:
    """Verify and score every module's reports, then allocate and credit (see module doc).

    ``prior_states``: what each network carried out of the previous epoch; ``credits``: the
    consumers' balances at the start block (none: nobody has credits); ``chain_prior``: per
    network, the chain inputs its module asked for (``NetworkModule.chain_inputs``), read at
    the start block, which replace the same keys of what it carried.
    """
    grouped = received_reports(rows)
    balances = credits if credits is not None else CreditBalances(lambda _: 0, {})
    scores: dict[str, dict[str, dict[str, int]]] = {}
    verdicts: list[Verdict] = []
    states: dict[str, bytes] = {}
    spent: dict[tuple[str, str], int] = {}
    details: list[DeviceDetails] = []
    for module in sorted(networks.modules(), key=lambda m: m.name):
        ctx = EpochContext(
            network=module.name,
            epoch=epoch,
            start_ms=start_ms,
            end_ms=end_ms,
            entropy=entropy,
            parameters=module.resolve(parameters.module_values.get(module.name, {})),
            devices=devices,
            prior={
                **decode_state((prior_states or {}).get(module.name)),
                **(chain_prior or {}).get(module.name, {}),
            },
            credits=balances,
            domain=domain,
            oracles=tuple(sorted(oracles)),
        )
        reports = grouped.get(module.name, [])
        found, points = run_module(module, ctx, reports)
        verdicts.extend(found)
        scores[module.name] = {bucket: dict(p) for bucket, p in points.items()}
        explained = module.explain(ctx, found, points)
        check_explanation(module, points, explained)
        details += [
            DeviceDetails(network=module.name, device=device, values=values)
            for device, values in explained.items()
        ]
        # next_prior sees the very context verify saw: balances before this network's spends
        carried = module.next_prior(ctx, reports, found)
        if carried:
            try:
                states[module.name] = canonical_encode(carried)
            except (TypeError, ValueError, msgspec.EncodeError) as exc:
                raise NetworkError(f"{module.name}: next_prior is not plain data: {exc}") from exc
        for (consumer, network), amount in spends_of(module.name, found).items():
            if amount > balances[consumer]:
                raise NetworkError(f"{network}: {consumer} spends {amount}, beyond its credits")
            balances.spend(consumer, amount)
            spent[(consumer, network)] = amount
    weights, splits = parameters_from_network_values(parameters.network_values)
    owners = {device: info.owner for device, info in devices.items()}
    rewards = compute_epoch_rewards(
        epoch=epoch,
        schedule=parameters.schedule,
        carry_in=carry_in,
        weights=weights,
        splits=splits,
        scores=scores,
        owners=owners,
        previous=previous,
        verdicts=verdicts,
        credits=[CreditSpend(consumer=c, network=n, amount=a) for (c, n), a in spent.items()],
        details=details,
    )
    return EpochOutcome(rewards=rewards, states=states, spent=spent)
