"""The reward manifest: why every device earned what it earned in an epoch.

One msgspec Struct holds the whole story of an epoch's rewards: the emission and the carry,
the parameters in force, the totals per network and bucket, per device its owner, its points
and reward per bucket and the verdict on each of its reports (with the reason for every
rejection), per owner the cumulative total, and the Merkle root; optionally the credits
consumers spent and what each network says about how its devices' points came about
(``details``: for coverage, each rewarded hotspot's hex and its multipliers). Field by field
in docs/rewards.md ("The reward manifest").

Two oracles that computed the same epoch produce byte-identical manifests: every list is
sorted, every address lowercase hex, every amount a decimal string (a uint256 does not fit
msgpack's 64-bit ints, nor every JSON reader's numbers). :func:`manifest_hash` is keccak256
of the canonical msgpack (:mod:`depinkit.core.canonical`), the one value to compare.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import repeat
from typing import Annotated, Final, Protocol

import msgspec

from depinkit.core.canonical import canonical_decode, canonical_encode
from depinkit.core.errors import DecodeError
from depinkit.core.keys import keccak256
from depinkit.oracle.rewards.accounts import canonical_address
from depinkit.oracle.rewards.allocate import MAX_POINTS, Allocation
from depinkit.oracle.rewards.emission import EmissionSchedule
from depinkit.oracle.rewards.errors import RewardManifestError
from depinkit.oracle.rewards.ledger import Ledger

MANIFEST_VERSION: Final[int] = 1  # bump when a field goes or changes meaning (not for new
# fields omitted when empty: older manifests keep their bytes)
REPORT_ID_BYTES: Final[int] = 32  # a report id is a keccak256 digest
MAX_EPOCH: Final[int] = 2**63 - 1  # msgspec bounds stop at int64; the chain allows uint64

Amount = Annotated[str, msgspec.Meta(pattern=r"^(0|[1-9][0-9]{0,77})$")]  # decimal uint256
Address = Annotated[str, msgspec.Meta(pattern=r"^0x[0-9a-f]{40}$")]  # lowercase 20 bytes
Hash32 = Annotated[str, msgspec.Meta(pattern=r"^0x[0-9a-f]{64}$")]  # lowercase 32 bytes
Points = Annotated[int, msgspec.Meta(ge=0, le=MAX_POINTS)]
Bps = Annotated[int, msgspec.Meta(ge=0, le=10_000)]


class Verdict(Protocol):
    """What the manifest needs of a verdict on one report (any object with these fields)."""

    @property
    def report_id(self) -> bytes | str: ...
    @property
    def device(self) -> str: ...
    @property
    def accepted(self) -> bool: ...
    @property
    def reason(self) -> str: ...
    @property
    def detail(self) -> str: ...


class VerdictRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A plain :class:`Verdict`: report id, device, accepted or not, and why not."""

    report_id: bytes | str
    device: str
    accepted: bool
    reason: str = ""  # a stable code an operator can act on
    detail: str = ""  # a human sentence


class Schedule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The emission schedule in force: ``emission.initial``, ``emission.halvingEpochs``, cap."""

    initial: Amount
    halving_epochs: Amount
    cap: Amount


class Parameters(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Every governed value the allocation used, missing ones as 0."""

    schedule: Schedule
    weights: dict[str, Bps]  # network -> basis points of the pool
    splits: dict[str, dict[str, Bps]]  # network -> bucket -> basis points of its share


class BucketTotals(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One bucket: its share, its points, what it paid (the rest was carried)."""

    bucket: str
    share: Amount
    points: Amount
    paid: Amount


class NetworkTotals(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    network: str
    share: Amount
    paid: Amount
    buckets: list[BucketTotals]


# The per-device and per-owner Structs are built a million at a time and hold no reference
# back to anything that holds them: gc=False (msgspec) leaves them out of the cyclic garbage
# collector, which saves 16 bytes each and the collector's passes over them. Values and
# encoding are unaffected.


class DeviceBucket(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, gc=False):
    """A device's points in one bucket and the reward they earned there."""

    network: str
    bucket: str
    points: Points
    reward: Amount


class Rejection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, gc=False):
    """A rejected report: its id, the network's stable reason code and a human sentence."""

    report: Hash32
    reason: str
    detail: str


class DeviceEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, gc=False):
    """One device: owner (None when the registry names none), reward, how it was earned."""

    device: Address
    owner: Address | None
    reward: Amount
    buckets: list[DeviceBucket]
    accepted: int
    rejected: int
    rejections: list[Rejection]


class OwnerEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, gc=False):
    """One account of the tree: what this epoch credited, and its new cumulative total."""

    account: Address
    credited: Amount
    cumulative: Amount


