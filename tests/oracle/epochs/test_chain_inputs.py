"""Chain inputs a module asks for replace what it carried (pure epoch step, no chain).

The pipeline reads them at the start block (``ChainInputs.module_inputs``, exercised on a
real chain in test_coverage_boosts.py); here ``epoch_rewards`` gets them directly, so the
merge rule is pinned down on its own: the chain's value wins over the carried one, keys
the module did not ask for are left as carried, modules that ask for nothing see no change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar

import pytest

from depinkit.core.canonical import canonical_encode
from depinkit.networks import (
    CHAIN_BOOSTS,
    CHAIN_DENYLIST,
    EpochContext,
    NetworkModule,
    NetworkRegistry,
    ReceivedReport,
    Scores,
    Verdict,
)
from depinkit.networks.errors import NetworkError
from depinkit.networks.module import validate_module
from depinkit.oracle.epochs.compute import decode_state, epoch_rewards
from depinkit.oracle.epochs.inputs import EpochParameters
from depinkit.oracle.rewards import EmissionSchedule

EPOCH_MS = 60_000
CARRIED = {"boosts": [[1, 2, 9]], "denylist": ["0xold"], "other": 7}


class Echo(NetworkModule):
    """Carries out exactly the prior it was given, so the test can see what it saw."""

    kinds: ClassVar[Mapping[str, Any]] = MappingProxyType({})
    buckets = ("b",)

    def __init__(self, name: str, inputs: Mapping[str, str]) -> None:
        self.name = name
        self.chain_inputs = MappingProxyType(dict(inputs))

    def verify(self, ctx: EpochContext, reports: Sequence[ReceivedReport]) -> list[Verdict]:
        return []

    def score(self, ctx: EpochContext, verdicts: Sequence[Verdict]) -> Scores:
        return {}

    def next_prior(
        self, ctx: EpochContext, reports: Sequence[ReceivedReport], verdicts: Sequence[Verdict]
    ) -> dict[str, Any]:
        return dict(ctx.prior)


def _seen(networks: NetworkRegistry, chain_prior: Mapping[str, Mapping[str, Any]] | None) -> dict:
    names = networks.names()
    outcome = epoch_rewards(
        epoch=3,
        start_ms=3 * EPOCH_MS,
        end_ms=4 * EPOCH_MS,
        entropy=b"\x03" * 32,
        rows=[],
        networks=networks,
        parameters=EpochParameters(
            schedule=EmissionSchedule(initial=10**21, halving_epochs=0, cap=10**30),
            network_values={n: {"weight": 1, "split.b": 1} for n in names},
            module_values={},
        ),
        devices={},
        previous={},
        carry_in=0,
        prior_states={n: canonical_encode(CARRIED) for n in names},
        chain_prior=chain_prior,
    )
    return {n: decode_state(outcome.states.get(n)) for n in names}


def test_chain_inputs_replace_what_was_carried() -> None:
    asks = Echo("asks", {"boosts": CHAIN_BOOSTS, "denylist": CHAIN_DENYLIST})
    quiet = Echo("quiet", {})
    networks = NetworkRegistry([asks, quiet])
    read = {"asks": {"boosts": [], "denylist": ["0xAbC"]}}
    seen = _seen(networks, read)
    # expiry and removal take effect: an empty list from the chain empties the carried one
    assert seen["asks"] == {"boosts": [], "denylist": ["0xAbC"], "other": 7}
    assert seen["quiet"] == CARRIED
    assert _seen(networks, None) == {"asks": CARRIED, "quiet": CARRIED}


@pytest.mark.parametrize("inputs", [{"boosts": "hexes"}, {1: CHAIN_BOOSTS}, ["boosts"]])
def test_a_module_asking_for_an_unknown_chain_input_is_refused(inputs: Any) -> None:
    module = Echo("bad", {})
    module.chain_inputs = inputs
    with pytest.raises(NetworkError, match="chain inputs"):
        validate_module(module)
    validate_module(Echo("good", {"x": CHAIN_DENYLIST}))
