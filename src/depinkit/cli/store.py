"""``depinkit store``: put, get, ls, rm, status and repair files on the storage network.

The consumer's key comes from a keystore (``--keystore``, passphrase as every other
command reads it); its manifests and per-file keys live under ``--home``; the providers
to use come from a JSON list (``--providers``, default ``HOME/providers.json``), each
``{"address", "url", "owner", "cell"}``, as the oracles publish them.

``put`` signs the file's deals (prices in nanocredits, at least the governed ones; the epoch
clock as the agents': ``--genesis-ms``, ``--epoch-s``) and hands them to the providers;
``pay`` sends every provider of a file a cumulative receipt for storage through the current
epoch and the egress owed (run it once per epoch, e.g. from cron).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Final

import msgspec
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from depinkit.cli.passphrase import PassphraseError, read_passphrase
from depinkit.core.envelope import ReportDomain
from depinkit.core.errors import DepinkitError
from depinkit.core.keys import Account
from depinkit.core.keystore import load_keystore
from depinkit.networks.storage.client import (
    DEFAULT_REPAIR_THRESHOLD,
    ProviderInfo,
    StorageClient,
)
from depinkit.networks.storage.deals import DealPolicy
from depinkit.networks.storage.erasure import DEFAULT_K, DEFAULT_N
from depinkit.networks.storage.provider import tune_malloc

HOME_ENV: Final[str] = "DEPINKIT_STORE_HOME"
KEYSTORE_ENV: Final[str] = "DEPINKIT_STORE_KEYSTORE"
DEFAULT_HOME: Final[Path] = Path("~/.depinkit/storage")

app = typer.Typer(no_args_is_help=True, help="Store files on the storage network.")
console = Console(stderr=True)

Home = Annotated[
    Path,
    typer.Option("--home", envvar=HOME_ENV, help="Manifests, per-file keys, receipts."),
]
Keystore = Annotated[
    Path,
    typer.Option("--keystore", envvar=KEYSTORE_ENV, help="The consumer's keystore."),
]
Providers = Annotated[
    Path | None,
    typer.Option("--providers", help="JSON list of providers (default HOME/providers.json)."),
]
PassphraseFile = Annotated[
    Path | None, typer.Option("--passphrase-file", help="Passphrase: first line of this file.")
]
ChainId = Annotated[int, typer.Option("--chain-id", help="Chain the receipts are bound to.")]
Registry = Annotated[
    str, typer.Option("--registry", help="DeviceRegistry address the receipts are bound to.")
]
JsonOutput = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
_POLICY = DealPolicy()
PriceEpoch = Annotated[
    int, typer.Option("--price-gib-epoch", help="Nanocredits per GiB stored per epoch.")
]
PriceEgress = Annotated[
    int, typer.Option("--price-gib-egress", help="Nanocredits per GiB downloaded.")
]
Duration = Annotated[int, typer.Option("--duration-epochs", help="Epochs the deals cover.")]
GenesisMs = Annotated[int, typer.Option("--genesis-ms", help="Unix ms at which epoch 0 starts.")]
EpochS = Annotated[int, typer.Option("--epoch-s", help="Epoch length in seconds.")]


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)


@contextmanager
def _client(
    home: Path,
    keystore: Path,
    providers: Path | None,
    passphrase_file: Path | None,
    chain_id: int,
    registry: str,
    policy: DealPolicy | None = None,
    **kwargs: int,
) -> Iterator[StorageClient]:
    home = home.expanduser()
    try:
        account: Account = load_keystore(keystore, read_passphrase(passphrase_file))
        listing = providers or home / "providers.json"
        infos = (
            msgspec.json.decode(listing.read_bytes(), type=list[ProviderInfo])
            if listing.exists()
            else []
        )
        domain = ReportDomain(chain_id=chain_id, registry=registry)
    except (DepinkitError, PassphraseError, msgspec.DecodeError, ValueError, OSError) as exc:
        raise _fail(str(exc)) from None
    tune_malloc()  # a command owns its process: reuse multi-MiB buffers (see provider.py)
    client = StorageClient(account, infos, home, domain=domain, policy=policy, **kwargs)  # type: ignore[arg-type]
    try:
        yield client
    except DepinkitError as exc:
        raise _fail(str(exc)) from None
    finally:
        client.close()


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


@app.command()
def put(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    keystore: Keystore,
    home: Home = DEFAULT_HOME,
    providers: Providers = None,
    passphrase_file: PassphraseFile = None,
    k: Annotated[int, typer.Option(help="Pieces that rebuild a segment.")] = DEFAULT_K,
    n: Annotated[int, typer.Option(help="Pieces made per segment.")] = DEFAULT_N,
    chain_id: ChainId = 31337,
    registry: Registry = "0x" + "00" * 20,
    price_gib_epoch: PriceEpoch = _POLICY.price_gib_epoch,
    price_gib_egress: PriceEgress = _POLICY.price_gib_egress,
    duration_epochs: Duration = _POLICY.duration_epochs,
    genesis_ms: GenesisMs = _POLICY.genesis_ms,
    epoch_s: EpochS = _POLICY.epoch_ms // 1000,
) -> None:
    """Encrypt, erasure-code and place a file, sign its deals; prints its file id."""
    if epoch_s <= 0 or duration_epochs <= 0 or min(price_gib_epoch, price_gib_egress) < 0:
        raise _fail("--epoch-s and --duration-epochs must be positive, prices not negative")
    policy = DealPolicy(
        price_gib_epoch=price_gib_epoch,
        price_gib_egress=price_gib_egress,
        duration_epochs=duration_epochs,
        genesis_ms=genesis_ms,
        epoch_ms=epoch_s * 1000,
    )
    with (
        _client(
            home, keystore, providers, passphrase_file, chain_id, registry, policy, k=k, n=n
        ) as c,
        _progress() as bar,
    ):
        task = bar.add_task(f"put {path.name}", total=path.stat().st_size)
        manifest = c.put(path, progress=lambda done, total: bar.update(task, completed=done))
        for provider, why in sorted(c.unannounced.items()):
            console.print(f"[yellow]warning:[/yellow] {provider} did not take the deals: {why}")
    typer.echo(manifest.file_hex)


@app.command()
def pay(
    file: Annotated[str, typer.Argument(help="File id (a unique prefix) or name.")],
    keystore: Keystore,
    home: Home = DEFAULT_HOME,
    providers: Providers = None,
    passphrase_file: PassphraseFile = None,
    chain_id: ChainId = 31337,
    registry: Registry = "0x" + "00" * 20,
    epoch: Annotated[
        int | None, typer.Option(help="Pay storage through this epoch (default: now).")
    ] = None,
    genesis_ms: GenesisMs = _POLICY.genesis_ms,
    epoch_s: EpochS = _POLICY.epoch_ms // 1000,
) -> None:
    """Pay a file's providers for storage through the epoch and for egress (receipts)."""
    if epoch_s <= 0:
        raise _fail("--epoch-s must be positive")
    policy = DealPolicy(genesis_ms=genesis_ms, epoch_ms=epoch_s * 1000)
    with _client(home, keystore, providers, passphrase_file, chain_id, registry, policy) as c:
        receipts = c.pay(c.find(file), epoch=epoch)
    paid = sum(r.cumulative for r in receipts)
    typer.echo(f"sent {len(receipts)} receipts (cumulative {paid} nanocredits)")


