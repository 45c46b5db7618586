"""`depinkit oracle ...`: run the ingest service, migrate its store, follow the chain."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from depinkit.core.errors import DepinkitError

if TYPE_CHECKING:
    from depinkit.oracle.epochs import EpochPipeline

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


@app.command()
def settle(
    rpc: Annotated[str, typer.Option("--rpc", help="JSON-RPC URL of the chain.")],
    manifest: Annotated[
        Path,
        typer.Option("--manifest", help="Deployment manifest (JSON).", exists=True),
    ],
    key_file: Annotated[
        Path, typer.Option("--key-file", help="This oracle's keystore (signs roots, pays gas).")
    ],
    db: DbOption = None,
    config: ConfigOption = None,
    peer: Annotated[
        list[str] | None, typer.Option("--peer", help="A peer oracle's API URL (repeat).")
    ] = None,
    passphrase_file: Annotated[Path | None, typer.Option("--passphrase-file")] = None,
    once: Annotated[
        int | None, typer.Option("--once", help="Settle epochs through EPOCH, then exit.")
    ] = None,
    grace_s: Annotated[float, typer.Option("--grace", help="Seconds after an epoch ends.")] = 10.0,
    timeout_s: Annotated[
        float, typer.Option("--timeout", help="With --once: give up after this many seconds.")
    ] = 120.0,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Settle epochs at their end plus grace: reconcile, score, sign, collect, submit.

    Epoch ends are judged by the chain's clock (the latest block's time), as the
    RewardsDistributor judges them.
    """
    import signal
    import threading

    from eth_account import Account as EthAccount

    from depinkit.chain import Depin
    from depinkit.cli.passphrase import read_passphrase
    from depinkit.core.envelope import ReportDomain
    from depinkit.core.keystore import load_keystore
    from depinkit.networks import default_registry
    from depinkit.oracle.epochs import (
        ChainClock,
        ChainInputs,
        EpochPipeline,
        EpochStore,
        Reconciler,
        connect_peers,
    )
    from depinkit.oracle.logs import configure_logging
    from depinkit.oracle.settings import load_settings
    from depinkit.oracle.store import Store

    configure_logging(log_level)
    try:
        settings = load_settings(config, overrides={"db_url": db, "rpc_url": rpc})
        key = load_keystore(key_file, read_passphrase(passphrase_file))
        depin = Depin.connect(settings.rpc_url, manifest)
        store = Store.open(settings.db_url, migrate=True)
    except DepinkitError as exc:
        raise _fail(exc) from exc
    networks = default_registry()
    epochs = EpochStore(store)
    peers = connect_peers(peer or [])
    domain = ReportDomain(chain_id=depin.chain.chain_id, registry=depin.deployment.registry)
    pipeline = EpochPipeline(
        epochs=epochs,
        inputs=ChainInputs(depin, networks),
        networks=networks,
        reconciler=Reconciler(
            epochs=epochs,
            domain=domain,
            networks=networks,
            peers=peers,
            max_future_ms=settings.max_future_ms,
            max_age_ms=settings.max_age_ms,
        ),
        peers=peers,
        signer=key,
        sender=EthAccount.from_key(key.private_key),
        clock=ChainClock(depin),
        grace_ms=int(grace_s * 1000),
    )
    try:
        if once is not None:
            settled = _settle_through(pipeline, once, timeout_s, settings.poll_interval_s)
            for epoch in range(once + 1):
                typer.echo(f"epoch {epoch}: {pipeline.state(epoch) or 'pending'}")
            if not settled:
                raise _fail(RuntimeError(f"epochs through {once} not settled in {timeout_s} s"))
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            pipeline.run(stop=stop, poll_s=settings.poll_interval_s)
        except KeyboardInterrupt:
            stop.set()
    except DepinkitError as exc:
        raise _fail(exc) from exc
    finally:
        for p in peers:
            p.close()
        store.close()


def _settle_through(pipeline: EpochPipeline, last: int, timeout_s: float, poll_s: float) -> bool:
    """Run passes until every epoch through ``last`` is submitted or ``timeout_s`` passes."""
    import time

    from depinkit.oracle.epochs import SUBMITTED

    deadline = time.monotonic() + timeout_s
    while True:
        pipeline.run_once(through=last)
        if all(pipeline.state(e) == SUBMITTED for e in range(last + 1)):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(min(poll_s, 0.5))
