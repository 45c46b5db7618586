"""Storage network throughput against Tahoe-LAFS, measured side by side in one run.

Starts N depinkit storage providers (``python -m depinkit.networks.storage.provider``) on
loopback, puts and gets one random file with the storage client (encrypt, k-of-n zfec,
Merkle roots, signed HTTP), then, if a ``tahoe`` executable is found (``--tahoe`` or
$TAHOE; install Tahoe-LAFS in a separate virtualenv, never in the project's), builds a
Tahoe-LAFS grid of the same shape on loopback (an introducer, N storage nodes, one client
node with shares.needed = k, shares.total = n, shares.happy = n) and moves the same file
through its web API. Both sides check the file comes back byte-identical.

Also measured: chunk proof verification rate on one core (proofs/s for pieces of the
size the default segment gives), proof size, and storage overhead (bytes on the
providers' disks per byte of file, pieces and their metadata).

Prints one JSON document. Usage:
    python bench/storage.py [--size-mib 256] [--providers 5] [--k 3] [--n 5] [--tahoe PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import httpx

from depinkit.core.envelope import ReportDomain
from depinkit.core.keys import Account
from depinkit.networks.storage.client import ProviderInfo, StorageClient
from depinkit.networks.storage.crypto import TAG_BYTES
from depinkit.networks.storage.erasure import SEGMENT_BYTES, piece_size
from depinkit.networks.storage.pieces import (
    CHUNK_BYTES,
    chunk,
    chunk_count,
    levels,
    proof_bytes,
    prove_from_levels,
    verify_chunk,
)
from depinkit.networks.storage.provider import tune_malloc

MIB: Final[int] = 1 << 20
GIB_MIB: Final[int] = 1024  # MiB per GiB
START_TIMEOUT_S: Final[float] = 120.0  # a node must be serving within this
TAHOE_CONNECT_TIMEOUT_S: Final[float] = 120.0  # the Tahoe client must see all storage nodes
PROOFS_TIMED: Final[int] = 20_000  # proofs verified for the rate: ~1 s on one core
DOMAIN: Final[ReportDomain] = ReportDomain(chain_id=31337, registry="0x" + "11" * 20)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


CLOCK_TICKS: Final[int] = os.sysconf("SC_CLK_TCK")  # /proc/<pid>/stat times are in ticks


def cpu_seconds(pids: Sequence[int]) -> float:
    """CPU (user + system) used so far by this process and the processes ``pids``.

    Wall-clock throughput depends on what else the machine runs; CPU seconds per GiB
    moved does not, so both are reported, for both systems.
    """
    total = time.process_time()
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return total


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(4 * MIB):
            digest.update(block)
    return digest.hexdigest()


def disk_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def write_random_file(path: Path, size: int) -> None:
    with path.open("wb") as handle:
        left = size
        while left:
            block = os.urandom(min(left, 4 * MIB))
            handle.write(block)
            left -= len(block)


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up: {log.read_text()[-2000:]}")


def stop_all(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --- depinkit --------------------------------------------------------------------------


def bench_depinkit(
    work: Path, source: Path, count: int, k: int, n: int, segment: int
) -> dict[str, Any]:
    procs: list[subprocess.Popen[bytes]] = []
    infos = []
    try:
        for i in range(count):
            account = Account.from_key((i + 1).to_bytes(32, "big"))
            port = free_port()
            log = work / f"provider-{i}.log"
            argv = [sys.executable, "-m", "depinkit.networks.storage.provider",
                    "--data", str(work / f"provider-{i}"), "--port", str(port),
                    "--key", account.private_key.hex(), "--capacity", str(1 << 40),
                    "--chain-id", str(DOMAIN.chain_id), "--registry", DOMAIN.registry]  # fmt: skip
            with log.open("wb") as out:
                procs.append(
                    subprocess.Popen(
                        argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                    )
                )
            infos.append(
                ProviderInfo(
                    address=account.address, url=f"http://127.0.0.1:{port}", owner=f"owner-{i}"
                )
            )
        for info, proc, i in zip(infos, procs, range(count), strict=True):
            wait_http(f"{info.url}/v1/info", proc, work / f"provider-{i}.log")
        consumer = Account.from_key("0x" + "c3" * 32)
        size = source.stat().st_size
        pids = [proc.pid for proc in procs]
        with StorageClient(
            consumer, infos, work / "home", k=k, n=n, segment_bytes=segment, domain=DOMAIN
        ) as client:
            start, cpu = time.perf_counter(), cpu_seconds(pids)
            manifest = client.put(source)
            put_s, put_cpu = time.perf_counter() - start, cpu_seconds(pids) - cpu
            out = work / "depinkit.out"
            start, cpu = time.perf_counter(), cpu_seconds(pids)
            client.get(manifest, out)
            get_s, get_cpu = time.perf_counter() - start, cpu_seconds(pids) - cpu
        identical = sha256_file(out) == sha256_file(source)
        on_disk = sum(disk_bytes(work / f"provider-{i}" / "pieces") for i in range(count))
        return {
            "put_s": round(put_s, 3),
            "get_s": round(get_s, 3),
            "put_mib_s": round(size / MIB / put_s, 1),
            "get_mib_s": round(size / MIB / get_s, 1),
            "put_cpu_s_per_gib": round(put_cpu * GIB_MIB / (size / MIB), 2),
            "get_cpu_s_per_gib": round(get_cpu * GIB_MIB / (size / MIB), 2),
            "identical": identical,
            "segments": len(manifest.segments),
            "segment_bytes": manifest.segment_bytes,  # rounded down to whole stripes of k KiB
            "piece_bytes": manifest.piece_size(0),
            "storage_overhead_pieces": round(manifest.stored_bytes() / size, 4),
            "storage_overhead_disk": round(on_disk / size, 4),
        }
    finally:
        stop_all(procs)


def bench_proofs(k: int, segment: int) -> dict[str, Any]:
    """Proof verification on one core, for a piece of a full segment."""
    size = piece_size(segment, k)
    data = os.urandom(size)
    tree = levels(data)
    root = tree[-1][0]
    chunks = chunk_count(size)
    samples = [(i, chunk(data, i), prove_from_levels(tree, i)) for i in range(chunks)]
    start = time.process_time()
    verified = 0
    for j in range(PROOFS_TIMED):
        index, piece_chunk, proof = samples[(j * 7919) % chunks]
        verified += verify_chunk(root, index, piece_chunk, proof, chunks=chunks)
    cpu_s = time.process_time() - start
    assert verified == PROOFS_TIMED
    return {
        "piece_bytes": size,
        "chunk_bytes": CHUNK_BYTES,
        "proof_siblings_bytes": proof_bytes(chunks),
        "proof_with_chunk_bytes": proof_bytes(chunks) + CHUNK_BYTES,
        "verify_per_s_one_core": int(PROOFS_TIMED / cpu_s),
    }


# --- Tahoe-LAFS ------------------------------------------------------------------------


def _tahoe(tahoe: str, *args: str) -> None:
    done = subprocess.run([tahoe, *args], capture_output=True, text=True, timeout=120)
    if done.returncode:
        raise RuntimeError(f"tahoe {args[0]} failed: {done.stdout[-1000:]}{done.stderr[-1000:]}")


def _run_node(tahoe: str, node: Path, procs: list[subprocess.Popen[bytes]]) -> None:
    with (node.parent / f"{node.name}.log").open("wb") as out:
        procs.append(
            subprocess.Popen(
                [tahoe, "run", "--allow-stdin-close", str(node)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )


def bench_tahoe(tahoe: str, work: Path, source: Path, count: int, k: int, n: int) -> dict[str, Any]:
    procs: list[subprocess.Popen[bytes]] = []
    shares = [f"--shares-needed={k}", f"--shares-happy={n}", f"--shares-total={n}"]
    try:
        introducer = work / "introducer"
        port = free_port()
        _tahoe(tahoe, "create-introducer", f"--port=tcp:{port}",
               f"--location=tcp:127.0.0.1:{port}", str(introducer))  # fmt: skip
        _run_node(tahoe, introducer, procs)
        furl_path = introducer / "private" / "introducer.furl"
        deadline = time.monotonic() + START_TIMEOUT_S
        while not furl_path.exists():
            if time.monotonic() > deadline or procs[0].poll() is not None:
                raise RuntimeError("Tahoe introducer did not start")
            time.sleep(0.1)
        furl = furl_path.read_text().strip()
        for i in range(count):
            node = work / f"storage-{i}"
            port = free_port()
            _tahoe(tahoe, "create-node", f"--port=tcp:{port}",
                   f"--location=tcp:127.0.0.1:{port}", f"--introducer={furl}",
                   f"--nickname=storage{i}", "--webport=none", *shares, str(node))  # fmt: skip
            _run_node(tahoe, node, procs)
        client = work / "client"
        web = free_port()
        _tahoe(tahoe, "create-client", f"--introducer={furl}", "--nickname=client",
               f"--webport=tcp:{web}:interface=127.0.0.1", *shares, str(client))  # fmt: skip
        _run_node(tahoe, client, procs)
        base = f"http://127.0.0.1:{web}"
        wait_http(f"{base}/", procs[-1], work / "client.log")
        deadline = time.monotonic() + TAHOE_CONNECT_TIMEOUT_S
        while True:
            servers = httpx.get(f"{base}/?t=json", timeout=5).json().get("servers", [])
            connected = [
                s for s in servers if s.get("connection_status", "").lower().startswith("connected")
            ]
            if len(connected) >= count:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"Tahoe client sees {len(connected)} of {count} servers")
            time.sleep(0.2)
        size = source.stat().st_size
        pids = [proc.pid for proc in procs]
        with httpx.Client(timeout=3600) as http:
            start, cpu = time.perf_counter(), cpu_seconds(pids)
            with source.open("rb") as body:
                reply = http.put(f"{base}/uri", content=body)
            reply.raise_for_status()
            put_s, put_cpu = time.perf_counter() - start, cpu_seconds(pids) - cpu
            cap = reply.text.strip()
            out = work / "tahoe.out"
            start, cpu = time.perf_counter(), cpu_seconds(pids)
            with http.stream("GET", f"{base}/uri/{cap}") as stream, out.open("wb") as handle:
                stream.raise_for_status()
                for block in stream.iter_bytes(4 * MIB):
                    handle.write(block)
            get_s, get_cpu = time.perf_counter() - start, cpu_seconds(pids) - cpu
        on_disk = sum(disk_bytes(work / f"storage-{i}" / "storage" / "shares")
                      for i in range(count))  # fmt: skip
        return {
            "put_s": round(put_s, 3),
            "get_s": round(get_s, 3),
            "put_mib_s": round(size / MIB / put_s, 1),
            "get_mib_s": round(size / MIB / get_s, 1),
            "put_cpu_s_per_gib": round(put_cpu * GIB_MIB / (size / MIB), 2),
            "get_cpu_s_per_gib": round(get_cpu * GIB_MIB / (size / MIB), 2),
            "identical": sha256_file(out) == sha256_file(source),
            "storage_overhead_disk": round(on_disk / size, 4),
        }
    finally:
        stop_all(procs)


def find_tahoe(given: str | None) -> str | None:
    for candidate in (given, os.environ.get("TAHOE"), shutil.which("tahoe")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--providers", type=int, default=5)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--tahoe", default=None, help="path of the tahoe executable")
    parser.add_argument("--segment-mib", type=int, default=SEGMENT_BYTES // MIB)
    args = parser.parse_args(argv)
    tune_malloc()  # as `depinkit store` does: the client reuses multi-MiB buffers
    result: dict[str, Any] = {
        "file_mib": args.size_mib,
        "storage_nodes": args.providers,
        "k": args.k,
        "n": args.n,
        "segment_bytes": args.segment_mib * MIB,
        "segment_plaintext_bytes": args.segment_mib * MIB - TAG_BYTES,
        "cpus": os.cpu_count(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }
    with tempfile.TemporaryDirectory(prefix="depinkit-bench-storage-") as tmp:
        work = Path(tmp)
        source = work / "file.bin"
        write_random_file(source, args.size_mib * MIB)
        (work / "depinkit").mkdir()
        result["depinkit"] = bench_depinkit(
            work / "depinkit", source, args.providers, args.k, args.n, args.segment_mib * MIB
        )
        tahoe = find_tahoe(args.tahoe)
        if tahoe is None:
            result["tahoe"] = {"skipped": "no tahoe executable (--tahoe or $TAHOE)"}
        else:
            (work / "tahoe").mkdir()
            version = subprocess.run([tahoe, "--version"], capture_output=True, text=True)
            result["tahoe"] = {
                "version": (version.stdout or version.stderr).strip().splitlines()[0],
                **bench_tahoe(tahoe, work / "tahoe", source, args.providers, args.k, args.n),
            }
            ours, theirs = result["depinkit"], result["tahoe"]
            result["speedup"] = {
                "put": round(ours["put_mib_s"] / theirs["put_mib_s"], 2),
                "get": round(ours["get_mib_s"] / theirs["get_mib_s"], 2),
                "put_cpu": round(theirs["put_cpu_s_per_gib"] / ours["put_cpu_s_per_gib"], 2),
                "get_cpu": round(theirs["get_cpu_s_per_gib"] / ours["get_cpu_s_per_gib"], 2),
                "target": 3.0,
            }
    result["proofs"] = bench_proofs(args.k, args.segment_mib * MIB)
    result["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