class CreditSpend(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Nanocredits one consumer spent in one network this epoch (its receipts' increase)."""

    consumer: Annotated[str, msgspec.Meta(pattern=r"^0x[0-9a-fA-F]{40}$")]  # EIP-55
    network: str
    amount: Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]  # nanocredits


class DeviceDetails(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How one device's points in one network came about, as the network explains them
    (e.g. coverage: the hotspot's hex, its HIP-17 scale, boost and trust), for explorers."""

    network: str
    device: Address
    values: dict[str, str]  # name -> exact text (an H3 cell, a fraction "1/2", an integer)


class RewardManifest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    """An epoch's rewards, explained. ``paid + carry_out == emission + carry_in``.

    ``credits`` (omitted when empty) commits the credits consumers spent this epoch;
    ``details`` (omitted when empty) what the networks say about how their devices' points
    came about.
    """

    version: int
    epoch: Annotated[int, msgspec.Meta(ge=0, le=MAX_EPOCH)]
    emission: Amount
    carry_in: Amount
    paid: Amount
    carry_out: Amount
    parameters: Parameters
    networks: list[NetworkTotals]
    devices: list[DeviceEntry]
    owners: list[OwnerEntry]
    previous_total: Amount
    total_cumulative: Amount
    root: Hash32
    credits: list[CreditSpend] = []
    details: list[DeviceDetails] = []


def _report_id(value: bytes | str) -> str:
    if isinstance(value, bytes) and len(value) == REPORT_ID_BYTES:
        return "0x" + value.hex()
    if isinstance(value, str):
        text = value.lower()
        body = text[2:] if text.startswith("0x") else ""
        if len(body) == 2 * REPORT_ID_BYTES and all(c in "0123456789abcdef" for c in body):
            return text
    raise RewardManifestError(f"report id must be 32 bytes (or 0x hex of them): {value!r}")


def _verdicts_by_device(
    verdicts: Iterable[Verdict],
) -> dict[str, tuple[int, list[Rejection]]]:
    """device -> (accepted count, rejections sorted by report id); a report judged twice fails."""
    seen: set[str] = set()
    accepted: dict[str, int] = {}
    rejected: dict[str, list[Rejection]] = {}
    for verdict in verdicts:
        report = _report_id(verdict.report_id)
        if report in seen:
            raise RewardManifestError(f"report {report} has two verdicts")
        seen.add(report)
        device = canonical_address(verdict.device, RewardManifestError)
        accepted.setdefault(device, 0)
        rejected.setdefault(device, [])
        if verdict.accepted is True:
            accepted[device] += 1
        elif (
            verdict.accepted is False
            and isinstance(verdict.reason, str)
            and isinstance(verdict.detail, str)
        ):
            rejected[device].append(
                Rejection(report=report, reason=verdict.reason, detail=verdict.detail)
            )
        else:
            raise RewardManifestError(f"malformed verdict on report {report}")
    return {
        device: (accepted[device], sorted(rejected[device], key=lambda r: r.report))
        for device in accepted
    }


def _append_parts(
    by_device: dict[str, list[DeviceBucket]],
    points: dict[str, int],
    entries: list[DeviceBucket],
) -> None:
    """Add one bucket's entries to each device's list (a new list for a device new here)."""
    if not by_device:
        by_device.update(zip(points, map(_one, entries), strict=True))
        return
    for device, entry in zip(points, entries, strict=True):
        parts = by_device.get(device)
        if parts is None:
            by_device[device] = [entry]
        else:
            parts.append(entry)


def _one(entry: DeviceBucket) -> list[DeviceBucket]:
    return [entry]


def build_manifest(
    *,
    epoch: int,
    schedule: EmissionSchedule,
    allocation: Allocation,
    ledger: Ledger,
    verdicts: Iterable[Verdict] = (),
    credits: Iterable[CreditSpend] = (),
    details: Iterable[DeviceDetails] = (),
) -> RewardManifest:
    """The manifest of ``epoch`` from its allocation and ledger.

    Owners are the ones the ledger credited (its registry view); ``verdicts`` is every
    report's verdict. Devices are those that scored in any bucket or had
    a report judged.
    """
    if type(epoch) is not int or not 0 <= epoch <= MAX_EPOCH:
        raise RewardManifestError(f"epoch must be an int in [0, 2**63 - 1], got {epoch!r}")
    if ledger.total - ledger.previous_total != allocation.paid:
        raise RewardManifestError(
            f"ledger credited {ledger.total - ledger.previous_total}, allocation paid "
            f"{allocation.paid}: not the same epoch"
        )
    by_device: dict[str, list[DeviceBucket]] = {}
    networks: list[NetworkTotals] = []
    for network, net in allocation.networks.items():
        bucket_totals: list[BucketTotals] = []
        for bucket, alloc in net.buckets.items():
            # rewards has the keys of points, in the same order (allocate builds it so)
            entries = [
                DeviceBucket(network=network, bucket=bucket, points=points, reward=str(reward))
                for points, reward in zip(
                    alloc.points.values(), alloc.rewards.values(), strict=True
                )
            ]
            _append_parts(by_device, alloc.points, entries)
            bucket_totals.append(
                BucketTotals(
                    bucket=bucket,
                    share=str(alloc.share),
                    points=str(alloc.total_points),
                    paid=str(alloc.paid),
                )
            )
        networks.append(
            NetworkTotals(
                network=network, share=str(net.share), paid=str(net.paid), buckets=bucket_totals
            )
        )
    judged = _verdicts_by_device(verdicts)
    rewards = allocation.rewards  # every device with points, in address order
    if judged.keys() - rewards.keys():
        device_order = sorted(list(rewards) + list(judged.keys() - rewards.keys()))
    else:
        device_order = list(rewards)
    no_rejections: list[Rejection] = []
    devices = [
        DeviceEntry(
            device=device,
            owner=owner,
            # one bucket: the same text (a million devices, a million fewer strings)
            reward=parts[0].reward if len(parts) == 1 else str(rewards.get(device, 0)),
            buckets=parts,
            accepted=accepted,
            rejected=len(rejections),
            rejections=rejections,
        )
        for device, owner, parts, (accepted, rejections) in zip(
            device_order,
            map(ledger.owners.get, device_order),
            map(by_device.get, device_order, repeat([])),
            map(judged.get, device_order, repeat((0, no_rejections)))
            if judged
            else repeat((0, no_rejections)),
            strict=False,  # the last one repeats for ever
        )
    ]
    credited = ledger.credited
    accounts = [account for account, _ in ledger.iter_totals()]
    return RewardManifest(
        version=MANIFEST_VERSION,
        epoch=epoch,
        emission=str(allocation.emission),
        carry_in=str(allocation.carry_in),
        paid=str(allocation.paid),
        carry_out=str(allocation.carry_out),
        parameters=Parameters(
            schedule=Schedule(
                initial=str(schedule.initial),
                halving_epochs=str(schedule.halving_epochs),
                cap=str(schedule.cap),
            ),
            weights=allocation.weights,
            splits=allocation.splits,
        ),
        networks=networks,
        devices=devices,
        owners=[
            OwnerEntry(account=account, credited=credit, cumulative=str(total))
            for account, credit, total in zip(
                accounts,
                map(str, map(credited.get, accounts, repeat(0))),
                (total for _, total in ledger.iter_totals()),
                strict=True,
            )
        ],
        previous_total=str(ledger.previous_total),
        total_cumulative=str(ledger.total),
        root="0x" + ledger.root.hex(),
        credits=sorted(credits, key=lambda c: (c.consumer, c.network)),
        details=_details(details, allocation),
    )


def _details(details: Iterable[DeviceDetails], allocation: Allocation) -> list[DeviceDetails]:
    """By (network, device), addresses lowercased; each one of a network the allocation
    scored and named once, with at least one value."""
    out: dict[tuple[str, str], DeviceDetails] = {}
    for entry in details:
        device = canonical_address(entry.device, RewardManifestError)
        key = (entry.network, device)
        if entry.network not in allocation.networks:
            raise RewardManifestError(f"details of {device} name unknown network {entry.network}")
        if key in out:
            raise RewardManifestError(f"{entry.network}: {device} has two details entries")
        if not entry.values:
            raise RewardManifestError(f"{entry.network}: details of {device} are empty")
        out[key] = DeviceDetails(
            network=entry.network, device=device, values=dict(sorted(entry.values.items()))
        )
    return [out[key] for key in sorted(out)]


def encode_manifest(manifest: RewardManifest) -> bytes:
    """The canonical msgpack bytes: what :func:`manifest_hash` hashes."""
    return canonical_encode(manifest)


def manifest_hash(manifest: RewardManifest) -> bytes:
    """keccak256 of the canonical encoding: equal on two oracles iff the manifests are."""
    return keccak256(encode_manifest(manifest))


def manifest_json(manifest: RewardManifest) -> bytes:
    """JSON for people and HTTP (deterministic too: fields in order, dict keys sorted)."""
    return msgspec.json.encode(manifest, order="deterministic")


def decode_manifest(data: bytes) -> RewardManifest:
    """A manifest from its canonical msgpack; RewardManifestError unless exactly canonical."""
    try:
        manifest = canonical_decode(data, RewardManifest)
    except DecodeError as exc:
        raise RewardManifestError(f"not a reward manifest: {exc}") from exc
    if encode_manifest(manifest) != bytes(data):
        raise RewardManifestError("reward manifest is not in canonical encoding")
    return manifest


def decode_manifest_json(data: bytes | str) -> RewardManifest:
    try:
        return msgspec.json.decode(data, type=RewardManifest)
    except (msgspec.MsgspecError, UnicodeError, RecursionError) as exc:
        raise RewardManifestError(f"not a reward manifest: {exc}") from exc
