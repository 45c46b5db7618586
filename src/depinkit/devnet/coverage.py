"""The devnet's coverage network: hotspots beaconing and witnessing on a simulated radio.

Opt-in (`depinkit devnet --hotspots N`). The devnet runs the simulated radio medium
(`python -m depinkit.networks.coverage.radio.server`, one process standing for physics) and
N hotspot devices, each onboarded on the `coverage` network with a resolution-11 H3 cell
and run as its agent (`depinkit agent run`) whose `coverage` role beacons once per epoch
and witnesses the others' beacons through the medium (``radio = "medium"``). The devnet
places every radio on the medium at its asserted cell, as the physics would.

Placement (:func:`hotspot_cell`): hotspots sit in pairs inside resolution-8 hexes around a
point in Berlin, each pair about 0.5 km apart (11 or more res-11 cells: beyond the minimum
witness distance of 8); even the farthest two of the most the devnet places (72) are under
7 km apart, far inside free-space range at 14 dBm. Two hotspots in one res-8 hex are one too
many for HIP-17 (target 1, max 1 at res 8), so paired hotspots earn at scale 1/2 and a lone
one at 1. Owners hold two hotspots each, and a pair's hotspots belong to different owners,
so partners witness each other (one owner's hotspots never count as witnesses of each
other). The owner keys are ``coverage/keys.json``; ``coverage/hotspots.json`` lists the
hotspots with their owners and cells.

Everything lives under the devnet's data directory (``coverage/``): owner keys, the
medium's fixed port and the agents, so the next run resumes the same hotspots.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Final

import h3
from eth_account.signers.local import LocalAccount

from depinkit.chain.depin import Depin
from depinkit.chain.deploy import NetworkConfig
from depinkit.core.keys import Account
from depinkit.devnet.fleet import FleetLayout, even_splits, onboard, set_role
from depinkit.networks.coverage.module import CoverageModule
from depinkit.networks.coverage.parameters import BEACON_INTERVAL_S, ENTROPY_WINDOW_S
from depinkit.networks.coverage.radio.medium import RadioSpec
from depinkit.networks.coverage.radio.server import MediumOperator

COVERAGE: Final[str] = "coverage"  # the network's name on chain and in the oracles' manifests
HOTSPOTS_PER_OWNER: Final[int] = 2  # few owners, and most hotspots witness most others
CITY_CENTER: Final[tuple[float, float]] = (52.4730, 13.4040)  # Berlin-Tempelhof
PAIR_RES: Final[int] = 8  # pairs share a hex of this resolution (HIP-17 clips it to one)
HOTSPOT_RES: Final[int] = 11  # asserted cells: the resolution coverage measures distance at
PAIR_OFFSET: Final[float] = 0.5  # each partner this far from its hex centre towards a vertex
MAX_HOTSPOTS: Final[int] = 72  # pairs in 36 of the 37 res-8 hexes within 3 rings of the centre
WINDOWS_PER_EPOCH: Final[int] = 3  # entropy window: a third of the epoch (one beacon slot)
ROLE_INTERVAL_S: Final[float] = 2.0  # role runs: a beacon leaves within 2 s of its window
MEDIUM_SEED: Final[int] = 1  # the medium's shadowing and fading: the same on every run


def coverage_network(epoch_length_s: int, weight_bps: int) -> NetworkConfig:
    """The coverage network's initial configuration: ``weight_bps`` of the emission, split
    evenly over its buckets (coverage, data), with one beacon slot per epoch whose window is
    a third of the epoch, so every hotspot beacons and is witnessed in every devnet epoch.

    Every module parameter is set explicitly: the chain returns 0 for a key never set, and
    the oracles read that 0 as the value of a parameter whose minimum allows it.
    """
    parameters = {spec.name: spec.default for spec in CoverageModule.parameters}
    parameters[BEACON_INTERVAL_S] = epoch_length_s
    parameters[ENTROPY_WINDOW_S] = entropy_window_s(epoch_length_s)
    return NetworkConfig(
        name=COVERAGE,
        weight_bps=weight_bps,
        splits=even_splits(CoverageModule.buckets),
        parameters=dict(sorted(parameters.items())),
    )


def entropy_window_s(epoch_length_s: int) -> int:
    """How long a beacon's transmit window stays open in a devnet epoch."""
    return max(1, epoch_length_s // WINDOWS_PER_EPOCH)


def _pair_hexes() -> list[str]:
    """Res-8 hexes around the city centre, nearest rings first, each ring in index order."""
    center = h3.latlng_to_cell(*CITY_CENTER, PAIR_RES)
    return [center] + [c for k in (1, 2, 3) for c in sorted(h3.grid_ring(center, k))]


def hotspot_cell(index: int) -> str:
    """The res-11 cell hotspot ``index`` asserts (stable: more hotspots never move one).

    Hotspots 4k and 4k+2 share res-8 hex 2k, 4k+1 and 4k+3 share hex 2k+1; within a hex the
    two sit on opposite sides of its centre, towards its first vertex.
    """
    if not 0 <= index < MAX_HOTSPOTS:
        raise ValueError(f"the devnet places at most {MAX_HOTSPOTS} hotspots, not {index + 1}")
    hexagon = _pair_hexes()[(index // 4) * 2 + index % 2]
    lat, lng = h3.cell_to_latlng(hexagon)
    vlat, vlng = h3.cell_to_boundary(hexagon)[0]
    side = 1 if (index // 2) % 2 == 0 else -1
    return str(
        h3.latlng_to_cell(
            lat + side * PAIR_OFFSET * (vlat - lat),
            lng + side * PAIR_OFFSET * (vlng - lng),
            HOTSPOT_RES,
        )
    )


def owner_index(index: int) -> int:
    """Hotspot ``index``'s owner: two hotspots each, never both of one hex's pair."""
    return index // HOTSPOTS_PER_OWNER


def owners_needed(count: int) -> int:
    return -(-count // HOTSPOTS_PER_OWNER)


@dataclass(frozen=True)
class CoverageLayout(FleetLayout):
    """The coverage network's state (``coverage/``): owner keys, the medium's port, agents.

    ``ports.json`` holds one port: the radio medium's (hotspots run no service of their own);
    ``hotspots.json`` lists the hotspots.
    """

    network: ClassVar[str] = COVERAGE

    def agent_dir(self, index: int) -> Path:
        return self.dir / "agents" / f"hotspot-{index}"

    @property
    def hotspots_file(self) -> Path:
        """Every hotspot: address, owner and asserted cell (JSON)."""
        return self.dir / "hotspots.json"


def add_role_options(agent_dir: Path, medium_url: str) -> None:
    """Give the `coverage` role `agent init` wrote its options: the simulated radio at
    ``medium_url`` (the radio id is the device address; the devnet places the radio)."""
    options = {"radio": "medium", "medium_url": medium_url}
    set_role(agent_dir, COVERAGE, ROLE_INTERVAL_S, options)


def onboard_hotspot(depin: Depin, owner: LocalAccount, device: Account, index: int) -> bool:
    """Onboard ``device`` on the coverage network at its cell unless it already is."""
    return onboard(depin, owner, device, COVERAGE, hotspot_cell(index), HOTSPOTS_PER_OWNER)


def medium_argv(port: int) -> list[str]:
    return [
        sys.executable, "-m", "depinkit.networks.coverage.radio.server",
        "--host", "127.0.0.1", "--port", str(port), "--seed", str(MEDIUM_SEED),
    ]  # fmt: skip


def place_radios(medium_url: str, hotspots: dict[str, str]) -> None:
    """Put each hotspot's radio (address -> res-11 cell) on the medium where it asserts it
    is: the devnet's hotspots are honest."""
    operator = MediumOperator(medium_url)
    for address, cell in hotspots.items():
        operator.register(address, RadioSpec(cell=cell))


__all__ = [
    "COVERAGE",
    "CoverageLayout",
    "add_role_options",
    "coverage_network",
    "entropy_window_s",
    "hotspot_cell",
    "medium_argv",
    "onboard_hotspot",
    "owner_index",
    "owners_needed",
    "place_radios",
]
