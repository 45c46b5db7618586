"""`depinkit coverage boost` and `depinkit coverage boosts`: demand-driven regions.

``boost`` buys a boost of an H3 hex on the HexBoosts contract: the consumer's DPK is burnt at
the governed price (``boost_price`` per res-11 cell, epoch and unit of multiplier) and the
hotspots in the hex earn ``multiplier`` times their coverage points from the next epoch on,
for ``epochs`` epochs (docs/networks/coverage.md, "Boosts and location trust"). ``--quote``
prints the price and buys nothing. ``boosts`` lists the boosts in force in an epoch and the
governance denylist, as the oracles read them. Both are mounted on the ``coverage`` group.

Errors end with exit code 1 (the chain refused, or could not be reached) or 2 (the command
line or its files are wrong), with one line on stderr and nothing sent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from depinkit.cli.passphrase import PassphraseError, read_passphrase
from depinkit.core.errors import DepinkitError

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from depinkit.chain import Depin

NETWORK: Final[str] = "coverage"
EXIT_FAILED: Final[int] = 1
EXIT_USAGE: Final[int] = 2
KEY_FILE_MAX_BYTES: Final[int] = 256  # a hex key and a newline
DPK: Final[int] = 10**18  # base units per DPK

err_console = Console(stderr=True, soft_wrap=True)

Rpc = Annotated[str, typer.Option("--rpc", help="JSON-RPC URL of the chain.")]
DeploymentOpt = Annotated[
    Path, typer.Option("--deployment", help="Deployment manifest JSON.", dir_okay=False)
]


def _exit(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(code=code)


def parse_cell(text: str) -> int:
    """An H3 cell from its hex text ("85283473fffffff", 0x optional) or decimal index."""
    import h3.api.basic_int as h3

    raw = text.strip().lower()
    try:
        value = int(raw, 10) if raw.isdigit() and len(raw) > 15 else int(raw, 16)
    except ValueError:
        raise ValueError(f"not an H3 cell: {text!r}") from None
    if not 0 < value < 2**64 or not h3.is_valid_cell(value):
        raise ValueError(f"not an H3 cell: {text!r}")
    return value


def _account(keystore: Path | None, key_file: Path | None, passphrase_file: Path | None) -> Any:
    from eth_account import Account as EthAccount

    from depinkit.core.keystore import load_keystore

    if (keystore is None) == (key_file is None):
        raise _exit("give the consumer key with exactly one of --keystore or --key-file", 2)
    try:
        if key_file is not None:
            raw = key_file.read_bytes()[:KEY_FILE_MAX_BYTES].decode("ascii").strip()
            return EthAccount.from_key(raw)
        assert keystore is not None
        return EthAccount.from_key(
            load_keystore(keystore, read_passphrase(passphrase_file)).private_key
        )
    except (OSError, ValueError, UnicodeDecodeError, DepinkitError, PassphraseError) as exc:
        raise _exit(f"cannot load the consumer key: {exc}", EXIT_USAGE) from None


def _connect(rpc: str, deployment: Path) -> Depin:
    from depinkit.chain import Depin

    try:
        return Depin.connect(rpc, deployment)
    except DepinkitError as exc:
        raise _exit(str(exc)) from None


def _dpk(base_units: int) -> str:
    whole, frac = divmod(base_units, DPK)
    return f"{whole}.{frac:018d}".rstrip("0").rstrip(".") + " DPK"


def boost(
    rpc: Rpc,
    deployment: DeploymentOpt,
    hexagon: Annotated[
        str, typer.Option("--hex", help="The H3 cell to boost (resolution 0 to 11), hex text.")
    ],
    multiplier: Annotated[int, typer.Option(min=2, help="Reward multiplier (2 or more).")],
    epochs: Annotated[int, typer.Option(min=1, help="Epochs the boost lasts.")],
    keystore: Annotated[Path | None, typer.Option(help="The consumer's keystore.")] = None,
    key_file: Annotated[
        Path | None, typer.Option(help="File holding the consumer's hex key.")
    ] = None,
    passphrase_file: Annotated[
        Path | None, typer.Option(help="Keystore passphrase: first line of this file.")
    ] = None,
    quote: Annotated[bool, typer.Option("--quote", help="Print the price; buy nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Burn DPK to boost a hex's coverage rewards from the next epoch on."""
    try:
        cell = parse_cell(hexagon)
    except ValueError as exc:
        raise _exit(str(exc), EXIT_USAGE) from None
    buyer: LocalAccount | None = None
    if not quote:
        buyer = _account(keystore, key_file, passphrase_file)
    depin = _connect(rpc, deployment)
    try:
        cost = depin.boosts.quote(NETWORK, cell, multiplier, epochs)
        out: dict[str, Any] = {
            "hex": f"{cell:x}",
            "multiplier": multiplier,
            "epochs": epochs,
            "cost": str(cost),
        }
        if buyer is not None:
            balance = depin.token.balance_of(buyer.address)
            if balance < cost:
                raise _exit(f"the boost costs {_dpk(cost)}, {buyer.address} holds {_dpk(balance)}")
            record, paid, receipt = depin.boosts.fund(buyer, NETWORK, cell, multiplier, epochs)
            out.update(
                id=record.id,
                first_epoch=record.first_epoch,
                last_epoch=record.last_epoch,
                cost=str(paid),
                tx="0x" + bytes(receipt["transactionHash"]).hex(),
            )
    except DepinkitError as exc:
        raise _exit(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(out))
    elif buyer is None:
        typer.echo(f"boosting {out['hex']} x{multiplier} for {epochs} epochs costs {_dpk(cost)}")
    else:
        typer.echo(
            f"boost {out['id']}: {out['hex']} x{multiplier} in epochs "
            f"{out['first_epoch']}..{out['last_epoch']}, burnt {_dpk(int(out['cost']))}"
        )


def boosts(
    rpc: Rpc,
    deployment: DeploymentOpt,
    epoch: Annotated[
        int | None, typer.Option(min=0, help="Epoch to list (default: the next one).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the boosts in force in an epoch and the governance denylist (as of now)."""
    depin = _connect(rpc, deployment)
    try:
        wanted = epoch if epoch is not None else depin.boosts.current_epoch() + 1
        in_force = depin.boosts.boosts_in_force(NETWORK, wanted)
        denied = depin.boosts.denylist(NETWORK)
    except DepinkitError as exc:
        raise _exit(str(exc)) from None
    if as_json:
        rows = [{"hex": f"{c:x}", "multiplier": m, "last_epoch": e} for c, m, e in in_force]
        typer.echo(json.dumps({"epoch": wanted, "boosts": rows, "denylist": denied}))
        return
    table = Table(title=f"coverage boosts in epoch {wanted}")
    for column in ("hex", "resolution", "multiplier", "last epoch"):
        table.add_column(column)
    import h3.api.basic_int as h3

    for cell, multiplier, last in in_force:
        table.add_row(f"{cell:x}", str(h3.get_resolution(cell)), f"x{multiplier}", str(last))
    console = Console()
    console.print(table)
    console.print(f"governance denylist: {', '.join(denied) if denied else 'empty'}")
