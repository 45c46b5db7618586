"""The storage client against real provider processes: put, get, faults, repair."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from storage_provider_kit import (
    CONSUMER,
    DOMAIN,
    REPAIRER,
    STRANGER,
    ProviderProcess,
    providers,
    start_all,
)

from depinkit.networks.storage.client import (
    CORRUPT,
    OK,
    UNREACHABLE,
    ProviderInfo,
    StorageClient,
    StorageClientError,
    place,
    region_of,
    stripe_aligned,
)
from depinkit.networks.storage.crypto import TAG_BYTES
from depinkit.networks.storage.erasure import encode, piece_size
from depinkit.networks.storage.manifest import Manifest
from depinkit.networks.storage.pieces import CHUNK_BYTES
from depinkit.networks.storage.provider import EgressState

PROVIDERS = 7  # n = 5 plus two spares for repairs
SMALL_SEGMENT = 1 << 20  # 1 MiB sealed segments: several segments from a few MiB


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ProviderProcess]]:
    with providers(tmp_path_factory.mktemp("fleet"), PROVIDERS) as procs:
        yield procs


@pytest.fixture(autouse=True)
def all_running(fleet: list[ProviderProcess]) -> Iterator[None]:
    yield
    start_all(fleet)  # a test that killed providers leaves the fleet whole for the next


def client(fleet: list[ProviderProcess], home: Path, **kwargs: object) -> StorageClient:
    return StorageClient(CONSUMER, [p.info for p in fleet], home, domain=DOMAIN, **kwargs)  # type: ignore[arg-type]


def by_address(fleet: list[ProviderProcess], address: str) -> ProviderProcess:
    return next(p for p in fleet if p.account.address == address)


def sha256_file(path: Path) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.digest()


@pytest.mark.slow  # ~12 s on an idle 2-core machine, several times that under load
def test_100_mib_round_trip_survives_n_minus_k_dead_providers(
    fleet: list[ProviderProcess], tmp_path: Path
) -> None:
    source = tmp_path / "big.bin"
    with source.open("wb") as handle:
        for _ in range(100):
            handle.write(os.urandom(1 << 20))
    with client(fleet, tmp_path / "home") as c:
        seen: list[int] = []
        manifest = c.put(source, progress=lambda done, total: seen.append(done))
        assert seen[-1] == manifest.size == 100 << 20
        assert manifest.stored_bytes() == pytest.approx(5 / 3 * manifest.size, rel=0.01)
        for segment in manifest.segments:
            assert len({p.provider for p in segment.pieces}) == 5
        out = c.get(manifest, tmp_path / "back.bin")
        assert out == tmp_path / "back.bin" and sha256_file(out) == sha256_file(source)
        # Kill n - k = 2 providers holding systematic pieces: parity must fill in.
        first = {p.number: p.provider for p in manifest.segments[0].pieces}
        for address in (first[0], first[1]):
            by_address(fleet, address).kill()
        again = c.get(manifest, tmp_path / "degraded.bin")
        assert sha256_file(Path(again)) == sha256_file(source)


def test_repair_restores_full_redundancy_after_the_threshold(
    fleet: list[ProviderProcess], tmp_path: Path
) -> None:
    data = os.urandom(3 * SMALL_SEGMENT + 12_345)
    source = tmp_path / "r.bin"
    source.write_bytes(data)
    with client(fleet, tmp_path, segment_bytes=SMALL_SEGMENT) as c:
        manifest = c.put(source)
        assert len(manifest.segments) == 4
        # Full segments are whole stripes: k pieces of ciphertext, no padding.
        assert manifest.segment_bytes == stripe_aligned(SMALL_SEGMENT, 3) < SMALL_SEGMENT
        assert all(s.length == manifest.segment_bytes for s in manifest.segments[:-1])
        assert 3 * manifest.piece_size(0) == manifest.segment_bytes
        dead = [p.provider for p in manifest.segments[0].pieces[3:]]
        for address in dead:
            by_address(fleet, address).kill()
        status = c.status(manifest)
        assert status.min_healthy() <= 3  # at or below the threshold of 4
        assert {h.state for h in status.unhealthy()} == {UNREACHABLE}
        report = c.repair(manifest)
        assert report.rebuilt and not report.unrecoverable
        repaired = report.manifest
        assert c.ls()[-1] == repaired  # saved
        assert all(p.provider not in dead for s in repaired.segments for p in s.pieces)
        healed = c.status(repaired)
        assert healed.min_healthy() == 5 and not healed.unhealthy()
        # Full redundancy again: two more providers may now go.
        holders = repaired.segments[0].pieces
        for placement in holders[:2]:
            by_address(fleet, placement.provider).kill()
        assert c.get(repaired) == data
        # A third is one too many for segment 0, and get says so.
        by_address(fleet, holders[2].provider).kill()
        with pytest.raises(StorageClientError, match="segment 0: 2 of 3 pieces reachable"):
            c.get(repaired)


def test_a_repairer_rebuilds_pieces_for_the_consumer_without_its_key(
    fleet: list[ProviderProcess], tmp_path: Path
) -> None:
    data = os.urandom(SMALL_SEGMENT // 2)
    source = tmp_path / "t.bin"
    source.write_bytes(data)
    with client(fleet, tmp_path / "consumer", segment_bytes=SMALL_SEGMENT) as c:
        manifest = c.put(source)
        lost = manifest.segments[0].pieces[4]
        by_address(fleet, lost.provider).kill()
        infos = [p.info for p in fleet]
        with StorageClient(REPAIRER, infos, tmp_path / "repairer", consumer=CONSUMER.address,
                           domain=DOMAIN) as repairer:  # fmt: skip
            report = repairer.repair(manifest)
        assert [(s, n) for s, n, _ in report.rebuilt] == [(0, 4)]
        moved = report.manifest.segments[0].pieces[4]
        assert moved.root == lost.root and moved.provider != lost.provider
        assert not c.status(report.manifest).unhealthy()  # the consumer reads the new piece
        assert c.get(report.manifest) == data


def test_corrupt_piece_is_detected_on_get_and_repaired(
    fleet: list[ProviderProcess], tmp_path: Path
) -> None:
    data = os.urandom(2 * SMALL_SEGMENT)
    source = tmp_path / "c.bin"
    source.write_bytes(data)
    with client(fleet, tmp_path, segment_bytes=SMALL_SEGMENT) as c:
        manifest = c.put(source)
        victim = manifest.segments[0].pieces[0]  # systematic: get reads it first
        holder = by_address(fleet, victim.provider)
        (path,) = [p for p in holder.piece_paths() if p.name == victim.root.hex()]
        raw = bytearray(path.read_bytes())
        raw[100] ^= 0x5A
        path.write_bytes(bytes(raw))
        assert c.get(manifest) == data  # the AEAD tag fails, the root finds the piece
        bad = c.status(manifest).unhealthy()
        assert [(h.segment, h.number, h.state) for h in bad] == [(0, 0, CORRUPT)]
        report = c.repair(manifest)
        assert report.rebuilt == [(0, 0, report.rebuilt[0][2])]
        assert report.rebuilt[0][2] != victim.provider
        assert not c.status(report.manifest).unhealthy()
        assert c.get(report.manifest) == data


def test_file_survives_provider_restarts(fleet: list[ProviderProcess], tmp_path: Path) -> None:
    data = os.urandom(SMALL_SEGMENT + 1)
    source = tmp_path / "s.bin"
    source.write_bytes(data)
    with client(fleet, tmp_path, segment_bytes=SMALL_SEGMENT) as c:
        manifest = c.put(source)
        restarted = [by_address(fleet, p.provider) for p in manifest.segments[0].pieces[:2]]
        for proc in restarted:
            proc.stop()
        start_all(restarted)
        assert c.get(manifest) == data
        assert {h.state for h in c.status(manifest).pieces} == {OK}


def test_ls_rm_and_egress_receipts(fleet: list[ProviderProcess], tmp_path: Path) -> None:
    data = os.urandom(50_000)
    source = tmp_path / "l.bin"
    source.write_bytes(data)
    with client(fleet, tmp_path / "home", segment_bytes=SMALL_SEGMENT) as c:
        manifest = c.put(source, name="notes")
        assert [m.name for m in c.ls()] == ["notes"]
        assert c.find("notes") == manifest == c.find(manifest.file_hex[:10])
        assert c.get(manifest) == data
        # get paid every provider it read from with a cumulative receipt for this file.
        paid = 0
        for proc in fleet:
            state_path = proc.data / "egress.json"
            if state_path.exists():
                state = msgspec.json.decode(state_path.read_bytes(), type=EgressState)
                paid += sum(
                    1
                    for r in state.receipts.values()
                    if r.channel == manifest.file_id and r.consumer == CONSUMER.address
                )
        assert paid >= manifest.k
        roots = {p.root.hex() for s in manifest.segments for p in s.pieces}
        assert c.rm(manifest) == len(roots)
        assert c.ls() == []
        on_disk = {path.name for proc in fleet for path in proc.piece_paths()}
        assert not roots & on_disk
        with pytest.raises(StorageClientError, match="no key"):
            c.get(manifest)


def test_another_account_cannot_read_the_pieces(
    fleet: list[ProviderProcess], tmp_path: Path
) -> None:
    source = tmp_path / "p.bin"
    source.write_bytes(os.urandom(10_000))
    with client(fleet, tmp_path / "owner", segment_bytes=SMALL_SEGMENT) as c:
        manifest: Manifest = c.put(source)
    shutil.copytree(tmp_path / "owner" / "keys", tmp_path / "thief" / "keys")
    thief = StorageClient(STRANGER, [p.info for p in fleet], tmp_path / "thief", domain=DOMAIN)
    with thief, pytest.raises(StorageClientError, match="may not read"):
        thief.get(manifest)


@given(st.integers(TAG_BYTES + 1, 1 << 24), st.integers(1, 32))
def test_segments_are_rounded_down_to_whole_stripes(segment: int, k: int) -> None:
    aligned = stripe_aligned(segment, k)
    stripe = k * CHUNK_BYTES
    if segment > stripe:
        assert aligned % stripe == 0 and 0 <= segment - aligned < stripe
        assert piece_size(aligned, k) * k == aligned  # a full segment needs no padding
    else:
        assert aligned == segment


def test_a_full_stripe_segment_is_its_primary_pieces() -> None:
    segment = os.urandom(stripe_aligned(100_000, 3))
    assert b"".join(encode(segment, 3, 5)[:3]) == segment


def test_placement_spreads_across_owners_then_regions() -> None:
    cells = ["831fb4fffffffff", "832830fffffffff", "83194dfffffffff"]
    candidates = [
        ProviderInfo(address=f"0x{i:040x}", url="", owner=f"owner{i % 3}", cell=cells[i % 2])
        for i in range(6)
    ]
    chosen = place(candidates, 3, salt=b"s")
    assert len({p.owner for p in chosen}) == 3
    chosen = place(candidates, 2, salt=b"t")
    assert len({p.owner for p in chosen}) == 2 and len({p.cell for p in chosen}) == 2
    assert region_of("891fb46624bffff") == "831fb4fffffffff" and region_of("") == ""
    with pytest.raises(StorageClientError, match="7 distinct providers needed"):
        place(candidates, 7, salt=b"s")


def test_store_commands_put_get_ls_status_rm(
    fleet: list[ProviderProcess], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from depinkit.cli.store import app
    from depinkit.core.keystore import save_keystore

    keystore = tmp_path / "consumer.json"
    save_keystore(CONSUMER, keystore, "pw", kdf="pbkdf2", iterations=1_000)
    listing = tmp_path / "providers.json"
    listing.write_bytes(msgspec.json.encode([p.info for p in fleet]))
    source = tmp_path / "doc.bin"
    source.write_bytes(os.urandom(70_000))
    monkeypatch.setenv("DEPINKIT_PASSPHRASE", "pw")
    common = ["--keystore", str(keystore), "--home", str(tmp_path / "home")]
    runner = CliRunner()
    put = runner.invoke(app, ["put", str(source), *common, "--providers", str(listing)])
    assert put.exit_code == 0, put.output
    file_id = put.stdout.strip().splitlines()[-1]
    assert len(file_id) == 64
    listed = runner.invoke(app, ["ls", *common, "--json"])
    assert listed.exit_code == 0 and json.loads(listed.stdout)[0]["name"] == "doc.bin"
    out = tmp_path / "back.bin"
    got = runner.invoke(
        app, ["get", file_id[:12], *common, "--providers", str(listing), "-o", str(out)]
    )
    assert got.exit_code == 0, got.output
    assert out.read_bytes() == source.read_bytes()
    status = runner.invoke(app, ["status", "doc.bin", *common, "--json"])
    assert status.exit_code == 0 and json.loads(status.stdout)["min_healthy"] == 5
    missing = runner.invoke(app, ["get", "nope", *common])
    assert missing.exit_code == 1 and "0 files match" in missing.output
    removed = runner.invoke(app, ["rm", file_id, *common])
    assert removed.exit_code == 0 and "removed 5 pieces" in removed.stdout
