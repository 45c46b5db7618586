"""`depinkit chain ...`: deploy the settlement contracts and inspect a deployment.

``deploy`` signs with anvil's first development key unless ``--key-file`` names a
keystore (passphrase from ``--passphrase-file``, $DEPINKIT_PASSPHRASE or a prompt), and
writes the deployment manifest every other component loads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
import typer
from rich.console import Console
from rich.table import Table

from depinkit.cli.passphrase import PassphraseError, read_passphrase
from depinkit.core.errors import DepinkitError

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

app = typer.Typer(no_args_is_help=True)

DEFAULT_MANIFEST = Path("deployment.json")

Rpc = Annotated[str, typer.Option("--rpc", help="JSON-RPC URL of the chain, e.g. anvil's.")]
Manifest = Annotated[
    Path, typer.Option("--manifest", help="Deployment manifest (JSON).", dir_okay=False)
]
JsonOutput = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


def _passphrase(passphrase_file: Path | None) -> str:
    try:
        return read_passphrase(passphrase_file)
    except PassphraseError as exc:
        raise _fail(str(exc)) from exc


def _deployer(key_file: Path | None, passphrase_file: Path | None) -> LocalAccount:
    from eth_account import Account as EthAccount  # deferred: eth_account is slow to import

    from depinkit.chain import dev_account
    from depinkit.core.keystore import load_keystore

    if key_file is None:
        return dev_account()
    account = load_keystore(key_file, _passphrase(passphrase_file))
    return EthAccount.from_key(account.private_key)


def _load_config(path: Path | None, overrides: dict[str, Any]) -> Any:
    from depinkit.chain import DeployConfig

    base: dict[str, Any] = {}
    if path is not None:
        try:
            base = msgspec.toml.decode(path.read_bytes())
        except (OSError, msgspec.DecodeError) as exc:
            raise _fail(f"cannot read deploy config {path}: {exc}") from exc
    base.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return msgspec.convert(base, DeployConfig)
    except msgspec.ValidationError as exc:
        raise _fail(f"bad deploy config: {exc}") from exc


def _print(rows: dict[str, Any], title: str, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    table = Table(title=title, show_header=False)
    for key, value in rows.items():
        table.add_row(key, str(value))
    Console().print(table)


@app.command()
def deploy(
    rpc: Rpc,
    manifest: Manifest = DEFAULT_MANIFEST,
    key_file: Annotated[
        Path | None, typer.Option("--key-file", help="Deployer keystore (default: dev key).")
    ] = None,
    passphrase_file: Annotated[Path | None, typer.Option("--passphrase-file")] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML file with DeployConfig fields.")
    ] = None,
    oracle: Annotated[
        list[str] | None, typer.Option("--oracle", help="Oracle address (repeat).")
    ] = None,
    threshold: Annotated[int | None, typer.Option(help="Oracle signatures needed.")] = None,
    epoch_length: Annotated[int | None, typer.Option(help="Seconds per epoch.")] = None,
    timelock_delay: Annotated[int | None, typer.Option(help="Timelock delay, seconds.")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing manifest.")] = False,
    as_json: JsonOutput = False,
) -> None:
    """Deploy every contract, hand all rules to governance, write the manifest."""
    from depinkit.chain import Chain
    from depinkit.chain import deploy as run_deploy
    from depinkit.chain.deploy import describe

    if manifest.exists() and not force:
        raise _fail(f"{manifest} exists; pass --force to overwrite it")
    overrides = {
        "oracles": tuple(oracle) if oracle else None,
        "threshold": threshold,
        "epoch_length_s": epoch_length,
        "timelock_delay_s": timelock_delay,
    }
    deploy_config = _load_config(config, overrides)
    try:
        deployer = _deployer(key_file, passphrase_file)
        chain = Chain.connect(rpc)
        deployment = run_deploy(chain, deployer, deploy_config)
        deployment.save(manifest)
    except DepinkitError as exc:
        raise _fail(str(exc)) from exc
    rows = describe(deployment)
    rows["manifest"] = str(manifest)
    _print(rows, "depinkit deployment", as_json)


@app.command()
def info(rpc: Rpc, manifest: Manifest = DEFAULT_MANIFEST, as_json: JsonOutput = False) -> None:
    """Show a deployment's contracts, oracle set, latest root and parameters."""
    from depinkit.chain import Depin
    from depinkit.chain.deploy import describe

    try:
        depin = Depin.connect(rpc, manifest)
        rows: dict[str, Any] = describe(depin.deployment)
        rows["oracles"] = ", ".join(depin.oracles.oracles())
        rows["threshold"] = depin.oracles.threshold()
        rows["block"] = depin.chain.block_number()
        rows["current epoch"] = depin.rewards.current_epoch()
        root = depin.rewards.root()
        rows["latest root"] = "0x" + root.hex() if any(root) else "none"
        rows["last epoch"] = depin.rewards.last_epoch() if any(root) else "none"
        rows["total cumulative"] = depin.rewards.total_cumulative()
        rows["token supply"] = depin.token.total_supply()
        rows.update(depin.params.globals())
    except DepinkitError as exc:
        raise _fail(str(exc)) from exc
    _print(rows, "depinkit deployment", as_json)