@app.command()
def get(
    file: Annotated[str, typer.Argument(help="File id (a unique prefix) or name.")],
    keystore: Keystore,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Where to write it.")] = None,
    home: Home = DEFAULT_HOME,
    providers: Providers = None,
    passphrase_file: PassphraseFile = None,
    chain_id: ChainId = 31337,
    registry: Registry = "0x" + "00" * 20,
) -> None:
    """Fetch, decode and decrypt a file."""
    with (
        _client(home, keystore, providers, passphrase_file, chain_id, registry) as c,
        _progress() as bar,
    ):
        manifest = c.find(file)
        target = out or Path(manifest.name)
        task = bar.add_task(f"get {manifest.name}", total=manifest.size)
        c.get(manifest, target, progress=lambda done, total: bar.update(task, completed=done))
    typer.echo(str(target))


@app.command()
def ls(
    keystore: Keystore,
    home: Home = DEFAULT_HOME,
    providers: Providers = None,
    passphrase_file: PassphraseFile = None,
    as_json: JsonOutput = False,
) -> None:
    """The files this consumer has stored."""
    with _client(home, keystore, providers, passphrase_file, 31337, "0x" + "00" * 20) as c:
        files = c.ls()
    if as_json:
        rows = [
            {"file_id": m.file_hex, "name": m.name, "size": m.size, "k": m.k, "n": m.n}
            for m in files
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("file id", "name", "size", "k-of-n", "segments")
    for m in files:
        table.add_row(
            m.file_hex[:16], m.name, f"{m.size:,}", f"{m.k}-of-{m.n}", str(len(m.segments))
        )
    Console().print(table)


@app.command()
def rm(
    file: Annotated[str, typer.Argument(help="File id (a unique prefix) or name.")],
    keystore: Keystore,
    home: Home = DEFAULT_HOME,
    providers: Providers = None,
    passphrase_file: PassphraseFile = None,
) -> None:
    """End a file's deals: providers drop its pieces; its manifest and key are deleted."""
    with _client(home, keystore, providers, passphrase_file, 31337, "0x" + "00" * 20) as c:
        removed = c.rm(c.find(file))
    typer.echo(f"removed {removed} pieces")


@app.command()
def status(
    file: Annotated[str, typer.Argument(help="File id (a unique prefix) or name.")],
    keystore: Keystore,
    home: Home = DEFAULT_HOME,
    providers: Providers = None,
    passphrase_file: PassphraseFile = None,
    repair: Annotated[bool, typer.Option(help="Rebuild pieces at or below the threshold.")] = False,
    threshold: Annotated[int, typer.Option(help="Repair threshold.")] = DEFAULT_REPAIR_THRESHOLD,
    as_json: JsonOutput = False,
) -> None:
    """Check every piece of a file with a random chunk proof; optionally repair."""
    with _client(home, keystore, providers, passphrase_file, 31337, "0x" + "00" * 20) as c:
        manifest = c.find(file)
        health = c.status(manifest)
        rebuilt: list[tuple[int, int, str]] = []
        if repair:
            rebuilt = c.repair(manifest, threshold=threshold).rebuilt
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "file_id": manifest.file_hex,
                    "min_healthy": health.min_healthy(),
                    "pieces": [
                        {
                            "segment": p.segment,
                            "piece": p.number,
                            "provider": p.provider,
                            "state": p.state,
                        }
                        for p in health.pieces
                    ],
                    "rebuilt": rebuilt,
                },
                indent=2,
            )
        )
        return
    table = Table("segment", "healthy", "unhealthy pieces")
    for segment in manifest.segments:
        bad = [p for p in health.unhealthy() if p.segment == segment.index]
        detail = ", ".join(f"{p.number}:{p.state}@{p.provider[:10]}" for p in bad)
        table.add_row(
            str(segment.index), f"{len(health.healthy(segment.index))}/{manifest.n}", detail
        )
    Console().print(table)
    if rebuilt:
        typer.echo(f"rebuilt {len(rebuilt)} pieces")


__all__ = ["app"]
