"""`depinkit devnet`: a complete local network in one command."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live

from depinkit.core.errors import DepinkitError
from depinkit.devnet.defaults import COMPUTE_PROVIDERS, HOTSPOTS, STORAGE_PROVIDERS

REFRESH_S = 2.0  # table refresh; cheap reads of the chain and the stores


def devnet(
    data_dir: Annotated[
        Path, typer.Option(help="Where the network keeps its state; reused on the next run.")
    ] = Path(".devnet"),
    devices: Annotated[int, typer.Option(help="Number of device agents.")] = 10,
    oracles: Annotated[int, typer.Option(help="Number of oracles (N).")] = 3,
    threshold: Annotated[int, typer.Option(help="Oracle signatures needed (M).")] = 2,
    epoch_length: Annotated[int, typer.Option(help="Epoch length in seconds.")] = 60,
    heartbeat: Annotated[
        float | None, typer.Option(help="Seconds between heartbeats (default: 2 per slot).")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(help="PostgreSQL URL for the oracles' stores (default: SQLite files)."),
    ] = None,
    storage_providers: Annotated[
        int | None,
        typer.Option(
            help="Storage network providers (0: none); a consumer with credits is set up too. "
            f"Default {STORAGE_PROVIDERS}, or 0 when resuming a devnet deployed without it."
        ),
    ] = None,
    compute_providers: Annotated[
        int | None,
        typer.Option(
            help="Compute network providers (0: none); a consumer with credits is set up too. "
            f"Default {COMPUTE_PROVIDERS}, or 0 when resuming a devnet deployed without it."
        ),
    ] = None,
    hotspots: Annotated[
        int | None,
        typer.Option(
            help="Coverage network hotspots on a simulated radio medium (0: none); they beacon "
            f"and witness each other every epoch. Default {HOTSPOTS}, or 0 when resuming a "
            "devnet deployed without it."
        ),
    ] = None,
    duration: Annotated[
        float | None, typer.Option(help="Stop by itself after this many seconds.")
    ] = None,
    live: Annotated[
        bool, typer.Option(help="Live table; --no-live prints one line per refresh.")
    ] = True,
) -> None:
    """Start anvil, deploy the contracts, start oracles and agents, and watch them."""
    from depinkit.devnet.network import Devnet, DevnetOptions, fleet_sizes
    from depinkit.devnet.view import render, summary_line

    console = Console()
    storage_providers, compute_providers, hotspots = fleet_sizes(
        data_dir, storage_providers, compute_providers, hotspots
    )
    options = DevnetOptions(
        data_dir=data_dir,
        devices=devices,
        oracles=oracles,
        threshold=threshold,
        epoch_length_s=epoch_length,
        heartbeat_s=heartbeat,
        db_url=db,
        storage_providers=storage_providers,
        compute_providers=compute_providers,
        hotspots=hotspots,
    )
    # SIGTERM stops as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    net = Devnet(options)
    try:
        with console.status("starting anvil, contracts, oracles and agents…"):
            net.start()
        console.print(f"devnet up; data in {net.layout.root}, logs in {net.layout.logs}")
        if net.store_commands:
            console.print(
                f"storage: {storage_providers} providers; as the consumer "
                f"(also in {net.storage.readme}):",
                highlight=False,
            )
            for command in net.store_commands:
                console.print(f"  {command}", highlight=False, soft_wrap=True, markup=False)
        if net.compute_commands:
            console.print(
                f"compute: {compute_providers} providers; as the consumer "
                f"(also in {net.compute.readme}):",
                highlight=False,
            )
            for command in net.compute_commands:
                console.print(f"  {command}", highlight=False, soft_wrap=True, markup=False)
        if hotspots:
            console.print(
                f"coverage: {hotspots} hotspots on the radio medium at {net.medium_url} "
                f"(list in {net.coverage.hotspots_file}); rewards per hex in each epoch's "
                "manifest (details[])",
                highlight=False,
                soft_wrap=True,
            )
        deadline = time.monotonic() + duration if duration is not None else None
        if live and console.is_terminal:
            with Live(render(net.snapshot()), console=console, refresh_per_second=1) as view:
                while deadline is None or time.monotonic() < deadline:
                    time.sleep(REFRESH_S)
                    net.claim_rewards()
                    view.update(render(net.snapshot()))
        else:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(REFRESH_S)
                net.claim_rewards()
                console.print(summary_line(net.snapshot()), highlight=False, soft_wrap=True)
    except KeyboardInterrupt:
        console.print("stopping…")
    except DepinkitError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}")
        net.stop()
        sys.exit(1)
    except BaseException:
        net.stop()  # whatever went wrong, no child process outlives the devnet
        raise
    net.stop()
    console.print("devnet stopped")
