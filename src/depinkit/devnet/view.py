"""The devnet's live table: what an operator wants to see at a glance."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from depinkit.devnet.network import Snapshot


def short(address: str) -> str:
    return f"{address[:8]}…{address[-4:]}"


def render(snapshot: Snapshot) -> Group:
    up = sum(snapshot.oracles_up)
    header = Text.assemble(
        ("depinkit devnet", "bold"),
        f"  chain {snapshot.chain_id}  block {snapshot.block}  ",
        (f"epoch {snapshot.epoch}", "bold cyan"),
        f" (next in {snapshot.seconds_to_next_epoch}s)  ",
        (f"oracles {up}/{len(snapshot.oracles_up)} up", "green" if up else "red"),
        f"  agents {snapshot.agents_up}/{len(snapshot.devices)} up",
    )
    table = Table(expand=True)
    table.add_column("#", justify="right")
    table.add_column("device")
    table.add_column("owner")
    table.add_column("h3 cell")
    table.add_column("status")
    table.add_column("acked", justify="right")
    table.add_column("pending", justify="right")
    for i in range(len(snapshot.oracles_up)):
        table.add_column(f"stored@oracle-{i}", justify="right")
    for d in snapshot.devices:
        table.add_row(
            str(d.index),
            short(d.address),
            short(d.owner),
            d.h3_cell,
            d.status,
            str(d.acknowledged),
            str(d.pending),
            *(str(n) for n in d.stored),
        )
    footer = Text("Ctrl-C stops every process; run again to resume this network.", style="dim")
    return Group(header, table, footer)


def summary_line(snapshot: Snapshot) -> str:
    """One line per refresh when there is no terminal to redraw."""
    stored = [sum(d.stored[i] for d in snapshot.devices) for i in range(len(snapshot.oracles_up))]
    active = sum(d.status == "active" for d in snapshot.devices)
    return (
        f"block={snapshot.block} epoch={snapshot.epoch} devices_active={active} "
        f"oracles_up={sum(snapshot.oracles_up)} agents_up={snapshot.agents_up} "
        f"acked={sum(d.acknowledged for d in snapshot.devices)} stored={stored}"
    )
