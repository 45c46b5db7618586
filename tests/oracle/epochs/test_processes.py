"""Three oracles as real processes (`serve` + `settle` each, own store and key), M = 2.

Reports reach two of the three serve processes differently; the three settle processes
reconcile through the peers' HTTP APIs, compute byte-identical roots and manifests, trade
signatures, and the root lands on chain exactly once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from depinkit.chain.anvil import free_port
from depinkit.core.keystore import save_keystore
from depinkit.oracle.epochs import SUBMITTED

from .network import local_network

pytestmark = [pytest.mark.anvil, pytest.mark.slow]

PASSPHRASE = "correct horse"
FAST_SCRYPT_N = 2**4  # tests only
START_TIMEOUT_S = 30.0  # a serve process answers /v1/health well within this


@contextmanager
def serve(db_url: str, chain_id: int, registry: str, log: Path) -> Iterator[str]:
    port = free_port()
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "depinkit", "oracle", "serve", "--db", db_url,
                "--port", str(port), "--chain-id", str(chain_id), "--registry", registry,
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_three_oracle_processes_settle_one_root(tmp_path: Path) -> None:
    with local_network(tmp_path) as net:
        net.advance_to(net.epoch_start_s(1))
        d0, d1, d2 = net.devices
        reports = [net.heartbeat(d, 1, seq=1) for d in (d0, d1, d2)]
        manifest = net.depin.deployment.save(tmp_path / "deployment.json")
        registry = net.depin.deployment.registry
        chain_id = net.chain.chain_id
        rpc = net.chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
        env = {**os.environ, "DEPINKIT_PASSPHRASE": PASSPHRASE}
        with (
            serve(net.oracles[0].db_url, chain_id, registry, tmp_path / "s0.log") as u0,
            serve(net.oracles[1].db_url, chain_id, registry, tmp_path / "s1.log") as u1,
            serve(net.oracles[2].db_url, chain_id, registry, tmp_path / "s2.log") as u2,
        ):
            urls = [u0, u1, u2]
            for url, batch in ((u0, reports[:2]), (u1, reports[1:])):
                import msgspec

                from depinkit.core.envelope import encode_report

                body = msgspec.msgpack.encode({"reports": [encode_report(r) for r in batch]})
                answer = httpx.post(
                    f"{url}/v1/reports",
                    content=body,
                    headers={"content-type": "application/msgpack"},
                    timeout=30,
                )
                assert answer.json()["accepted"] == len(batch), answer.text
            net.advance_to(net.epoch_start_s(2) + 15)
            settlers = []
            for i, oracle in enumerate(net.oracles):
                key = save_keystore(
                    oracle.key, tmp_path / f"key-{i}.json", PASSPHRASE, iterations=FAST_SCRYPT_N
                )
                peers = [a for u in urls if u != urls[i] for a in ("--peer", u)]
                command = [
                    sys.executable, "-m", "depinkit", "oracle", "settle",
                    "--rpc", rpc, "--manifest", str(manifest), "--db", oracle.db_url,
                    "--key-file", str(key), "--once", "1", "--grace", "5", "--timeout", "90",
                    *peers,
                ]  # fmt: skip
                settlers.append(
                    subprocess.Popen(
                        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
                    )
                )
            for process in settlers:
                out, err = process.communicate(timeout=150)
                assert process.returncode == 0, err[-3000:]
                assert f"epoch 1: {SUBMITTED}" in out
            infos = [httpx.get(f"{u}/v1/epochs/1", timeout=10).json() for u in urls]
            ids = [httpx.get(f"{u}/v1/epochs/1/report-ids", timeout=10).json()["ids"] for u in urls]
        assert len(ids[0]) == 3 and ids[0] == ids[1] == ids[2]
        assert len({i["root"] for i in infos}) == 1
        assert len({i["manifest_hash"] for i in infos}) == 1
        assert "0x" + net.depin.rewards.root().hex() == infos[0]["root"]
        submissions = net.root_submissions()
        assert submissions.count(1) == 1 and submissions.count(0) <= 1
