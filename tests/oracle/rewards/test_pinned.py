"""Pinned outputs: the manifest hash, root and total of fixed inputs never change.

The reward code is tuned for a million devices (bench/rewards.py). A speed-up must not move a
single byte: every oracle, old or new, has to sign the same root and manifest. These values
were recorded before the tuning and hold the code to them.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from depinkit.core.keys import keccak256
from depinkit.oracle.rewards import (
    EmissionSchedule,
    VerdictRecord,
    check_manifest,
    compute_epoch_rewards,
    encode_manifest,
    manifest_hash,
    manifest_json,
)


def _address(tag: str, i: int) -> str:
    """A deterministic address; every third one in upper case, to exercise normalisation."""
    body = hashlib.sha256(f"{tag}{i}".encode()).hexdigest()[:40]
    return "0x" + (body.upper() if i % 3 == 0 else body)


def _world(devices: int, per_owner: int) -> dict[str, Any]:
    """Two networks, three buckets, overlapping devices, previous totals and verdicts."""
    device = [_address("d", i) for i in range(devices)]
    owner = [_address("o", i) for i in range(devices // per_owner + 1)]
    owners = {device[i]: owner[i // per_owner] for i in range(devices) if i % 17 != 5}
    scores = {
        "storage": {
            # devices without an owner score 0 here: listed in the manifest, never paid
            "capacity": {
                device[i]: 0 if i % 17 == 5 else (i * 7919) % 1000 for i in range(0, devices, 2)
            },
            "retrieval": {device[i]: i % 13 for i in range(devices) if i % 17 != 5},
        },
        "uptime": {"online": {device[i]: i % 24 + 1 for i in range(1, devices, 3) if i % 17 != 5}},
    }
    # owners of unrewarded devices (i % 17 == 5) get nothing this epoch; some have a past
    previous = {owner[j]: 10**18 + j for j in range(0, len(owner), 4)}
    previous[_address("gone", 0)] = 5  # an owner whose devices left the registry
    verdicts = [
        VerdictRecord(
            report_id=hashlib.sha256(f"r{i}".encode()).digest(),
            device=device[i % devices],
            accepted=i % 5 != 0,
            reason="" if i % 5 else "late",
            detail="" if i % 5 else f"report {i} came after the grace period",
        )
        for i in range(devices * 2)
    ]
    verdicts.append(
        VerdictRecord(
            report_id="0x" + "AB" * 32,
            device=_address("judged-only", 0),
            accepted=False,
            reason="bad-signature",
            detail="the signature does not recover to the device",
        )
    )
    return {
        "weights": {"storage": 6_000, "uptime": 3_500},
        "splits": {
            "storage": {"capacity": 7_000, "retrieval": 2_500},
            "uptime": {"online": 10_000},
        },
        "scores": scores,
        "owners": owners,
        "previous": previous,
        "verdicts": verdicts,
    }


# (devices, devices per owner) -> (manifest hash, root, total_cumulative, json keccak)
PINNED: dict[tuple[int, int], tuple[str, str, int, str]] = {
    (1, 1): (
        "97cd296b05bf17507c4f7f7d39c6b3b73a2b5bf9fffe9981c7608701e2ac2fde",
        "71143dd75c3972b886d2d29054050ecb263b0e6b5106bb11c034129c1aa62911",
        1000000000000000005,
        "88fe2dc8831143756b485cd80fcff01e76fbec4a3d443001cbcb73d063c4fa2c",
    ),
    (2, 1): (
        "652add1eec8717d86ad0ce55e55ffcfac629bfe99b6c85c8772db0becba63fa8",
        "828423d15d38ad004738a7b42cd364a833a075a1d1716c42e6039b59ddb574cf",
        250001000000000000006177,
        "3dd1d11c02efa81274874443bf30d753c4863d73eee30c246203b8a0204eb70d",
    ),
    (7, 1): (
        "3d4ec064fec811ba662d0523247a0490284e3c400a1c13cf5721e048d98bae30",
        "929d18d5636e232043d35cbae2cff1dbd2a5ea63e7524bbdb0e518d47faf421f",
        460002000000000000011361,
        "61a766f179e5434071d565bb4df52e27529fc7f122fa42fbafe36ef90223977c",
    ),
    (50, 3): (
        "677adef937e8d726a2e4df54417e315f60db2c9fdccb7b9b8b4fc37551d867a8",
        "cdca2c72527064931b3e98642be9ad1f543273daf2e65fa494ec5cf8e94f1b7c",
        460005000000000000011360,
        "3cdc55370a8648fb12788157a863a67c9f0f7e79d54ccea30e7e5c8e7589e779",
    ),
    (1001, 1): (
        "b7f39c39e7c04ffeb9de417706e7ea56efa38be5d306af5ad40126b8498d1d49",
        "debfa0c2c2b2f38c58472f53c5db284d78d832da498cf6ba3224c26689ad0c06",
        460251000000000000135905,
        "bdc81d6c1b526b9ccc183f59d009117d1eb5e44428417b50e07779f931fd7e19",
    ),
    (3000, 3): (
        "b3e27ca79a8f9c4d436b08b0bfae80fc0f0292104a9c7bc0eca3fe72c602f847",
        "1494b2663b9d3db2dc434eebc88b3cb6ab066b131e16f99e77da3d9572c8840a",
        460251000000000000134305,
        "d8ad7747dcca1b40ed825712b076b7488ebaef5b49be2d46b12ed0f9f6f773a3",
    ),
    (4096, 2): (
        "613de63c224c537f24d0dfb2f8484d1694b9c7169c9674cc13b5c817f64879ad",
        "d6073049fe63534191d414f0c1a6a31b41c9595589f1f3d7dcb79b0891c6ee9a",
        460513000000000000533039,
        "76d369fb0a6175bc0331c7bafafc66fdccff0513674fe03102ecbccde791f326",
    ),
}


@pytest.mark.parametrize(("devices", "per_owner"), sorted(PINNED))
def test_outputs_are_pinned(devices: int, per_owner: int) -> None:
    schedule = EmissionSchedule(initial=10**24 + 3, halving_epochs=5, cap=10**30)
    result = compute_epoch_rewards(
        epoch=7, schedule=schedule, carry_in=12_345, **_world(devices, per_owner)
    )
    check_manifest(result.manifest)
    got = (
        manifest_hash(result.manifest).hex(),
        result.ledger.root.hex(),
        result.ledger.total,
        keccak256(manifest_json(result.manifest)).hex(),
    )
    assert keccak256(encode_manifest(result.manifest)).hex() == got[0]
    assert got == PINNED[(devices, per_owner)]
