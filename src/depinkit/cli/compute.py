"""``depinkit compute``: run WebAssembly jobs on the compute network, or serve as a provider.

``run`` builds a job from a module and input files, auctions it among the given providers,
waits with a progress display and writes the outputs; ``submit`` does the same in a
detached worker process and returns at once with the job id, ``status``, ``result`` and
``cancel`` follow it through a local job store (``--home``, one ``jobs/<id>.json`` record
per job, the :class:`~depinkit.networks.compute.client.JobOutcome` inside when done).
``provider`` runs the provider service (every argument passed through).

The consumer key comes from a keystore (``--keystore``, passphrase as every other command
reads it) or a file holding the hex key (``--key-file``). Errors end with exit code 1
(the network could not do the job) or 2 (the command line or its files are wrong), with
one line on stderr and never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, Final

import msgspec
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from depinkit.cli.passphrase import PassphraseError, read_passphrase
from depinkit.core.envelope import ReportDomain
from depinkit.core.errors import DepinkitError
from depinkit.core.keys import Account
from depinkit.core.keystore import load_keystore
from depinkit.networks.compute.client import (
    CANCELLED,
    DEFAULT_LIMITS,
    DONE,
    FAILED,
    QUEUED,
    ComputeClient,
    ComputeClientError,
    HttpTransport,
    JobCancelled,
    JobOutcome,
    JobStatus,
    load_job,
    write_outputs,
)
from depinkit.networks.compute.jobs import STATUS_OK, Job, JobLimits, job_id
from depinkit.networks.compute.parameters import PARAMETERS, PPM, VERIFY_BELOW_TIER, VERIFY_PPM
from depinkit.networks.context import resolve_parameters
from depinkit.networks.errors import NetworkError

HOME_ENV: Final[str] = "DEPINKIT_COMPUTE_HOME"
KEYSTORE_ENV: Final[str] = "DEPINKIT_COMPUTE_KEYSTORE"
WORKER_KEY_ENV: Final[str] = "DEPINKIT_COMPUTE_WORKER_KEY"  # the consumer key, to a worker only
DEFAULT_HOME: Final[Path] = Path("~/.depinkit/compute")
DEFAULT_CHAIN_ID: Final[int] = 31337  # the devnet's, as the provider service's default
DEFAULT_REGISTRY: Final[str] = "0x" + "00" * 20
DEFAULT_MAX_PRICE: Final[int] = 1_000  # nanocredits per million fuel: 10x the devnet's price
DEFAULT_CREDITS: Final[int] = 10**12  # nanocredits this client may reserve (1,000 credits)
EXIT_FAILED: Final[int] = 1  # the network could not do the job (or it failed)
EXIT_USAGE: Final[int] = 2  # the command line or its files are wrong
POLL_S: Final[float] = 0.1  # seconds between reads of a job record while waiting
CANCEL_GRACE_S: Final[float] = 5.0  # seconds a cancelled worker gets to settle and exit
KEY_FILE_MAX_BYTES: Final[int] = 4096  # bytes: a hex key file is one line
PROGRESS_REFRESH_PER_S: Final[float] = 2.0  # redraws of `run`'s progress line: rich's default
# of 10 costs ~10 ms of CPU per second (1% of a core over the job), 2 costs ~2 ms
TERMINAL: Final[frozenset[str]] = frozenset({DONE, FAILED, CANCELLED})

app = typer.Typer(no_args_is_help=True, help="Run WebAssembly jobs on the compute network.")
console = Console(stderr=True, soft_wrap=True)


class StoredJob(msgspec.Struct):
    """A job's record in the store (``HOME/jobs/<id>.json``), written by its worker."""

    job_id: str  # hex
    state: str
    pid: int = 0  # the worker process
    provider: str = ""
    runs: int = 0
    error: str = ""
    outcome: JobOutcome | None = None


