"""`depinkit oracle ...`: run the ingest service, migrate its store, follow the chain."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from depinkit.core.errors import DepinkitError

app = typer.Typer(no_args_is_help=True)
_err = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL: sqlite:///PATH or postgresql://USER@HOST/DB."),
]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="Oracle settings TOML file.", exists=True)
]


def _fail(exc: Exception) -> typer.Exit:
    _err.print(f"[red]error:[/red] {exc}")
    return typer.Exit(1)


@app.command()
def serve(
    db: DbOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port to listen on.")] = None,
    config: ConfigOption = None,
    chain_id: Annotated[int | None, typer.Option(help="Chain id of the report domain.")] = None,
    registry: Annotated[
        str | None, typer.Option(help="DeviceRegistry address of the report domain.")
    ] = None,
    migrate: Annotated[bool, typer.Option(help="Migrate the store before serving.")] = False,
    verify_threads: Annotated[
        int, typer.Option(help="Threads verifying signatures of one batch.")
    ] = 1,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    log_json: Annotated[bool, typer.Option(help="Log JSON lines instead of text.")] = False,
) -> None:
    """Serve the ingest API (POST /v1/reports) until interrupted."""
    from depinkit.networks import default_registry
    from depinkit.oracle.app import create_app
    from depinkit.oracle.logs import configure_logging
    from depinkit.oracle.server import run_server
    from depinkit.oracle.settings import load_settings
    from depinkit.oracle.store import Store

    configure_logging(log_level, json=log_json)
    try:
        settings = load_settings(
            config,
            overrides={
                "db_url": db,
                "host": host,
                "port": port,
                "chain_id": chain_id,
                "registry": registry,
            },
        )
        store = Store.open(settings.db_url, migrate=migrate)
        application = create_app(
            settings=settings,
            store=store,
            networks=default_registry(),
            verify_threads=verify_threads,
        )
    except DepinkitError as exc:
        raise _fail(exc) from exc
    try:
        run_server(application, settings.host, settings.port)
    finally:
        store.close()


@app.command()
def migrate(db: DbOption = None, config: ConfigOption = None) -> None:
    """Create or upgrade the oracle store's schema."""
    from depinkit.oracle.settings import load_settings
    from depinkit.oracle.store import Store
    from depinkit.oracle.store.migrate import current_revision

    try:
        settings = load_settings(config, overrides={"db_url": db})
        store = Store.open(settings.db_url, migrate=True)
    except DepinkitError as exc:
        raise _fail(exc) from exc
    revision = current_revision(store.engine)
    store.close()
    typer.echo(f"store at revision {revision}")


@app.command()
def index(
    rpc: Annotated[str | None, typer.Option("--rpc", help="JSON-RPC URL of the chain.")] = None,
    manifest: Annotated[
        Path,
        typer.Option(
            "--manifest",
            help="Deployment manifest (JSON) from `depinkit chain deploy`.",
            exists=True,
        ),
    ] = Path("deployment.json"),
    db: DbOption = None,
    config: ConfigOption = None,
    confirmations: Annotated[
        int | None, typer.Option(help="Blocks an event must be buried under before it counts.")
    ] = None,
    once: Annotated[bool, typer.Option(help="Catch up to the confirmed head, then exit.")] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Follow DeviceRegistry events into the store's devices table."""
    from depinkit.networks import default_registry
    from depinkit.oracle.indexer import RegistryIndexer, load_manifest
    from depinkit.oracle.logs import configure_logging
    from depinkit.oracle.settings import load_settings
    from depinkit.oracle.store import Store

    configure_logging(log_level)
    try:
        settings = load_settings(
            config, overrides={"db_url": db, "rpc_url": rpc, "confirmations": confirmations}
        )
        target = load_manifest(manifest)
        store = Store.open(settings.db_url, migrate=True)
        indexer = RegistryIndexer.connect(
            settings.rpc_url,
            target,
            store,
            confirmations=settings.confirmations,
            max_block_range=settings.max_block_range,
            network_names=default_registry().names(),
        )
        if once:
            block = indexer.catch_up()
            typer.echo(f"indexed through block {block}")
        else:
            indexer.run(poll_interval_s=settings.poll_interval_s)
    except DepinkitError as exc:
        raise _fail(exc) from exc
