"""The devnet's compute network: provider devices running wasm jobs, and a paying consumer.

Opt-in (`depinkit devnet --compute-providers N`). Each provider is a device onboarded on the
`compute` network, run as two processes under the devnet's supervisor, as an operator runs
them: the provider service (`python -m depinkit.networks.compute.provider`) that runs
consumers' signed jobs, and the device's agent (`depinkit agent run`) whose `compute` role
reports offers (availability) and completions (receipts paired with claims) from it. The
consumer is the storage network's (``consumer/``, credits bought on chain at set-up), so
`depinkit compute run` works against the devnet with the commands in `compute/README.txt`.

Everything lives under the devnet's data directory (``compute/``): keys, fixed ports and
the agents, so the next run resumes the same providers.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Final

from eth_account.signers.local import LocalAccount

from depinkit.chain.depin import Depin
from depinkit.chain.deploy import NetworkConfig
from depinkit.core.keys import Account
from depinkit.devnet.fleet import (
    FleetLayout,
    even_splits,
    onboard,
    set_role,
    shown,
    write_json,
)
from depinkit.devnet.storage import StorageLayout
from depinkit.networks.compute.module import ComputeModule
from depinkit.networks.compute.parameters import AVAILABILITY_SLOT_S

COMPUTE: Final[str] = "compute"  # the network's name on chain and in the oracles' manifests
COMPUTE_CELL_OFFSET: Final[int] = 80  # grid index of provider 0: apart from storage's (50+)
ROLE_INTERVAL_S: Final[float] = 5.0  # compute role runs: completions go out within 5 s
OFFER_INTERVAL_S: Final[float] = 5.0  # seconds between offers: several per availability slot
SLOTS_PER_EPOCH: Final[int] = 3  # availability slots per devnet epoch (governed: slot_s)
MIN_SLOT_S: Final[int] = 10  # seconds: an offer every OFFER_INTERVAL_S still lands in each slot
PRICE_PER_MFUEL: Final[int] = 120  # nanocredits per million fuel the devnet providers ask
MAX_PRICE: Final[int] = 1_000  # nanocredits per million fuel: the printed commands' ceiling
EXAMPLE_MODULE: Final[Path] = (
    Path(__file__).resolve().parent.parent / "networks" / "compute" / "examples" / "render.wasm"
)  # the walk-through's module (src/depinkit/networks/compute/examples/ in a checkout)
EXAMPLE_ARGS: Final[tuple[str, ...]] = ("0", "320", "240")  # render: frame 0, 320x240 pixels


def slot_s(epoch_length_s: int) -> int:
    """The availability slot for short devnet epochs (the default is an hour)."""
    return max(MIN_SLOT_S, epoch_length_s // SLOTS_PER_EPOCH)


def compute_network(epoch_length_s: int, weight_bps: int) -> NetworkConfig:
    """The compute network's initial configuration: ``weight_bps`` of the emission, split
    evenly over the module's buckets (the last takes the rounding), with a short
    availability slot so offers count within a devnet epoch.

    Every module parameter is set explicitly: the chain returns 0 for a key never set, and
    the oracles read that 0 as the value of a parameter whose minimum is 0 (e.g.
    ``availability_decay_ppm`` would give an owner's second node no availability at all).
    """
    splits = even_splits(ComputeModule.buckets)
    parameters = {spec.name: spec.default for spec in ComputeModule.parameters}
    parameters[AVAILABILITY_SLOT_S] = slot_s(epoch_length_s)
    return NetworkConfig(
        name=COMPUTE,
        weight_bps=weight_bps,
        splits=splits,
        parameters=dict(sorted(parameters.items())),
    )


def provider_cell(index: int) -> str:
    """Providers continue the devnet's device grid, rows apart from the other devices."""
    from depinkit.devnet.network import device_cell

    return device_cell(COMPUTE_CELL_OFFSET + index)


@dataclass(frozen=True)
class ComputeLayout(FleetLayout):
    """The compute network's state (``compute/``); the consumer is shared (``consumer/``)."""

    network: ClassVar[str] = COMPUTE

    def key_file(self, index: int) -> Path:
        return self.dir / "keys" / f"provider-{index}.key"

    @property
    def consumer(self) -> StorageLayout:
        """The consumer is shared with the storage network (``consumer/``)."""
        return StorageLayout(self.root)


def add_role_options(agent_dir: Path, url: str) -> None:
    """Give the `compute` role `agent init` wrote its options: the service's URL and a short
    offer interval, so availability counts within a devnet epoch."""
    options = {"provider_url": url, "offer_interval_s": OFFER_INTERVAL_S}
    set_role(agent_dir, COMPUTE, ROLE_INTERVAL_S, options)


def onboard_provider(
    depin: Depin, owner: LocalAccount, device: Account, index: int, per_owner: int
) -> bool:
    """Onboard ``device`` on the compute network unless it already is; True if sent."""
    return onboard(depin, owner, device, COMPUTE, provider_cell(index), per_owner)


def provider_argv(
    layout: ComputeLayout, index: int, port: int, *, chain_id: int, registry: str
) -> list[str]:
    """The provider service, its device key in a file (not on the command line)."""
    return [
        sys.executable, "-m", "depinkit.networks.compute.provider",
        "--port", str(port),
        "--key-file", str(layout.key_file(index)),
        "--chain-id", str(chain_id),
        "--registry", registry,
        "--price-per-mfuel", str(PRICE_PER_MFUEL),
    ]  # fmt: skip


def write_providers(layout: ComputeLayout, providers: list[dict[str, str]]) -> None:
    write_json(layout.providers_file, providers)


def run_commands(
    layout: ComputeLayout,
    urls: list[str],
    *,
    chain_id: int,
    registry: str,
    relative: bool = True,
) -> list[str]:
    """The `depinkit compute run` walk-through against this devnet; paths relative to the
    working directory when inside it (``relative``), else absolute."""

    def _shown(path: Path) -> str:
        return shown(path, relative)

    consumer = layout.consumer
    args = " ".join(f"--arg {a}" for a in EXAMPLE_ARGS)
    providers = " ".join(f"--provider {u}" for u in urls)
    return [
        f"depinkit compute run {_shown(EXAMPLE_MODULE)} {args} {providers} --max-price {MAX_PRICE} "
        f"--keystore {_shown(consumer.consumer_keystore)} "
        f"--passphrase-file {_shown(consumer.consumer_passphrase)} "
        f"--chain-id {chain_id} --registry {registry} --out frames/"
    ]


def write_readme(layout: ComputeLayout, commands: list[str]) -> None:
    lines = [
        "# The devnet's compute network: render a frame on its providers as its consumer.",
        "# With two or more providers, new ones are verified by a re-run on another; the",
        "# consumer bought credits on chain at set-up and pays providers with signed receipts.",
        *commands,
        "",
    ]
    layout.readme.parent.mkdir(parents=True, exist_ok=True)
    layout.readme.write_text("\n".join(lines), encoding="utf-8")


__all__ = [
    "COMPUTE",
    "ComputeLayout",
    "add_role_options",
    "compute_network",
    "onboard_provider",
    "provider_argv",
    "provider_cell",
    "run_commands",
    "write_providers",
    "write_readme",
]
