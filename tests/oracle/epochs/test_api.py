"""The epoch API over real HTTP on loopback: reads, verified signatures, claims, bad input."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import msgspec
import pytest

from depinkit.core import merkle
from depinkit.core.keys import Account
from depinkit.networks import NetworkRegistry
from depinkit.networks.beacon import Beacon
from depinkit.networks.uptime import network_spec
from depinkit.oracle.app import create_app
from depinkit.oracle.clock import FixedClock
from depinkit.oracle.epochs.store import EpochStore, Opened, Scored
from depinkit.oracle.rewards import Ledger
from depinkit.oracle.server import ServerThread
from depinkit.oracle.settings import OracleSettings
from depinkit.oracle.store import Store

NOW_MS = 1_750_000_000_000
DIGEST = b"\x5a" * 32


def _opened(epoch: int, block: int) -> Opened:
    return Opened(
        epoch=epoch,
        start_block=block,
        entropy=b"\x11" * 32,
        start_ms=NOW_MS + epoch * 60_000,
        end_ms=NOW_MS + (epoch + 1) * 60_000,
        parameters={"uptime": {"slot_s": 3_600}},
    )


@pytest.fixture
def served(db_url: str) -> Iterator[tuple[httpx.Client, EpochStore]]:
    store = Store.open(db_url, migrate=True)
    app = create_app(
        settings=OracleSettings(),
        store=store,
        networks=NetworkRegistry([network_spec()]),
        clock=FixedClock(NOW_MS),
    )
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        yield client, EpochStore(store)
    store.close()


def _score(
    epochs: EpochStore,
    epoch: int,
    totals: dict[str, int],
    oracles: list[str],
    spent: dict[tuple[str, str], int] | None = None,
) -> bytes:
    ledger = Ledger(dict(sorted(totals.items())), {}, 0)
    epochs.collect(_opened(epoch, 10), NOW_MS)
    epochs.reconciled(epoch, NOW_MS, NOW_MS)
    epochs.scored(
        epoch,
        Scored(
            root=ledger.root,
            total=ledger.total,
            carry_out=0,
            digest=DIGEST,
            oracles=oracles,
            threshold=2,
            totals=ledger.totals,
            manifest_hash=b"\x02" * 32,
            manifest=b"\x90",
            spent=spent or {},
        ),
        NOW_MS,
    )
    return ledger.root


def _post(client: httpx.Client, epoch: int, body: object) -> httpx.Response:
    return client.post(f"/v1/epochs/{epoch}/signatures", json=body)


def test_unknown_epoch_and_bad_path(served: tuple[httpx.Client, EpochStore]) -> None:
    client, _ = served
    assert client.get("/v1/epochs/5").status_code == 404
    assert client.get("/v1/epochs/-1").status_code == 400
    assert client.get("/v1/epochs/x/report-ids").status_code == 400
    assert client.get("/v1/epochs/5/manifest").status_code == 404
    assert client.get("/v1/epochs/5/report-ids").json() == {"epoch": 5, "ids": []}
    assert client.get("/v1/claims/0x" + "00" * 20).status_code == 404


def test_signatures_are_verified_before_they_are_stored(
    served: tuple[httpx.Client, EpochStore],
) -> None:
    client, epochs = served
    oracles = [Account.generate() for _ in range(3)]
    members = [o.address for o in oracles]
    outsider = Account.generate()
    good = {"signer": members[0], "signature": "0x" + oracles[0].sign_digest(DIGEST).hex()}
    assert _post(client, 1, good).status_code == 409  # not scored here yet
    root = _score(epochs, 1, {"0x" + "ab" * 20: 10}, members)

    bad_bodies: list[object] = [
        {"signer": members[0]},
        {"signer": members[0], "signature": "0xzz"},
        [1, 2],
        {**good, "extra": 1},
    ]
    for body in bad_bodies:
        assert _post(client, 1, body).status_code == 400, body
    outsider_sig = {
        "signer": outsider.address,
        "signature": "0x" + outsider.sign_digest(DIGEST).hex(),
    }
    assert _post(client, 1, outsider_sig).json()["code"] == "bad_signature"
    other_digest = oracles[1].sign_digest(b"\x5b" * 32)  # another root or epoch
    wrong = {"signer": members[1], "signature": "0x" + other_digest.hex()}
    assert _post(client, 1, wrong).status_code == 422
    mismatch = {**good, "root": "0x" + "cd" * 32}
    assert _post(client, 1, mismatch).json()["code"] == "wrong_root"
    assert epochs.signatures(1) == {}  # nothing refused was stored

    answer = _post(client, 1, {**good, "root": "0x" + root.hex()})
    assert answer.status_code == 200 and answer.json()["stored"] is True
    again = _post(client, 1, good).json()
    assert again == {"signer": members[0], "stored": False, "count": 1}
    info = client.get("/v1/epochs/1").json()
    assert info["state"] == "scored" and info["root"] == "0x" + root.hex()
    assert info["signatures"] == [{"signer": members[0], "signature": good["signature"]}]


def test_claims_serve_the_latest_settled_epoch(served: tuple[httpx.Client, EpochStore]) -> None:
    client, epochs = served
    alice, bob = "0x" + "0a" * 20, "0x" + "0b" * 20
    _score(epochs, 1, {alice: 5}, [])
    epochs.signed(1, Account.generate().address, bytes(65), NOW_MS)
    epochs.submitted(1, None, NOW_MS)
    root = _score(epochs, 2, {alice: 9, bob: 2**130}, [])  # scored, not yet settled
    served_claim = client.get(f"/v1/claims/{alice}").json()
    assert served_claim["epoch"] == 1 and served_claim["cumulative"] == "5"
    epochs.signed(2, Account.generate().address, bytes(65), NOW_MS)
    epochs.submitted(2, None, NOW_MS)
    claim = client.get(f"/v1/claims/{bob.upper().replace('0X', '0x')}").json()
    assert claim["epoch"] == 2 and claim["root"] == "0x" + root.hex()
    proof = [bytes.fromhex(p[2:]) for p in claim["proof"]]
    assert merkle.verify(root, bob, int(claim["cumulative"]), proof)
    assert client.get("/v1/claims/0x" + "0c" * 20).status_code == 404
    bad = client.get("/v1/claims/not-an-address")
    assert bad.status_code == 400 and bad.json()["code"] == "bad_query"


def test_beacon_of_an_open_epoch(served: tuple[httpx.Client, EpochStore]) -> None:
    client, epochs = served
    assert client.get("/v1/epochs/4/beacon").status_code == 404
    epochs.collect(_opened(4, 77), NOW_MS)
    beacon = msgspec.json.decode(client.get("/v1/epochs/4/beacon").content, type=Beacon)
    assert beacon.block == 77 and beacon.entropy_bytes() == b"\x11" * 32
    assert (beacon.start_ms, beacon.end_ms) == (NOW_MS + 240_000, NOW_MS + 300_000)
    assert beacon.parameter("uptime", "slot_s", 1) == 3_600


def test_credits_spent_add_up_over_epochs_and_networks(
    served: tuple[httpx.Client, EpochStore],
) -> None:
    client, epochs = served
    consumer = Account.from_key(b"\x31" * 32).address
    assert client.get(f"/v1/credits/{consumer}").json() == {
        "account": consumer,
        "spent": 0,
        "through_epoch": None,
    }
    _score(epochs, 0, {}, [], {(consumer, "storage"): 40, (consumer, "compute"): 2})
    _score(epochs, 1, {}, [], {(consumer, "storage"): 8})
    body = client.get(f"/v1/credits/{consumer.lower()}").json()
    assert body == {"account": consumer, "spent": 50, "through_epoch": 1}
    assert epochs.spent_before(1) == {consumer: 42}
    bad = client.get("/v1/credits/0x1234")
    assert bad.status_code == 400 and bad.json()["code"] == "bad_query"
