"""The compute network's governed parameters (docs/networks/compute.md, "Parameters").

Each lives on chain under ``netKey(keccak256("compute"), name)``. Amounts paid by consumers
are in nanocredits (see :mod:`depinkit.networks.receipts`); fuel is wasmtime fuel units,
priced per million ("mfuel").
"""

from __future__ import annotations

from typing import Final

from depinkit.networks.context import ParameterSpec

PPM: Final[int] = 1_000_000  # parts per million: the unit of every probability and share

VERIFY_PPM: Final[str] = "verify_ppm"
VERIFY_BELOW_TIER: Final[str] = "verify_below_tier"
TIER1_REPUTATION: Final[str] = "tier1_reputation"
TIER2_REPUTATION: Final[str] = "tier2_reputation"
REPUTATION_PER_JOB: Final[str] = "reputation_per_job"
REPUTATION_PER_VERIFIED_JOB: Final[str] = "reputation_per_verified_job"
REPUTATION_MAX: Final[str] = "reputation_max"
REPUTATION_LOSS_PPM: Final[str] = "reputation_loss_ppm"
MIN_PRICE_PER_MFUEL: Final[str] = "min_price_per_mfuel"
SLASH_AMOUNT: Final[str] = "slash_amount"
AVAILABILITY_SLOT_S: Final[str] = "availability_slot_s"
AVAILABILITY_DECAY_PPM: Final[str] = "availability_decay_ppm"
MAX_OFFER_MFUEL_S: Final[str] = "max_offer_mfuel_s"

MAX_REPUTATION: Final[int] = 2**31 - 1  # points: bound of the governed cap itself
ONE_YEAR_S: Final[int] = 31_536_000  # seconds: longest sensible availability slot

PARAMETERS: Final[tuple[ParameterSpec, ...]] = (
    ParameterSpec(
        name=VERIFY_PPM,
        default=50_000,
        unit="ppm of jobs",
        rationale=(
            "Probability that a job of a provider at or above verify_below_tier is re-run by "
            "another provider. 5% makes a cheat that saves a whole job's fuel lose money as "
            "soon as the slash exceeds 20 jobs' earnings; set 1000000 to verify everything."
        ),
        maximum=PPM,
    ),
    ParameterSpec(
        name=VERIFY_BELOW_TIER,
        default=1,
        unit="tier",
        rationale=(
            "Jobs of providers below this reputation tier are always re-run: a new provider "
            "has no history to lose, so every one of its results is checked until it has some."
        ),
        maximum=3,
    ),
    ParameterSpec(
        name=TIER1_REPUTATION,
        default=20,
        unit="reputation points",
        rationale="Reputation from which a provider is 'trusted' (tier 1): about 20 clean jobs.",
        minimum=1,
        maximum=MAX_REPUTATION,
    ),
    ParameterSpec(
        name=TIER2_REPUTATION,
        default=200,
        unit="reputation points",
        rationale=(
            "Reputation from which a provider is 'premium' (tier 2) and dispatched first; "
            "clamped to at least tier1_reputation when read."
        ),
        minimum=1,
        maximum=MAX_REPUTATION,
    ),
    ParameterSpec(
        name=REPUTATION_PER_JOB,
        default=1,
        unit="reputation points per paid job",
        rationale="Every job a consumer paid for and nobody refuted earns a little trust.",
        maximum=1_000,
    ),
    ParameterSpec(
        name=REPUTATION_PER_VERIFIED_JOB,
        default=5,
        unit="reputation points per re-run-confirmed job",
        rationale=(
            "A result another provider reproduced is evidence, not absence of evidence: it "
            "earns five times as much as an unchecked one."
        ),
        maximum=1_000,
    ),
    ParameterSpec(
        name=REPUTATION_MAX,
        default=10_000,
        unit="reputation points",
        rationale=(
            "Cap on reputation, so a long honest history does not make one cheat affordable: "
            "everything above the top tier only cushions the fall."
        ),
        minimum=1,
        maximum=MAX_REPUTATION,
    ),
    ParameterSpec(
        name=REPUTATION_LOSS_PPM,
        default=PPM,
        unit="ppm of reputation",
        rationale=(
            "Share of its reputation a provider loses when a re-run proves its output wrong. "
            "All of it by default: it is re-verified on every job until it earns trust again."
        ),
        maximum=PPM,
    ),
    ParameterSpec(
        name=MIN_PRICE_PER_MFUEL,
        default=10,
        unit="nanocredits per million fuel",
        rationale=(
            "Floor on bids, so the auction cannot race to a price below the cost of a "
            "verification re-run; about 0.036 credit per core-hour of wasm."
        ),
        maximum=2**40,
    ),
    ParameterSpec(
        name=SLASH_AMOUNT,
        default=10**18,
        unit="token base units (1e-18)",
        rationale=(
            "Stake a provider forfeits per result proven wrong (one token). Published in the "
            "slashing verdict's facts; it must exceed what a cheat saves between checks."
        ),
        maximum=2**62,
    ),
    ParameterSpec(
        name=AVAILABILITY_SLOT_S,
        default=3_600,
        unit="seconds",
        rationale=(
            "Length of one availability slot: a provider's idle capacity counts once per slot "
            "(an hour, as uptime does), however many offers it sends."
        ),
        minimum=1,
        maximum=ONE_YEAR_S,
    ),
    ParameterSpec(
        name=AVAILABILITY_DECAY_PPM,
        default=700_000,
        unit="ppm per additional node of one owner",
        rationale=(
            "Diminishing returns for many nodes under one owner (as Render's availability "
            "rewards have): an owner's k-th node (0-based, largest first) counts decay^k. "
            "Idle capacity spread over many owners is worth more than one farm's."
        ),
        maximum=PPM,
    ),
    ParameterSpec(
        name=MAX_OFFER_MFUEL_S,
        default=64_000,
        unit="million fuel per second",
        rationale=(
            "Cap on the idle capacity one offer can claim (about 64 cores of wasm): a device "
            "cannot inflate availability points by declaring an absurd machine."
        ),
        minimum=1,
        maximum=2**32,
    ),
)