class _Failure(Exception):
    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def _exit(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(code=code)


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Every expected failure as one line and an exit code, never a traceback."""
    try:
        yield
    except _Failure as exc:
        raise _exit(str(exc), exc.code) from None
    except (DepinkitError, PassphraseError) as exc:
        raise _exit(str(exc)) from None
    except OSError as exc:
        raise _exit(
            f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "), EXIT_USAGE
        ) from None


# -- options --------------------------------------------------------------------------------

Home = Annotated[
    Path, typer.Option("--home", envvar=HOME_ENV, help="The job store (jobs/<id>.json).")
]
KeystoreOpt = Annotated[
    Path | None,
    typer.Option("--keystore", envvar=KEYSTORE_ENV, help="The consumer's keystore."),
]
KeyFile = Annotated[
    Path | None, typer.Option("--key-file", help="File holding the consumer's hex key.")
]
PassphraseFile = Annotated[
    Path | None, typer.Option("--passphrase-file", help="Passphrase: first line of this file.")
]
Inputs = Annotated[
    list[Path] | None,
    typer.Option("--input", "-i", help="Input file, under /in by its name (repeatable)."),
]
Args = Annotated[
    list[str] | None,
    typer.Option("--arg", "-a", help="Argument after the program name (repeatable)."),
]
Fuel = Annotated[int, typer.Option("--fuel", min=1, help="Fuel limit (about 1 per instruction).")]
Memory = Annotated[int, typer.Option("--memory", min=1, help="Linear memory limit, bytes.")]
WallMs = Annotated[int, typer.Option("--wall-ms", min=1, help="Wall time limit, milliseconds.")]
OutputBytes = Annotated[int, typer.Option("--output-bytes", min=1, help="Output limit, bytes.")]
MaxPrice = Annotated[
    int, typer.Option("--max-price", min=0, help="Ceiling, nanocredits per million fuel.")
]
Providers = Annotated[
    list[str] | None, typer.Option("--provider", "-p", help="Provider URL (repeatable).")
]
Credits = Annotated[
    int, typer.Option("--credits", min=0, help="Nanocredits this client may reserve.")
]
ChainId = Annotated[int, typer.Option("--chain-id", help="Chain the job is bound to.")]
Registry = Annotated[str, typer.Option("--registry", help="DeviceRegistry the job is bound to.")]
VerifyPpm = Annotated[
    int | None,
    typer.Option("--verify-ppm", min=0, max=1_000_000, help="Re-run probability, ppm."),
]
VerifyBelowTier = Annotated[
    int | None,
    typer.Option(
        "--verify-below-tier", min=0, max=3, help="Always re-run providers below this tier."
    ),
]
Out = Annotated[Path, typer.Option("--out", "-o", help="Directory for the output files.")]
JsonOutput = Annotated[bool, typer.Option("--json", help="Print JSON.")]


class _Settings(msgspec.Struct):
    """What a worker needs besides the job and the key (stored next to the job)."""

    providers: list[str]
    max_price: int
    credits: int
    chain_id: int
    registry: str
    parameters: dict[str, int]


def _account(keystore: Path | None, key_file: Path | None, passphrase_file: Path | None) -> Account:
    if (keystore is None) == (key_file is None):
        raise _Failure(
            "give the consumer key with exactly one of --keystore or --key-file", EXIT_USAGE
        )
    if key_file is not None:
        raw = key_file.read_bytes()[:KEY_FILE_MAX_BYTES]
        try:
            return Account.from_key(raw.decode("ascii").strip())
        except (ValueError, UnicodeDecodeError, DepinkitError) as exc:
            raise _Failure(
                f"{key_file} does not hold a hex private key: {exc}", EXIT_USAGE
            ) from None
    assert keystore is not None
    return load_keystore(keystore, read_passphrase(passphrase_file))


def _check_module(module: Path) -> None:
    """Refuse a file that is not a valid WebAssembly module before paying anyone to run it."""
    import wasmtime

    from depinkit.networks.compute.runner import WASM_MAGIC_V1, make_engine

    code = module.read_bytes()
    if code[:8] != WASM_MAGIC_V1:
        raise _Failure(f"{module} is not a WebAssembly binary module", EXIT_USAGE)
    try:
        wasmtime.Module.validate(make_engine(), code)
    except wasmtime.WasmtimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid"
        raise _Failure(f"{module} is not a valid WebAssembly module: {first}", EXIT_USAGE) from None


def _build_job(
    module: Path,
    inputs: Sequence[Path],
    args: Sequence[str],
    limits: JobLimits,
) -> Job:
    if not module.is_file():
        raise _Failure(f"module {module} is not a file", EXIT_USAGE)
    for path in inputs:
        if not path.is_file():
            raise _Failure(f"input {path} is not a file", EXIT_USAGE)
    _check_module(module)
    try:
        return load_job(module, inputs=inputs, args=[module.stem, *args], limits=limits)
    except ComputeClientError as exc:
        raise _Failure(str(exc), EXIT_USAGE) from None


def _limits(fuel: int, memory: int, wall_ms: int, output_bytes: int) -> JobLimits:
    try:
        return JobLimits(fuel=fuel, memory_bytes=memory, wall_ms=wall_ms, output_bytes=output_bytes)
    except (ValueError, msgspec.ValidationError) as exc:
        raise _Failure(f"invalid limits: {exc}", EXIT_USAGE) from None


def _parameters(verify_ppm: int | None, verify_below_tier: int | None) -> dict[str, int]:
    found: dict[str, int] = {}
    if verify_ppm is not None:
        found[VERIFY_PPM] = verify_ppm
    if verify_below_tier is not None:
        found[VERIFY_BELOW_TIER] = verify_below_tier
    return found


def _preflight(
    settings: _Settings, domain: ReportDomain, fuel: int, transport: HttpTransport | None = None
) -> None:
    """Name the usual reasons a job cannot start before the client tries: nobody answers,
    or every provider asks more than the ceiling. A ``transport`` given is the one the job
    then runs on: the providers' answers are reused for its auction."""
    from depinkit.networks.compute.market import Order

    if not settings.providers:
        raise _Failure("no providers: give at least one --provider URL", EXIT_USAGE)
    own = transport is None
    transport = transport or HttpTransport(domain)
    problems: list[str] = []
    prices: list[int] = []
    try:
        order = Order(job_id=bytes(32), fuel_limit=fuel, max_price_per_mfuel=settings.max_price)
        for url in settings.providers:
            try:
                bid = transport.bid(url, order)
            except NetworkError as exc:
                problems.append(f"{url}: {exc}")
                continue
            if bid is None:
                problems.append(f"{url}: declines the job (other deployment or limits)")
                continue
            prices.append(bid.price_per_mfuel)
    finally:
        if own:
            transport.close()
    if not prices:
        raise _Failure("no provider reachable for this job: " + "; ".join(problems))
    if min(prices) > settings.max_price:
        raise _Failure(
            f"price ceiling {settings.max_price} is below every provider's price "
            f"(lowest {min(prices)} nanocredits per million fuel); raise --max-price"
        )
    params = resolve_parameters(PARAMETERS, settings.parameters)
    # This client knows no reputations: every provider is tier 0 to it.
    always = params[VERIFY_BELOW_TIER] > 0 or params[VERIFY_PPM] >= PPM
    affordable = [p for p in prices if p <= settings.max_price]
    if always and len(affordable) < 2:
        raise _Failure(
            "every job is verified by a re-run on a second provider, and only "
            f"{len(affordable)} is reachable at or under the ceiling: give another "
            "--provider, or --verify-below-tier 0 --verify-ppm 0 to skip verification"
        )


def _deliver_receipts(outcome: JobOutcome, domain: ReportDomain) -> int:
    """Hand each paid provider its receipt (the provider's agent reports it); how many
    were taken. Best effort: the receipts are also in the outcome."""
    from depinkit.networks.compute.provider_client import ProviderClient, ProviderError

    taken = 0
    for run in outcome.runs:
        if run.receipt is None or not run.url:
            continue
        with ProviderClient(run.url, domain) as provider:
            try:
                provider.pay(run.receipt)
                taken += 1
            except ProviderError as exc:
                if exc.code == "replayed":  # the client already handed it over
                    taken += 1
                    continue
                warning = escape(f"receipt to {run.url}: {exc}")
                console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
            except NetworkError as exc:
                warning = escape(f"receipt to {run.url}: {exc}")
                console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    return taken


def _run_job(
    account: Account,
    job: Job,
    settings: _Settings,
    on_event: Any,
    cancel: threading.Event | None = None,
    transport: HttpTransport | None = None,
) -> JobOutcome:
    """Run the job to its end. ``cancel`` set (or Ctrl-C without one): the client cancels
    it, which stops its run on the provider; the JobCancelled (KeyboardInterrupt) is raised."""
    domain = ReportDomain(chain_id=settings.chain_id, registry=settings.registry)
    transport = transport or HttpTransport(domain)
    client = ComputeClient(
        account,
        domain,
        settings.providers,
        credits=settings.credits,
        transport=transport,
        parameters=settings.parameters,
        on_event=on_event,
    )
    interrupted = False
    try:
        ident = client.submit(job, max_price_per_mfuel=settings.max_price)
        if cancel is None:
            try:
                outcome = client.result(ident)
            except KeyboardInterrupt:  # Ctrl-C: stop the run on its provider too, unpaid
                interrupted = True
                client.cancel(ident)
                with contextlib.suppress(Exception):
                    client.result(ident, timeout=CANCEL_GRACE_S)
                raise
        else:
            while True:
                with contextlib.suppress(TimeoutError):
                    outcome = client.result(ident, timeout=POLL_S)
                    break
                if cancel.is_set():
                    client.cancel(ident)
                    outcome = client.result(ident, timeout=CANCEL_GRACE_S)
                    break
    finally:
        if not interrupted and (cancel is None or not cancel.is_set()):
            client.close()  # not after a cancel: a run the provider did not stop may linger
        transport.close()
    _deliver_receipts(outcome, domain)
    return outcome


def _report(outcome: JobOutcome, written: Sequence[Path]) -> None:
    result = outcome.result
    for path in written:
        typer.echo(str(path))
    verified = "verified by a re-run" if outcome.verified else "not re-run"
    console.print(
        f"job {outcome.job_id.hex()} on {outcome.provider} ({verified}): "
        f"fuel used {result.fuel_used:,}, paid {outcome.paid:,} nanocredits "
        f"(reserved {outcome.reserved:,}, refunded {outcome.refunded:,})",
        highlight=False,
    )
    if outcome.disputes:
        console.print(
            f"{len(outcome.disputes)} provider(s) proven wrong: not paid", highlight=False
        )


def _finish(outcome: JobOutcome, out: Path) -> None:
    """Write the outputs, print the bill; exit 1 if the module did not end cleanly."""
    result = outcome.result
    written = write_outputs(result, out)
    _report(outcome, written)
    if result.status != STATUS_OK:
        raise _Failure(f"job ended with {result.status}: {result.error}")
    if result.exit_code != 0:
        raise _Failure(f"module exited with code {result.exit_code}")


def _describe(status: JobStatus) -> str:
    where = f" on {status.provider[:10]}" if status.provider else ""
    return f"{status.state}{where} (run {status.runs})" if status.runs else status.state


# -- commands ---------------------------------------------------------------------------------


@app.command()
def run(
    module: Annotated[Path, typer.Argument(help="The WebAssembly (WASI preview 1) module.")],
    inputs: Inputs = None,
    args: Args = None,
    fuel: Fuel = DEFAULT_LIMITS.fuel,
    memory: Memory = DEFAULT_LIMITS.memory_bytes,
    wall_ms: WallMs = DEFAULT_LIMITS.wall_ms,
    output_bytes: OutputBytes = DEFAULT_LIMITS.output_bytes,
    max_price: MaxPrice = DEFAULT_MAX_PRICE,
    providers: Providers = None,
    keystore: KeystoreOpt = None,
    key_file: KeyFile = None,
    passphrase_file: PassphraseFile = None,
    out: Out = Path("."),
    credits: Credits = DEFAULT_CREDITS,
    chain_id: ChainId = DEFAULT_CHAIN_ID,
    registry: Registry = DEFAULT_REGISTRY,
    verify_ppm: VerifyPpm = None,
    verify_below_tier: VerifyBelowTier = None,
) -> None:
    """Run a job on the network, wait, write its outputs to --out."""
    with _errors():
        job = _build_job(
            module, inputs or [], args or [], _limits(fuel, memory, wall_ms, output_bytes)
        )
        account = _account(keystore, key_file, passphrase_file)
        settings = _Settings(
            providers=list(providers or []),
            max_price=max_price,
            credits=credits,
            chain_id=chain_id,
            registry=registry,
            parameters=_parameters(verify_ppm, verify_below_tier),
        )
        domain = ReportDomain(chain_id=chain_id, registry=registry)
        transport = HttpTransport(domain)  # closed by _run_job
        _preflight(settings, domain, fuel, transport)
        progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            TextColumn("{task.fields[state]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            refresh_per_second=PROGRESS_REFRESH_PER_S,
        )
        with progress:
            task = progress.add_task(f"job {job_id(job).hex()[:12]}", state=QUEUED)

            def on_event(status: JobStatus) -> None:
                progress.update(task, state=_describe(status))

            outcome = _run_job(account, job, settings, on_event, transport=transport)
        _finish(outcome, out)


@app.command()
def submit(
    module: Annotated[Path, typer.Argument(help="The WebAssembly (WASI preview 1) module.")],
    inputs: Inputs = None,
    args: Args = None,
    fuel: Fuel = DEFAULT_LIMITS.fuel,
    memory: Memory = DEFAULT_LIMITS.memory_bytes,
    wall_ms: WallMs = DEFAULT_LIMITS.wall_ms,
    output_bytes: OutputBytes = DEFAULT_LIMITS.output_bytes,
    max_price: MaxPrice = DEFAULT_MAX_PRICE,
    providers: Providers = None,
    keystore: KeystoreOpt = None,
    key_file: KeyFile = None,
    passphrase_file: PassphraseFile = None,
    home: Home = DEFAULT_HOME,
    credits: Credits = DEFAULT_CREDITS,
    chain_id: ChainId = DEFAULT_CHAIN_ID,
    registry: Registry = DEFAULT_REGISTRY,
    verify_ppm: VerifyPpm = None,
    verify_below_tier: VerifyBelowTier = None,
) -> None:
    """Start a job in a detached worker; prints its id (follow it with status/result)."""
    with _errors():
        job = _build_job(
            module, inputs or [], args or [], _limits(fuel, memory, wall_ms, output_bytes)
        )
        account = _account(keystore, key_file, passphrase_file)
        settings = _Settings(
            providers=list(providers or []),
            max_price=max_price,
            credits=credits,
            chain_id=chain_id,
            registry=registry,
            parameters=_parameters(verify_ppm, verify_below_tier),
        )
        _preflight(settings, ReportDomain(chain_id=chain_id, registry=registry), fuel)
        ident = job_id(job).hex()
        jobs = _jobs_dir(home)
        jobs.mkdir(parents=True, exist_ok=True, mode=0o700)
        record = jobs / f"{ident}.json"
        if record.exists():
            existing = _read(record)
            if existing.state not in TERMINAL:
                raise _Failure(f"job {ident} is already {existing.state}")
        _write_atomic(jobs / f"{ident}.job", msgspec.msgpack.encode(job))
        _write_atomic(jobs / f"{ident}.settings.json", msgspec.json.encode(settings))
        _store(record, StoredJob(job_id=ident, state=QUEUED))
        env = {**os.environ, WORKER_KEY_ENV: account.private_key.hex()}
        code = "from depinkit.cli.compute import app; app()"
        with open(jobs / f"{ident}.log", "ab") as log:
            worker = subprocess.Popen(
                [sys.executable, "-c", code, "worker", str(home), ident],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,  # detached: survives this shell, not killed with it
            )
        _store(record, StoredJob(job_id=ident, state=QUEUED, pid=worker.pid))
    typer.echo(ident)


@app.command(hidden=True)
def worker(home: Path, ident: str) -> None:
    """Run a submitted job to its end, keeping its record up to date (started by submit)."""
    jobs = _jobs_dir(home)
    record = jobs / f"{ident}.json"
    key = os.environ.pop(WORKER_KEY_ENV, "")
    cancel = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: cancel.set())
    lock = threading.Lock()
    latest = StoredJob(job_id=ident, state=QUEUED, pid=os.getpid())

    def save(**changes: Any) -> None:
        nonlocal latest
        with lock:
            latest = msgspec.structs.replace(latest, **changes)
            _store(record, latest)

    try:
        job = msgspec.msgpack.decode((jobs / f"{ident}.job").read_bytes(), type=Job)
        settings = msgspec.json.decode(
            (jobs / f"{ident}.settings.json").read_bytes(), type=_Settings
        )
        account = Account.from_key(key)

        def on_event(status: JobStatus) -> None:
            if status.state not in TERMINAL:  # the end is written below, with the outcome
                save(state=status.state, provider=status.provider, runs=status.runs)

        outcome = _run_job(account, job, settings, on_event, cancel=cancel)
    except Exception as exc:  # the record is the only place anyone sees the error
        if cancel.is_set() and isinstance(exc, JobCancelled):
            save(state=CANCELLED, error="cancelled: the run in flight was stopped on its provider")
        elif cancel.is_set():  # the provider did not confirm in time (unreachable?)
            save(state=CANCELLED, error="cancelled: a run in flight was not confirmed stopped")
        else:
            save(state=FAILED, error=str(exc) or type(exc).__name__)
    else:
        ended = {"provider": outcome.provider, "runs": len(outcome.runs), "outcome": outcome}
        if cancel.is_set():  # too late to stop: the run returned and was paid, as documented
            save(state=CANCELLED, error="cancelled after its run returned (paid)", **ended)
        else:
            save(state=DONE, **ended)
    finally:
        with contextlib.suppress(OSError):
            (jobs / f"{ident}.job").unlink()
    sys.stdout.flush()
    os._exit(0)  # client threads of a cancelled run may still wait on a provider


