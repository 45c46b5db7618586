"""The `depinkit` command line: one Typer app, a sub-app per area.

Each area lives in its own module (``keys``, ``agent``, ``oracle``, ``chain``)
and exposes a Typer app named ``app``; this module only mounts them.
"""

from __future__ import annotations

import typer

from depinkit.cli import agent, boost, chain, compute, coverage, keys, oracle, store
from depinkit.cli.claim import claim
from depinkit.cli.devnet import devnet

app = typer.Typer(
    name="depinkit",
    help="Build and run a Decentralized Physical Infrastructure Network.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(keys.app, name="keys", help="Create and inspect secp256k1 keystores.")
app.add_typer(agent.app, name="agent", help="Run a device agent.")
app.add_typer(oracle.app, name="oracle", help="Run an oracle (ingest service, indexer).")
app.add_typer(chain.app, name="chain", help="Deploy and inspect the settlement contracts.")
app.add_typer(store.app, name="store", help="Store and fetch files on the storage network.")
app.add_typer(compute.app, name="compute", help="Run WebAssembly jobs on the compute network.")
coverage.app.command(name="boost")(boost.boost)
coverage.app.command(name="boosts")(boost.boosts)
app.add_typer(
    coverage.app,
    name="coverage",
    help="Route and send packets, and boost hexes, on the coverage network.",
)
app.command(name="devnet")(devnet)
app.command(name="claim")(claim)


def main() -> None:
    app()
