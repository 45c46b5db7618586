"""Audit of a reward manifest against itself: anyone can check one they downloaded.

A manifest repeats its totals at every level (epoch, network, bucket, device, owner) and the
root; this recomputes each from the level below and refuses a manifest where any differs.
It cannot tell whether the scores were right, only that the arithmetic on them was.
"""

from __future__ import annotations

from itertools import pairwise
from typing import NoReturn

from depinkit.core import merkle
from depinkit.oracle.rewards.errors import RewardManifestError
from depinkit.oracle.rewards.ledger import EMPTY_ROOT
from depinkit.oracle.rewards.manifest import RewardManifest


def check_manifest(manifest: RewardManifest) -> None:
    """Recompute what a manifest claims from its own entries; RewardManifestError if wrong.

    Lets anyone audit a downloaded manifest: the carry identity, every total against its
    parts, the owners' credits against the devices' rewards, and the root from the owners.
    """

    def fail(message: str) -> NoReturn:
        raise RewardManifestError(f"epoch {manifest.epoch}: {message}")

    paid = int(manifest.paid)
    if paid + int(manifest.carry_out) != int(manifest.emission) + int(manifest.carry_in):
        fail("paid + carry_out != emission + carry_in")
    if sum(int(n.paid) for n in manifest.networks) != paid:
        fail("network totals do not add up to paid")
    for net in manifest.networks:
        if sum(int(b.paid) for b in net.buckets) != int(net.paid):
            fail(f"{net.network}: bucket totals do not add up")
    bucket_paid: dict[tuple[str, str], int] = {}
    for entry in manifest.devices:
        parts = [int(b.reward) for b in entry.buckets]
        if sum(parts) != int(entry.reward):
            fail(f"{entry.device}: bucket rewards do not add up to its reward")
        if entry.rejected != len(entry.rejections):
            fail(f"{entry.device}: rejected count differs from its rejections")
        for b in entry.buckets:
            key = (b.network, b.bucket)
            bucket_paid[key] = bucket_paid.get(key, 0) + int(b.reward)
    for net in manifest.networks:
        for totals in net.buckets:
            if bucket_paid.get((net.network, totals.bucket), 0) != int(totals.paid):
                fail(f"{net.network}/{totals.bucket}: device rewards do not add up to paid")
    if sum(int(o.credited) for o in manifest.owners) != paid:
        fail("owners' credits do not add up to paid")
    total = sum(int(o.cumulative) for o in manifest.owners)
    if total != int(manifest.total_cumulative) or total != int(manifest.previous_total) + paid:
        fail("owners' cumulative totals do not add up")
    devices = [d.device for d in manifest.devices]
    accounts = [o.account for o in manifest.owners]
    for name, keys in (("devices", devices), ("owners", accounts)):
        if any(a >= b for a, b in pairwise(keys)):
            fail(f"{name} are not in strictly increasing address order")
    details = [(d.network, d.device) for d in manifest.details]
    if any(a >= b for a, b in pairwise(details)):
        fail("details are not in strictly increasing (network, device) order")
    known = {n.network for n in manifest.networks}
    if any(network not in known for network, _ in details):
        fail("details name a network the manifest does not allocate")
    if any(int(o.cumulative) == 0 for o in manifest.owners):
        fail("an owner with a zero cumulative total is listed")
    leaves = [(o.account, int(o.cumulative)) for o in manifest.owners]
    try:
        root = merkle.build(leaves).root if leaves else EMPTY_ROOT
    except merkle.MerkleError as exc:
        raise RewardManifestError(f"epoch {manifest.epoch}: bad owner entry: {exc}") from exc
    if "0x" + root.hex() != manifest.root:
        fail("root does not match the owners' cumulative totals")