@app.command()
def status(
    ident: Annotated[str, typer.Argument(help="Job id (a unique prefix).")],
    home: Home = DEFAULT_HOME,
    as_json: JsonOutput = False,
) -> None:
    """Where a submitted job is."""
    with _errors():
        stored = _load(home, ident)
    if as_json:
        shown = {
            "job_id": stored.job_id,
            "state": stored.state,
            "provider": stored.provider,
            "runs": stored.runs,
            "error": stored.error,
        }
        if stored.outcome is not None:
            shown["fuel_used"] = stored.outcome.result.fuel_used
            shown["paid"] = stored.outcome.paid
            shown["verified"] = stored.outcome.verified
        typer.echo(msgspec.json.encode(shown).decode())
        return
    line = f"{stored.job_id} {stored.state}"
    if stored.provider:
        line += f" provider {stored.provider} runs {stored.runs}"
    if stored.outcome is not None:
        line += f" fuel {stored.outcome.result.fuel_used} paid {stored.outcome.paid}"
    if stored.error:
        line += f" error: {stored.error}"
    typer.echo(line)


@app.command()
def result(
    ident: Annotated[str, typer.Argument(help="Job id (a unique prefix).")],
    out: Out = Path("."),
    home: Home = DEFAULT_HOME,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the job to end.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait at most.")] = 3600,
) -> None:
    """Write a finished job's outputs to --out and print what it cost."""
    with _errors():
        stored = _load(home, ident)
        deadline = time.monotonic() + timeout
        while wait and stored.state not in TERMINAL and time.monotonic() < deadline:
            time.sleep(POLL_S)
            stored = _load(home, stored.job_id)
        if stored.state != DONE or stored.outcome is None:
            detail = f": {stored.error}" if stored.error else ""
            raise _Failure(f"job {stored.job_id} is {stored.state}{detail}")
        _finish(stored.outcome, out)


