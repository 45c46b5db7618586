"""A module's explain() reaches the epoch's manifest as ``details`` (pure epoch step)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from depinkit.networks import EpochContext, NetworkRegistry, Scores, Verdict
from depinkit.networks.errors import NetworkError
from depinkit.networks.module import Explanation
from depinkit.oracle.rewards import check_manifest, decode_manifest, encode_manifest

from .test_compute import DEVICES, Meter, row, run


class Explained(Meter):
    """The toy paid network, explaining each device's points by its receipts' total."""

    def explain(
        self, ctx: EpochContext, verdicts: Sequence[Verdict], scores: Scores
    ) -> Explanation:
        return {d: {"earned": str(p), "epoch": str(ctx.epoch)} for d, p in scores["usage"].items()}


class Overreaching(Meter):
    def explain(
        self, ctx: EpochContext, verdicts: Sequence[Verdict], scores: Scores
    ) -> Explanation:
        return {DEVICES[1].address: {"earned": "0"}}  # a device it did not score


def networks(*modules: Meter) -> NetworkRegistry:
    registry = NetworkRegistry()
    for module in modules:
        registry.register(module)
    return registry


def test_explanations_are_published_per_network_and_device() -> None:
    device = DEVICES[0]  # on "alpha" (names sorted); "zeta" explains nothing
    out = run(
        networks(Explained("alpha"), Meter("zeta")),
        1,
        [row(device, "alpha", 1, 40, 1)],
        bought=100,
        spent_before={},
        states={},
    )
    manifest = decode_manifest(encode_manifest(out.rewards.manifest))
    assert [(d.network, d.device, d.values) for d in manifest.details] == [
        ("alpha", device.address.lower(), {"earned": "40", "epoch": "1"})
    ]
    check_manifest(manifest)
    plain = run(networks(Meter("alpha")), 1, [row(device, "alpha", 1, 40, 1)], bought=100,
                spent_before={}, states={})  # fmt: skip
    assert plain.rewards.manifest.details == []


def test_an_explanation_of_an_unscored_device_stops_the_epoch() -> None:
    with pytest.raises(NetworkError, match="did not score"):
        run(
            networks(Overreaching("alpha")),
            1,
            [row(DEVICES[0], "alpha", 1, 40, 1)],
            bought=100,
            spent_before={},
            states={},
        )
