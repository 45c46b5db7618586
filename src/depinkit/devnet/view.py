"""The devnet's live table: what an operator wants to see at a glance."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from depinkit.devnet.compute import COMPUTE
from depinkit.devnet.coverage import COVERAGE
from depinkit.devnet.network import NETWORK, Snapshot
from depinkit.devnet.storage import STORAGE

TOKEN = 10**18  # base units per DPK


def short(address: str) -> str:
    return f"{address[:8]}…{address[-4:]}"


def dpk(amount: int) -> str:
    """Base units as DPK with two decimals (display only; the chain keeps exact units)."""
    return f"{amount / TOKEN:,.2f}"


def render(snapshot: Snapshot) -> Group:
    up = sum(snapshot.oracles_up)
    header = Text.assemble(
        ("depinkit devnet", "bold"),
        f"  chain {snapshot.chain_id}  block {snapshot.block}  ",
        (f"epoch {snapshot.epoch}", "bold cyan"),
        f" (next in {snapshot.seconds_to_next_epoch}s)  ",
        (f"oracles {up}/{len(snapshot.oracles_up)} up", "green" if up else "red"),
        f"  agents {snapshot.agents_up}/{len(snapshot.devices)} up",
        f"  storage providers {snapshot.providers_up}/{snapshot.providers} up"
        if snapshot.providers
        else "",
        f"  compute providers {snapshot.compute_up}/{snapshot.compute} up"
        if snapshot.compute
        else "",
        f"  hotspots {snapshot.hotspots_up}/{snapshot.hotspots} up" if snapshot.hotspots else "",
        ("  radio medium down", "red") if not snapshot.medium_up else "",
    )
    if snapshot.settled_epoch is None:
        settled = Text("no epoch settled yet", style="dim")
    else:
        settled = Text.assemble(
            (f"settled epoch {snapshot.settled_epoch}", "bold green"),
            f"  root {snapshot.root[:18]}…  total {dpk(snapshot.total_cumulative)} DPK",
            f"  claims sent {snapshot.claims_sent}",
        )
    table = Table(expand=True)
    table.add_column("#", justify="right")
    table.add_column("network")
    table.add_column("device")
    table.add_column("owner")
    table.add_column("h3 cell")
    table.add_column("status")
    table.add_column("acked", justify="right")
    table.add_column("pending", justify="right")
    for i in range(len(snapshot.oracles_up)):
        table.add_column(f"stored@{i}", justify="right")
    table.add_column("reward (last epoch)", justify="right")
    table.add_column("owner earned", justify="right")
    table.add_column("owner claimed", justify="right")
    for d in snapshot.devices:
        table.add_row(
            str(d.index),
            d.network,
            short(d.address),
            short(d.owner),
            d.h3_cell,
            d.status,
            str(d.acknowledged),
            str(d.pending),
            *(str(n) for n in d.stored),
            dpk(d.last_reward),
            dpk(d.owner_earned),
            dpk(d.owner_claimed),
        )
    footer = Text("Ctrl-C stops every process; run again to resume this network.", style="dim")
    return Group(header, settled, table, footer)


def summary_line(snapshot: Snapshot) -> str:
    """One line per refresh when there is no terminal to redraw."""
    uptime = [d for d in snapshot.devices if d.network == NETWORK]
    stored = [sum(d.stored[i] for d in uptime) for i in range(len(snapshot.oracles_up))]
    active = sum(d.status == "active" for d in uptime)
    line = (
        f"block={snapshot.block} epoch={snapshot.epoch} devices_active={active} "
        f"oracles_up={sum(snapshot.oracles_up)} agents_up={snapshot.agents_up} "
        f"acked={sum(d.acknowledged for d in uptime)} stored={stored} "
        f"settled={snapshot.settled_epoch} total={snapshot.total_cumulative} "
        f"claimed={sum({d.owner: d.owner_claimed for d in snapshot.devices}.values())} "
        f"claims={snapshot.claims_sent}"
    )
    storage = [d for d in snapshot.devices if d.network == STORAGE]
    if storage or snapshot.providers:
        reports = [sum(d.stored[i] for d in storage) for i in range(len(snapshot.oracles_up))]
        line += (
            f" storage_active={sum(d.status == 'active' for d in storage)} "
            f"providers_up={snapshot.providers_up} "
            f"storage_acked={sum(d.acknowledged for d in storage)}"
            f" storage_stored={','.join(map(str, reports))} "
            f"storage_reward={sum(d.last_reward for d in storage)}"
        )
    compute = [d for d in snapshot.devices if d.network == COMPUTE]
    if compute or snapshot.compute:
        reports = [sum(d.stored[i] for d in compute) for i in range(len(snapshot.oracles_up))]
        line += (
            f" compute_active={sum(d.status == 'active' for d in compute)} "
            f"compute_up={snapshot.compute_up} "
            f"compute_acked={sum(d.acknowledged for d in compute)}"
            f" compute_stored={','.join(map(str, reports))} "
            f"compute_reward={sum(d.last_reward for d in compute)}"
        )
    hotspots = [d for d in snapshot.devices if d.network == COVERAGE]
    if hotspots or snapshot.hotspots:
        reports = [sum(d.stored[i] for d in hotspots) for i in range(len(snapshot.oracles_up))]
        line += (
            f" coverage_active={sum(d.status == 'active' for d in hotspots)} "
            f"hotspots_up={snapshot.hotspots_up} medium_up={int(snapshot.medium_up)} "
            f"coverage_acked={sum(d.acknowledged for d in hotspots)}"
            f" coverage_stored={','.join(map(str, reports))} "
            f"coverage_reward={sum(d.last_reward for d in hotspots)}"
        )
    return line