@app.command()
def cancel(
    ident: Annotated[str, typer.Argument(help="Job id (a unique prefix).")],
    home: Home = DEFAULT_HOME,
) -> None:
    """Stop a submitted job: its run in flight is stopped on the provider and not paid;
    runs that already returned are paid."""
    with _errors():
        stored = _load(home, ident)
        if stored.state in TERMINAL:
            raise _Failure(f"job {stored.job_id} already ended: {stored.state}")
        if stored.pid > 0 and _alive(stored.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(stored.pid, signal.SIGTERM)
            deadline = time.monotonic() + CANCEL_GRACE_S * 2
            while _alive(stored.pid) and time.monotonic() < deadline:
                time.sleep(POLL_S)
        stored = _load(home, stored.job_id)
        if stored.state not in TERMINAL:  # the worker died without a word, or lingers
            record = _jobs_dir(home) / f"{stored.job_id}.json"
            stored = msgspec.structs.replace(stored, state=CANCELLED, error="cancelled")
            _store(record, stored)
    typer.echo(f"{stored.job_id} {stored.state}")


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def provider(ctx: typer.Context) -> None:
    """Run the provider service (arguments passed through; --help lists them)."""
    from depinkit.networks.compute.provider import main

    main(list(ctx.args))


# -- the job store ------------------------------------------------------------------------


def _jobs_dir(home: Path) -> Path:
    return home.expanduser() / "jobs"


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _store(record: Path, stored: StoredJob) -> None:
    _write_atomic(record, msgspec.json.encode(stored))


def _read(record: Path) -> StoredJob:
    try:
        return msgspec.json.decode(record.read_bytes(), type=StoredJob)
    except msgspec.DecodeError as exc:
        raise _Failure(f"job record {record} is corrupt: {exc}") from None


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie child of this process counts as ended)."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _load(home: Path, ident: str) -> StoredJob:
    """The record of the job whose id starts with ``ident``; a worker that died before
    writing the end is reported failed."""
    jobs = _jobs_dir(home)
    prefix = ident.lower().removeprefix("0x")
    if not prefix or any(c not in "0123456789abcdef" for c in prefix):
        raise _Failure(f"not a job id: {ident!r}", EXIT_USAGE)
    found = sorted(jobs.glob(f"{prefix}*.json")) if jobs.is_dir() else []
    found = [p for p in found if not p.name.endswith(".settings.json")]
    if not found:
        raise _Failure(f"no job {ident} in {jobs}")
    if len(found) > 1:
        raise _Failure(f"job id {ident} is ambiguous ({len(found)} jobs)", EXIT_USAGE)
    stored = _read(found[0])
    if stored.state not in TERMINAL and stored.pid > 0 and not _alive(stored.pid):
        stored = _read(found[0])  # it may have written its end just now
        if stored.state not in TERMINAL:
            stored = msgspec.structs.replace(stored, state=FAILED, error="the worker died")
            _store(found[0], stored)
    return stored


__all__ = ["app"]

if __name__ == "__main__":
    app()
