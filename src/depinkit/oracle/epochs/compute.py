"""One epoch's rewards from its stored reports: decode, verify, score, allocate (pure).

The only inputs are the report rows, the epoch's bounds and entropy, the parameters and
registry view read at the start block, and the previous epoch's totals and carry: the same
inputs give the same root and manifest on every oracle (and in the simulator).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from depinkit.core.envelope import decode_report
from depinkit.core.errors import DecodeError
from depinkit.networks import EpochContext, NetworkRegistry, ReceivedReport, run_module
from depinkit.networks.module import Verdict
from depinkit.oracle.epochs.inputs import EpochParameters, RegistryDevice
from depinkit.oracle.rewards import (
    EpochRewards,
    compute_epoch_rewards,
    parameters_from_network_values,
)
from depinkit.oracle.store import ReportRow


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
) -> EpochRewards:
    """Verify and score every module's reports, then allocate and credit (see module doc)."""
    grouped = received_reports(rows)
    scores: dict[str, dict[str, dict[str, int]]] = {}
    verdicts: list[Verdict] = []
    for module in networks.modules():
        ctx = EpochContext(
            network=module.name,
            epoch=epoch,
            start_ms=start_ms,
            end_ms=end_ms,
            entropy=entropy,
            parameters=module.resolve(parameters.module_values.get(module.name, {})),
            devices=devices,
        )
        found, points = run_module(module, ctx, grouped.get(module.name, []))
        verdicts.extend(found)
        scores[module.name] = {bucket: dict(p) for bucket, p in points.items()}
    weights, splits = parameters_from_network_values(parameters.network_values)
    owners = {device: info.owner for device, info in devices.items()}
    return compute_epoch_rewards(
        epoch=epoch,
        schedule=parameters.schedule,
        carry_in=carry_in,
        weights=weights,
        splits=splits,
        scores=scores,
        owners=owners,
        previous=previous,
        verdicts=verdicts,
    )
