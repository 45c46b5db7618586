"""Run the real anvil binary (from the npm package @foundry-rs/anvil) as a local chain.

Used by the devnet and by the test session. anvil binds 127.0.0.1 only, on a free port
picked by the OS; ``--state FILE`` keeps the chain across restarts and ``--block-time``
makes blocks appear on a clock, which epoch start blocks need.
"""

from __future__ import annotations

import glob
import os
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Final

import httpx

from depinkit.chain.errors import AnvilError

ANVIL_ENV: Final[str] = "DEPINKIT_ANVIL"  # path to an anvil binary, or a node_modules dir
START_TIMEOUT_S: Final[float] = 20.0  # anvil answers in well under a second normally
STOP_TIMEOUT_S: Final[float] = 10.0  # time to flush --state on SIGTERM before SIGKILL
_BINARY_GLOB: Final[str] = "@foundry-rs/anvil-*/bin/anvil"


def _search_node_modules(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / "node_modules"
        if candidate.is_dir():
            found = sorted(glob.glob(str(candidate / _BINARY_GLOB)))
            if found:
                return Path(found[0])
    return None


def find_anvil() -> Path:
    """The anvil binary: $DEPINKIT_ANVIL, else node_modules above the package or the cwd."""
    override = os.environ.get(ANVIL_ENV)
    if override:
        path = Path(override)
        if path.is_dir():
            found = sorted(glob.glob(str(path / _BINARY_GLOB))) or sorted(
                glob.glob(str(path / "node_modules" / _BINARY_GLOB))
            )
            if found:
                return Path(found[0])
        elif path.is_file():
            return path
        raise AnvilError(f"{ANVIL_ENV}={override} is not an anvil binary or node_modules dir")
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        found_path = _search_node_modules(start)
        if found_path is not None:
            return found_path
    raise AnvilError(
        "anvil not found: run `npm ci` in the repository or set DEPINKIT_ANVIL to the binary"
    )


def free_port() -> int:
    """A loopback TCP port the OS says is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Anvil:
    """A running anvil process on 127.0.0.1; use as a context manager or start()/stop()."""

    def __init__(
        self,
        *,
        state: Path | str | None = None,
        block_time: float | None = None,
        chain_id: int | None = None,
        port: int | None = None,
        binary: Path | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.state = Path(state) if state is not None else None
        self.block_time = block_time
        self.chain_id = chain_id
        self.port = port
        self.binary = binary
        self.extra_args = extra_args
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise AnvilError("anvil is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _command(self, binary: Path, port: int) -> list[str]:
        cmd = [str(binary), "--host", "127.0.0.1", "--port", str(port), "--silent"]
        if self.state is not None:
            # with the historical states too: oracles read parameters and the registry at an
            # epoch's start block, which may predate the restart (without it anvil answers
            # BlockOutOfRangeError for every block mined before the state was loaded)
            cmd += ["--state", str(self.state), "--preserve-historical-states"]
        if self.block_time is not None:
            cmd += ["--block-time", str(self.block_time)]
        if self.chain_id is not None:
            cmd += ["--chain-id", str(self.chain_id)]
        return cmd + list(self.extra_args)

    def start(self) -> Anvil:
        if self.running:
            return self
        binary = self.binary or find_anvil()
        attempts = 1 if self.port is not None else 3  # another process may grab a free port
        last_error = ""
        for _ in range(attempts):
            port = self.port if self.port is not None else free_port()
            process = subprocess.Popen(
                self._command(binary, port),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                # Ctrl-C in a terminal reaches the process group: anvil must not die under the
                # processes still reading the chain; its owner stops it (SIGTERM, state saved)
                start_new_session=True,
            )
            if self._wait_ready(process, port):
                self._process = process
                self.port = port
                return self
            last_error = self._reap(process)
        raise AnvilError(f"anvil did not start: {last_error or 'no answer'}")

    def _wait_ready(self, process: subprocess.Popen[bytes], port: int) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_S
        body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
        with httpx.Client(timeout=2.0) as http:
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    return False
                try:
                    if http.post(f"http://127.0.0.1:{port}", json=body).status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        return False

    @staticmethod
    def _reap(process: subprocess.Popen[bytes]) -> str:
        if process.poll() is None:
            process.kill()
        _, err = process.communicate(timeout=STOP_TIMEOUT_S)
        return (err or b"").decode(errors="replace").strip()[-500:]

    def stop(self) -> None:
        """Stop anvil; SIGTERM first so it writes its --state file, then SIGKILL."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_S)
        if process.stderr is not None:
            process.stderr.close()

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
