"""`depinkit agent ...`: set up a device, run it, and see what it delivered.

* ``init``: one command from nothing to a device ready to run: key, config,
  data directory, and the onboarding consent the owner needs.
* ``run``: runs the configured roles and delivers to every oracle until stopped
  (SIGINT/SIGTERM stop it cleanly; SIGKILL loses nothing committed).
* ``status``: what was acknowledged, rejected and is still pending, per oracle.
* ``emit`` (hidden, for tests and load runs): enqueue N heartbeats quickly.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import httpx
import msgspec
import typer
from rich.console import Console
from rich.table import Table

from depinkit.agent.clock import SystemClock
from depinkit.agent.config import (
    CONFIG_FILENAME,
    PASSPHRASE_ENV,
    AgentConfig,
    DomainSettings,
    OracleEndpoint,
    RoleSettings,
    load_config,
    parse_config,
)
from depinkit.agent.device import create_device, load_device
from depinkit.agent.errors import ConfigError
from depinkit.agent.metrics import AgentMetrics
from depinkit.agent.outbox import Outbox
from depinkit.agent.roles import (
    ReportDraft,
    RoleFactory,
    build_roles,
    discover_factories,
)
from depinkit.agent.runtime import AgentRuntime, build_runtime
from depinkit.core.errors import DepinkitError
from depinkit.core.keys import Account, load_keystore, to_checksum
from depinkit.core.keystore import read_keystore_address
from depinkit.networks.compute.role import compute_role_factory
from depinkit.networks.coverage.role import coverage_role_factory
from depinkit.networks.storage.role import storage_role_factory
from depinkit.networks.uptime import Heartbeat
from depinkit.networks.uptime.role import uptime_role_factory

app = typer.Typer(no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)

if TYPE_CHECKING:
    from depinkit.agent.onboarding import OwnerOnboarding

DEFAULT_ONBOARD_WINDOW_S = 7 * 24 * 3600  # a week for the owner to send the transaction
OWNER_PASSPHRASE_ENV = "DEPINKIT_OWNER_PASSPHRASE"  # unlocks --owner-key without a prompt

ConfigOption = Annotated[
    Path,
    typer.Option(
        "--config",
        "-c",
        envvar="DEPINKIT_AGENT_CONFIG",
        help="Agent config file, or the data directory holding agent.toml.",
    ),
]


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


def _config_path(path: Path) -> Path:
    return path / CONFIG_FILENAME if path.is_dir() else path


def _load(path: Path) -> AgentConfig:
    try:
        return load_config(_config_path(path))
    except DepinkitError as exc:
        raise _fail(str(exc)) from exc


def _account(config: AgentConfig) -> Account:
    try:
        return load_device(config)
    except DepinkitError as exc:
        raise _fail(str(exc)) from exc


def role_factories(oracle_urls: Sequence[str] = ()) -> dict[str, RoleFactory]:
    """Built-in roles plus those installed packages register.

    The uptime role answers each slot's challenge, learning the epoch's entropy from the
    oracles' beacons (docs/networks/uptime.md).
    """
    factories: dict[str, RoleFactory] = {
        "uptime": uptime_role_factory(oracle_urls),
        "compute": compute_role_factory(),
        "coverage": coverage_role_factory(oracle_urls),
        "storage": storage_role_factory(oracle_urls),
    }
    factories.update(discover_factories())
    return factories


def _runtime(config: AgentConfig, account: Account, *, with_roles: bool) -> AgentRuntime:
    metrics = AgentMetrics()
    try:
        factories = role_factories([o.url for o in config.oracles])
        roles = build_roles(config.roles, factories) if with_roles else []
        return build_runtime(
            config,
            account,
            roles=roles,
            client=httpx.Client(),
            clock=SystemClock(),
            rng=random.Random(secrets.randbits(64)),
            metrics=metrics,
        )
    except DepinkitError as exc:
        raise _fail(str(exc)) from exc


def _log_to_stderr() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


@app.command()
def init(
    data_dir: Annotated[Path, typer.Option(help="Data directory to create for this device.")],
    oracle: Annotated[
        list[str], typer.Option(help="Oracle ingest as name=url; repeat for each oracle.")
    ],
    owner: Annotated[str, typer.Option(help="Owner address that will onboard and stake.")],
    h3_cell: Annotated[str, typer.Option(help="H3 cell of the device (hex index).")],
    chain_id: Annotated[
        int | None, typer.Option(help="Chain id of the deployment (default: the manifest's).")
    ] = None,
    registry: Annotated[
        str | None, typer.Option(help="DeviceRegistry address (default: the manifest's).")
    ] = None,
    network: Annotated[str, typer.Option(help="Network the device joins.")] = "uptime",
    heartbeat_s: Annotated[float, typer.Option(help="Heartbeat interval (seconds).")] = 60.0,
    epoch_genesis_ms: Annotated[int, typer.Option(help="Epoch 0 start, unix ms.")] = 0,
    epoch_length_s: Annotated[int, typer.Option(help="Epoch length, seconds.")] = 3600,
    deadline: Annotated[
        int | None, typer.Option(help="Consent deadline, unix s (default: a week from now).")
    ] = None,
    rpc: Annotated[str | None, typer.Option(help="JSON-RPC URL: onboard on chain now.")] = None,
    manifest: Annotated[
        Path | None, typer.Option(help="Deployment manifest JSON (with --rpc).")
    ] = None,
    owner_key: Annotated[
        Path | None,
        typer.Option(help=f"Owner keystore (with --rpc); passphrase from {OWNER_PASSPHRASE_ENV}."),
    ] = None,
    scrypt_n: Annotated[int | None, typer.Option(hidden=True)] = None,
) -> None:
    """Create the device key, config and data directory; print or send the onboarding.

    Without --rpc, prints the DeviceRegistry.onboard arguments with the device's
    consent signature, for the owner to send. With --rpc, --manifest and
    --owner-key, sends the transaction (approving the stake) as the owner.
    """
    # deferred: the chain package pulls in web3, which `run` and `emit` never need
    from depinkit.agent.onboarding import parse_h3_cell, sign_onboarding

    onchain = _owner_onboarding(rpc, manifest, owner_key, owner)
    try:
        if onchain is not None:
            chain_id, registry = _check_domain(onchain, chain_id, registry)
        if chain_id is None or registry is None:
            raise ConfigError("give --chain-id and --registry, or --rpc with --manifest")
        oracles = []
        for item in oracle:
            name, sep, url = item.partition("=")
            if not sep:
                raise ConfigError(f"--oracle must be name=url, got {item!r}")
            oracles.append(OracleEndpoint(name=name, url=url))
        cell = parse_h3_cell(h3_cell)
        registry_checked = to_checksum(registry)
        owner_checked = to_checksum(owner)  # every input is checked before anything is written
        if network not in role_factories():
            raise ConfigError(f"no agent role for network {network!r}")
        config = AgentConfig(
            data_dir=".",
            domain=DomainSettings(chain_id=chain_id, registry=registry_checked),
            oracles=oracles,
            roles=[RoleSettings(name=network, interval_s=heartbeat_s)],
        )
        config = msgspec.structs.replace(
            config,
            epoch=msgspec.structs.replace(
                config.epoch, genesis_ms=epoch_genesis_ms, length_s=epoch_length_s
            ),
        )
        _check_config(config)
        if deadline is None:
            now_s = onchain.now() if onchain is not None else int(time.time())
            deadline = now_s + DEFAULT_ONBOARD_WINDOW_S
        account = create_device(
            data_dir, config, passphrase=os.environ.get(PASSPHRASE_ENV), kdf_iterations=scrypt_n
        )
        consent = sign_onboarding(
            account,
            chain_id=chain_id,
            registry=registry_checked,
            owner=owner_checked,
            network=network,
            h3_cell=cell,
            deadline=deadline,
            nonce=onchain.nonce(account.address) if onchain is not None else 0,
        )
    except (DepinkitError, OSError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    console.print(f"device [bold]{account.address}[/] created in {data_dir}")
    console.print(f"config: {data_dir / CONFIG_FILENAME}")
    if onchain is None:
        console.print("DeviceRegistry.onboard call (send from the owner's address):")
        console.print_json(msgspec.json.encode(consent).decode())
        return
    try:
        tx_hash = onchain.onboard(consent)
    except DepinkitError as exc:
        console.print_json(msgspec.json.encode(consent).decode())
        raise _fail(f"onboarding transaction failed (the device is created): {exc}") from exc
    console.print(f"onboarded on chain {chain_id}: transaction {tx_hash}")


def _check_config(config: AgentConfig) -> None:
    """Validate a config built in code exactly as a loaded one is."""
    parse_config(msgspec.to_builtins(config), base_dir=Path("."), env={})


def _check_domain(
    onchain: OwnerOnboarding, chain_id: int | None, registry: str | None
) -> tuple[int, str]:
    actual_chain, actual_registry = onchain.domain()
    if chain_id is not None and chain_id != actual_chain:
        raise ConfigError(f"--chain-id {chain_id} but the RPC serves chain {actual_chain}")
    if registry is not None and to_checksum(registry) != actual_registry:
        raise ConfigError(f"--registry {registry} but the manifest says {actual_registry}")
    return actual_chain, actual_registry


def _owner_onboarding(
    rpc: str | None, manifest: Path | None, owner_key: Path | None, owner: str
) -> OwnerOnboarding | None:
    """Connect as the owner when --rpc, --manifest and --owner-key are all given."""
    given = [rpc is not None, manifest is not None, owner_key is not None]
    if not any(given):
        return None
    if not all(given):
        raise _fail("on-chain onboarding needs --rpc, --manifest and --owner-key together")
    assert rpc is not None and manifest is not None and owner_key is not None
    from depinkit.agent.onboarding import OwnerOnboarding

    passphrase = os.environ.get(OWNER_PASSPHRASE_ENV)
    if passphrase is None:
        passphrase = typer.prompt("owner keystore passphrase", hide_input=True)
    try:
        owner_account = load_keystore(owner_key, passphrase)
        if owner_account.address != to_checksum(owner):
            raise ConfigError(f"--owner-key holds {owner_account.address}, not --owner {owner}")
        return OwnerOnboarding.connect(rpc, manifest, owner_account)
    except (DepinkitError, ValueError) as exc:
        raise _fail(str(exc)) from exc


@app.command()
def run(config_path: ConfigOption = Path(".")) -> None:
    """Run the configured roles and deliver to every oracle until stopped."""
    _log_to_stderr()
    config = _load(config_path)
    runtime = _runtime(config, _account(config), with_roles=True)
    if config.metrics.port:
        assert runtime.metrics is not None
        runtime.metrics.serve(config.metrics.host, config.metrics.port)
    stop = _stop_on_signals()
    console.print(
        f"agent {runtime.signer.account.address}: {len(config.oracles)} oracle(s), "
        f"next seq {runtime.outbox.next_seq()}"
    )
    try:
        runtime.run(stop=stop)
    finally:
        runtime.close()


@app.command(hidden=True)
def emit(
    config_path: ConfigOption = Path("."),
    count: Annotated[int, typer.Option(help="Reports to enqueue.")] = 1,
    total: Annotated[
        bool, typer.Option(help="COUNT is the total the outbox should hold (resumable).")
    ] = False,
    chunk: Annotated[int, typer.Option(help="Reports per outbox transaction.")] = 500,
    rate: Annotated[float, typer.Option(help="Reports per second at most (0: no limit).")] = 0.0,
    deliver: Annotated[bool, typer.Option(help="Deliver, and exit once all are acked.")] = False,
) -> None:
    """Enqueue COUNT heartbeats quickly (tests, load runs); optionally deliver them."""
    if count < 0 or chunk < 1 or rate < 0:
        raise _fail("need count >= 0, chunk >= 1, rate >= 0")
    _log_to_stderr()
    config = _load(config_path)
    runtime = _runtime(config, _account(config), with_roles=False)
    stop = _stop_on_signals()
    try:
        remaining = count - runtime.outbox.report_count() if total else count
        started = time.monotonic()
        made = 0
        while remaining > 0 and not stop.is_set():
            size = min(chunk, remaining)
            uptime_s = (runtime.clock.now_ms() - runtime.started_ms) // 1000
            drafts = [ReportDraft("uptime", "heartbeat", Heartbeat(uptime_s=uptime_s))] * size
            runtime.enqueue(drafts)
            made += size
            remaining -= size
            if deliver:
                runtime.sender.step()
            if rate > 0:
                ahead_s = made / rate - (time.monotonic() - started)
                if ahead_s > 0:
                    time.sleep(ahead_s)
        if deliver and not stop.is_set():
            runtime.run(stop=stop, until_delivered=True)
        runtime.refresh_metrics(force=True)
        console.print(f"enqueued {made}; outbox holds {runtime.outbox.report_count()} reports")
    finally:
        runtime.close()


@app.command()
def status(config_path: ConfigOption = Path(".")) -> None:
    """Show sent, acknowledged, rejected and pending reports per oracle."""
    config = _load(config_path)
    if not config.outbox_path.exists():
        raise _fail(f"no outbox yet at {config.outbox_path}: run the agent first")
    try:
        device = read_keystore_address(config.data_path(config.device.keystore)) or ""
        outbox = Outbox(
            config.outbox_path,
            device=to_checksum(device if device.startswith("0x") else "0x" + device),
            oracles=[o.name for o in config.oracles],
        )
    except DepinkitError as exc:
        raise _fail(str(exc)) from exc
    try:
        table = Table(title=f"device {outbox.device}: {outbox.report_count()} reports")
        for column in ("oracle", "url", "acknowledged", "rejected", "pending"):
            table.add_column(column, justify="left" if column in ("oracle", "url") else "right")
        urls = {o.name: o.url for o in config.oracles}
        for row in outbox.counts():
            table.add_row(
                row.oracle,
                urls.get(row.oracle, "(no longer configured)"),
                str(row.acked),
                str(row.failed),
                str(row.pending),
            )
        console.print(table)
        console.print(f"next seq: {outbox.next_seq()}")
        rejections = outbox.rejections(limit=10)
        if rejections:
            rejected = Table(title="latest rejections")
            for column in ("seq", "oracle", "code", "report id"):
                rejected.add_column(column)
            for item in rejections:
                rejected.add_row(
                    str(item.seq), item.oracle, item.error_code, "0x" + item.report_id.hex()
                )
            console.print(rejected)
    finally:
        outbox.close()
