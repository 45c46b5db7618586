"""`depinkit coverage ...`: the consumer side of the coverage network's data transfer.

* ``router``: run the consumer's packet router (docs/networks/coverage.md, "Data transfer"):
  hotspots deliver uplinks to it and are paid per packet from the consumer's credits.
* ``send``: an IoT end device on the simulated radio medium transmits uplinks.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Final

import msgspec
import typer
from rich.console import Console

from depinkit.cli.passphrase import PassphraseError, read_passphrase
from depinkit.core.envelope import ReportDomain
from depinkit.core.errors import DepinkitError
from depinkit.core.keys import Account
from depinkit.core.keystore import load_keystore

app = typer.Typer(no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)

KEY_FILE_MAX_BYTES: Final[int] = 256  # a hex key and a newline


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


def _consumer(
    keystore: Path | None, key_file: Path | None, passphrase_file: Path | None
) -> Account:
    if (keystore is None) == (key_file is None):
        raise _fail("give the consumer key with exactly one of --keystore or --key-file")
    try:
        if key_file is not None:
            raw = key_file.read_bytes()[:KEY_FILE_MAX_BYTES]
            return Account.from_key(raw.decode("ascii").strip())
        assert keystore is not None
        return load_keystore(keystore, read_passphrase(passphrase_file))
    except (OSError, ValueError, UnicodeDecodeError, DepinkitError, PassphraseError) as exc:
        raise _fail(f"cannot load the consumer key: {exc}") from None


@app.command()
def router(
    rpc: Annotated[str, typer.Option(help="JSON-RPC URL of the chain.")],
    deployment: Annotated[Path, typer.Option(help="Deployment manifest JSON.")],
    devices: Annotated[
        Path, typer.Option(help='End devices: JSON {"<devaddr hex>": "<session key hex>"}.')
    ],
    keystore: Annotated[Path | None, typer.Option(help="The consumer's keystore.")] = None,
    key_file: Annotated[
        Path | None, typer.Option(help="File holding the consumer's hex key.")
    ] = None,
    passphrase_file: Annotated[
        Path | None, typer.Option(help="Keystore passphrase: first line of this file.")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: a free one).")] = 0,
    budget: Annotated[
        int | None, typer.Option(min=0, help="Most nanocredits this router may spend.")
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option(help="Ledger file: saved after each payment, continued from at start."),
    ] = None,
) -> None:
    """Run the packet router; prints `router listening on http://HOST:PORT` first."""
    from depinkit.chain import Chain, Depin, Deployment
    from depinkit.networks.coverage.router import (
        DepinRouterChain,
        Router,
        create_app,
        parse_devices,
        serve,
    )

    account = _consumer(keystore, key_file, passphrase_file)
    try:
        table = json.loads(devices.read_text(encoding="utf-8"))
        if not isinstance(table, dict):
            raise ValueError("the devices file must hold a JSON object")
        end_devices = parse_devices(table)
        manifest = Deployment.load(deployment)
        chain = Chain.connect(rpc)
        depin = Depin(chain, manifest)
    except (OSError, ValueError, DepinkitError) as exc:
        raise _fail(str(exc)) from None
    domain = ReportDomain(chain_id=chain.chain_id, registry=manifest.registry)
    try:
        service = Router(
            account,
            domain,
            DepinRouterChain(depin),
            end_devices,
            budget=budget,
            state_path=state,
        )
    except (OSError, ValueError, msgspec.DecodeError, DepinkitError) as exc:
        raise _fail(f"cannot start the router: {exc}") from None
    serve(create_app(service), host, port, lambda line: print(line, flush=True))


@app.command()
def send(
    medium: Annotated[str, typer.Option(help="URL of the simulated radio medium.")],
    devaddr: Annotated[str, typer.Option(help="Device address, 4 bytes hex.")],
    key: Annotated[str, typer.Option(help="Session key shared with the router, 16 bytes hex.")],
    radio_id: Annotated[
        str | None, typer.Option(help="Id on the medium (default: devaddr).")
    ] = None,
    position: Annotated[
        str | None, typer.Option(help='Where the device is: "lat,lng" or an H3 cell.')
    ] = None,
    count: Annotated[int, typer.Option(min=1, help="Uplinks to send.")] = 1,
    interval_s: Annotated[float, typer.Option(min=0.0, help="Pause between uplinks.")] = 1.0,
    payload: Annotated[str, typer.Option(help="Payload, hex (empty: none).")] = "",
    fcnt_file: Annotated[
        Path | None, typer.Option(help="Keeps the frame counter between runs.")
    ] = None,
    frequency_hz: Annotated[int, typer.Option(help="Uplink channel.")] = 868_300_000,
    tx_power_dbm: Annotated[int, typer.Option(help="Transmit power.")] = 14,
) -> None:
    """Transmit uplinks on the medium, one line of JSON per uplink sent."""
    from depinkit.networks.coverage.iot import IotDevice, UplinkError
    from depinkit.networks.coverage.radio.backend import RadioError
    from depinkit.networks.coverage.radio.medium import RadioSpec
    from depinkit.networks.coverage.radio.server import MediumOperator, MediumRadio

    try:
        addr = bytes.fromhex(devaddr.removeprefix("0x"))
        secret = bytes.fromhex(key.removeprefix("0x"))
        body = bytes.fromhex(payload.removeprefix("0x"))
        fcnt = int(fcnt_file.read_text().strip()) if fcnt_file and fcnt_file.exists() else 0
        rid = radio_id or addr.hex()
        if position is None:
            radio = MediumRadio(medium, rid)
        else:
            lat, lng = (float(x) for x in position.split(",")) if "," in position else (0, 0)
            spec = RadioSpec(lat=lat, lng=lng, cell="" if "," in position else position)
            radio = MediumOperator(medium).register(rid, spec)
        device = IotDevice(
            addr, secret, radio, fcnt=fcnt, frequency_hz=frequency_hz, tx_power_dbm=tx_power_dbm
        )
        for i in range(count):
            if i:
                time.sleep(interval_s)
            try:
                sent_fcnt, sent_ms = device.send(body)
            finally:
                if fcnt_file is not None:
                    fcnt_file.write_text(f"{device.fcnt}\n")
            print(json.dumps({"devaddr": addr.hex(), "fcnt": sent_fcnt, "sent_ms": sent_ms}))
    except (OSError, ValueError, UplinkError, RadioError) as exc:
        raise _fail(str(exc)) from None
