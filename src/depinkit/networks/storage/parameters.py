"""The storage network's governed parameters (docs/networks/storage.md, "Parameters").

Each lives on chain under ``netKey(keccak256("storage"), name)``. Ratios are integers in
parts per million (``PPM``) so nothing that feeds a verdict is a float.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from depinkit.networks.context import ParameterSpec

PPM: Final[int] = 1_000_000  # parts per million: the unit of every governed ratio
GIB: Final[int] = 1 << 30  # bytes in a GiB: prices are per GiB
MAX_SHARES: Final[int] = 256  # pieces per segment: zfec (GF(2^8)) makes at most 256 shares
NANOCREDITS: Final[int] = 10**9  # nanocredits per credit: every off-chain amount (decision 0002)
MAX_PRICE: Final[int] = 2**63 - 1  # nanocredits: prices fit a signed 64-bit integer

# Erasure profiles: a deal uses one of the two in force when it is registered.
K_SMALL: Final[str] = "k_small"
N_SMALL: Final[str] = "n_small"
REPAIR_SMALL: Final[str] = "repair_small"
K_LARGE: Final[str] = "k_large"
N_LARGE: Final[str] = "n_large"
REPAIR_LARGE: Final[str] = "repair_large"
LARGE_NETWORK: Final[str] = "large_network_providers"
# Proofs, audits and limits.
CHUNKS_PER_PIECE: Final[str] = "chunks_per_piece"
AUDITS_PER_AUDITOR: Final[str] = "audits_per_auditor"
MAX_PIECE_BYTES: Final[str] = "max_piece_bytes"
# Prices.
PRICE_GIB_EPOCH: Final[str] = "price_gib_epoch"
PRICE_GIB_EGRESS: Final[str] = "price_gib_egress"
# Reputation, suspension, disqualification, slashing.
LAMBDA_PPM: Final[str] = "reputation_lambda_ppm"
WEIGHT: Final[str] = "reputation_weight"
SUSPEND_PPM: Final[str] = "suspension_ppm"
DISQUALIFY_PPM: Final[str] = "disqualification_ppm"
SLASH_AFTER: Final[str] = "slash_after_epochs"

PARAMETERS: Final[tuple[ParameterSpec, ...]] = (
    ParameterSpec(
        K_SMALL,
        3,
        "pieces",
        "Pieces that rebuild a segment on a small network (a devnet, a few dozen homes). "
        "3-of-5 survives two lost providers at 1.67x overhead with only five providers.",
        minimum=1,
        maximum=MAX_SHARES,
    ),
    ParameterSpec(
        N_SMALL,
        5,
        "pieces",
        "Pieces per segment on a small network; needs n distinct providers per segment.",
        minimum=1,
        maximum=MAX_SHARES,
    ),
    ParameterSpec(
        REPAIR_SMALL,
        4,
        "pieces",
        "Repair a small-network segment once at most this many pieces are healthy: "
        "repairing at the first loss leaves one more loss of slack while repair runs.",
        minimum=1,
        maximum=MAX_SHARES,
    ),
    ParameterSpec(
        K_LARGE,
        29,
        "pieces",
        "Pieces that rebuild a segment on a large network: Storj's 29-of-80 code.",
        minimum=1,
        maximum=MAX_SHARES,
    ),
    ParameterSpec(
        N_LARGE,
        80,
        "pieces",
        "Pieces per segment on a large network: Storj's 29-of-80 code (2.76x overhead).",
        minimum=1,
        maximum=MAX_SHARES,
    ),
    ParameterSpec(
        REPAIR_LARGE,
        52,
        "pieces",
        "Repair a large-network segment once at most 52 pieces are healthy, Storj's initial "
        "threshold: 23 spare pieces above k=29 while repair runs.",
        minimum=1,
        maximum=MAX_SHARES,
    ),
    ParameterSpec(
        LARGE_NETWORK,
        240,
        "providers",
        "Active providers from which clients use the large profile: 3 x n_large, so 80 "
        "distinct providers per segment can still be spread across owners and regions.",
        minimum=1,
        maximum=2**32,
    ),
    ParameterSpec(
        CHUNKS_PER_PIECE,
        2,
        "chunks per piece per epoch",
        "Chunks of every piece each provider proves each epoch. A provider keeping a "
        "fraction f of a piece passes with probability f^c; two chunks per epoch catch a "
        "half-deleted piece with 75% per epoch and keep a proof near 1 KiB per chunk.",
        minimum=1,
        maximum=16,
    ),
    ParameterSpec(
        AUDITS_PER_AUDITOR,
        16,
        "chunks per auditor per epoch",
        "Chunks each auditing oracle downloads from providers per epoch (retrieval audits "
        "check the provider serves data, which a proof alone does not show).",
        minimum=0,
        maximum=4_096,
    ),
    ParameterSpec(
        MAX_PIECE_BYTES,
        256 << 20,
        "bytes",
        "Largest piece a deal may name (256 MiB): bounds one provider's GET and PUT and the "
        "proof depth (18 levels).",
        minimum=1,
        maximum=1 << 42,
    ),
    ParameterSpec(
        PRICE_GIB_EPOCH,
        5_000,
        "nanocredits per GiB per epoch",
        "Least a deal may pay for storage: 5e-6 credits per GiB-hour is about $3.7 per "
        "TiB-month at 1 credit = $1 and hourly epochs, near Storj's $4/TB-month.",
        minimum=0,
        maximum=MAX_PRICE,
    ),
    ParameterSpec(
        PRICE_GIB_EGRESS,
        7_000_000,
        "nanocredits per GiB",
        "Least a deal may pay per GiB downloaded: 0.007 credits, Storj's $7/TB egress.",
        minimum=0,
        maximum=MAX_PRICE,
    ),
    ParameterSpec(
        LAMBDA_PPM,
        990_000,
        "ppm",
        "Forgetting factor of the beta reputation: an event's weight decays by lambda per "
        "later event. 0.99 with one event per epoch remembers about 100 epochs.",
        minimum=0,
        maximum=PPM - 1,
    ),
    ParameterSpec(
        WEIGHT,
        1,
        "events",
        "Weight w of one reputation event (a proof epoch or one audit).",
        minimum=1,
        maximum=1_000,
    ),
    ParameterSpec(
        SUSPEND_PPM,
        900_000,
        "ppm",
        "Reputation below which a provider is suspended: no capacity points, receipts and "
        "new deals refused, until it recovers. 0.99^11 < 0.9: eleven failed epochs in a row.",
        minimum=0,
        maximum=PPM,
    ),
    ParameterSpec(
        DISQUALIFY_PPM,
        600_000,
        "ppm",
        "Reputation below which a provider is disqualified for good: its pieces are "
        "repaired elsewhere. 0.99^51 < 0.6: about 51 failed epochs in a row (two days of "
        "hourly epochs) from a perfect score.",
        minimum=0,
        maximum=PPM,
    ),
    ParameterSpec(
        SLASH_AFTER,
        48,
        "epochs",
        "Failed epochs in a row after which the oracles sign a slashing verdict: two days "
        "of hourly epochs, long enough for a home outage to be fixed (Filecoin terminates "
        "a sector after 42 days of faults, but its proofs are daily).",
        minimum=1,
        maximum=2**32,
    ),
)


def erasure_profile(parameters: Mapping[str, int], active_providers: int) -> tuple[int, int, int]:
    """(k, n, repair threshold) a client should use on a network of ``active_providers``."""
    if active_providers >= parameters[LARGE_NETWORK]:
        return parameters[K_LARGE], parameters[N_LARGE], parameters[REPAIR_LARGE]
    return parameters[K_SMALL], parameters[N_SMALL], parameters[REPAIR_SMALL]


def profiles(parameters: Mapping[str, int]) -> dict[tuple[int, int], int]:
    """Every (k, n) a deal may use now, with its repair threshold (clamped into [k, n-1])."""
    out: dict[tuple[int, int], int] = {}
    for k_name, n_name, r_name in (
        (K_LARGE, N_LARGE, REPAIR_LARGE),
        (K_SMALL, N_SMALL, REPAIR_SMALL),
    ):
        k, n = parameters[k_name], parameters[n_name]
        if 1 <= k <= n:
            out[(k, n)] = min(max(parameters[r_name], k), max(n - 1, k))
    return out
