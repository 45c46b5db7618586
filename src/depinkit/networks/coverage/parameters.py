"""The coverage network's governed parameters (docs/networks/coverage.md, "Parameters").

Defaults follow Helium's iot-verifier where it has one (HIP-15 witness units, HIP-17 hex
density, its beacon, entropy, lag and distance limits); the cheater thresholds are ours and
were tuned on the simulated city (depinkit.networks.coverage.sim). On chain each lives
under ``netKey(keccak256("coverage"), name)``.
"""

from __future__ import annotations

from typing import Final

from depinkit.networks.context import ParameterSpec

# Beacons (HIP-15 era iot-verifier defaults)
BEACON_INTERVAL_S: Final[str] = "beacon_interval_s"
ENTROPY_WINDOW_S: Final[str] = "entropy_window_s"
# Witnesses
WITNESS_LAG_MS: Final[str] = "witness_lag_ms"
CLOCK_SKEW_MS: Final[str] = "clock_skew_ms"
MIN_WITNESS_DISTANCE_CELLS: Final[str] = "min_witness_distance_cells"
MAX_WITNESS_DISTANCE_M: Final[str] = "max_witness_distance_m"
MAX_WITNESSES_PER_BEACON: Final[str] = "max_witnesses_per_beacon"
REGION: Final[str] = "region"
FREQUENCY_TOLERANCE_HZ: Final[str] = "frequency_tolerance_hz"
FSPL_MARGIN_DB10: Final[str] = "fspl_margin_db10"
# Reward units (HIP-15) and boosts
WITNESS_REDUNDANCY: Final[str] = "witness_redundancy"
DECAY_RATE_BPS: Final[str] = "decay_rate_bps"
MAX_BOOST: Final[str] = "max_boost"
BOOST_PRICE: Final[str] = "boost_price"  # read by the HexBoosts contract, not by the oracles
TRUST_RAMP_EPOCHS: Final[str] = "trust_ramp_epochs"
# Cheater detection
SPOOF_MIN_LINKS: Final[str] = "spoof_min_links"
SPOOF_SHARE_BPS: Final[str] = "spoof_share_bps"
GEOMETRY_MIN_LINKS: Final[str] = "geometry_min_links"
GEOMETRY_SLACK_M: Final[str] = "geometry_slack_m"
MAX_MOVE_KMH: Final[str] = "max_move_kmh"
RING_MIN_SIZE: Final[str] = "ring_min_size"
RING_MAX_SIZE: Final[str] = "ring_max_size"
RING_SHARE_BPS: Final[str] = "ring_share_bps"
RING_REACH_M: Final[str] = "ring_reach_m"
RING_MIN_MISSED: Final[str] = "ring_min_missed"
RELAY_RATIO_PCT: Final[str] = "relay_ratio_pct"
RELAY_MIN_COUNT: Final[str] = "relay_min_count"
RELAY_SHARE_BPS: Final[str] = "relay_share_bps"
DENY_EPOCHS: Final[str] = "deny_epochs"
# Data transfer (packet router, docs/networks/coverage.md "Data transfer")
PRICE_PER_PACKET: Final[str] = "price_per_packet"
PACKET_COPIES: Final[str] = "packet_copies"
DEDUP_WINDOW_MS: Final[str] = "dedup_window_ms"

BPS: Final[int] = 10_000  # basis points in one
HIP17_RESOLUTIONS: Final[tuple[int, ...]] = (4, 5, 6, 7, 8, 9, 10)  # resolutions HIP-17 clips
# HIP-17 (neighbours, target, max) per resolution, as Helium's chain variables set them.
HIP17_DEFAULTS: Final[dict[int, tuple[int, int, int]]] = {
    4: (2, 500, 1000),
    5: (4, 100, 200),
    6: (4, 25, 50),
    7: (4, 5, 10),
    8: (2, 1, 1),
    9: (2, 1, 1),
    10: (2, 1, 1),
}


def hip17_key(resolution: int, field: str) -> str:
    """Parameter name of one HIP-17 entry: ``hip17.r<res>.<neighbors|target|max>``."""
    return f"hip17.r{resolution}.{field}"


def _hip17_specs() -> tuple[ParameterSpec, ...]:
    specs = []
    for res in HIP17_RESOLUTIONS:
        neighbors, target, maximum = HIP17_DEFAULTS[res]
        specs += [
            ParameterSpec(
                hip17_key(res, "neighbors"),
                neighbors,
                "hexes",
                f"HIP-17 N at res {res}: occupied neighbours (k-ring 1, at target) beyond "
                "which the hex's limit grows by one target.",
                minimum=1,
                maximum=7,
            ),
            ParameterSpec(
                hip17_key(res, "target"),
                target,
                "hotspots",
                f"HIP-17 density target at res {res}: hotspots a hex is rewarded for alone.",
                minimum=1,
                maximum=10**9,
            ),
            ParameterSpec(
                hip17_key(res, "max"),
                maximum,
                "hotspots",
                f"HIP-17 density max at res {res}: the most hotspots a hex is ever rewarded for.",
                minimum=1,
                maximum=10**9,
            ),
        ]
    return tuple(specs)


PARAMETERS: Final[tuple[ParameterSpec, ...]] = (
    ParameterSpec(
        BEACON_INTERVAL_S,
        21_600,
        "seconds",
        "One beacon slot per hotspot per interval (Helium: about every 6 h). Devnets with "
        "short epochs set seconds.",
        minimum=1,
        maximum=31_536_000,
    ),
    ParameterSpec(
        ENTROPY_WINDOW_S,
        180,
        "seconds",
        "A beacon must leave within this long after its window opens (Helium: entropy is valid "
        "180 s), so beacons cannot be prepared and sent at a chosen moment.",
        minimum=1,
        maximum=86_400,
    ),
    ParameterSpec(
        WITNESS_LAG_MS,
        4_000,
        "ms",
        "Latest a witness may be received after the beacon's transmit time (Helium: 4 s); "
        "a frame relayed over the internet tends to arrive late.",
        minimum=1,
        maximum=600_000,
    ),
    ParameterSpec(
        CLOCK_SKEW_MS,
        1_000,
        "ms",
        "How far a witness's receive time may precede the beacon's transmit time: two clocks "
        "never agree exactly.",
        minimum=1,
        maximum=600_000,
    ),
    ParameterSpec(
        MIN_WITNESS_DISTANCE_CELLS,
        8,
        "res-11 cells",
        "Witness and beaconer must be at least this many resolution-11 cells apart "
        "(Helium: 8): hearing the neighbour across the street proves no coverage.",
        minimum=1,
        maximum=10_000,
    ),
    ParameterSpec(
        MAX_WITNESS_DISTANCE_M,
        100_000,
        "metres",
        "Witnesses farther than this are implausible for LoRa at ground level (Helium: 100 km).",
        minimum=1,
        maximum=10_000_000,
    ),
    ParameterSpec(
        MAX_WITNESSES_PER_BEACON,
        14,
        "witnesses",
        "At most this many valid witnesses of one beacon are rewarded, chosen with the "
        "entropy (Helium: 14); more add no coverage information.",
        minimum=1,
        maximum=1_000,
    ),
    ParameterSpec(
        REGION,
        1,
        "region code",
        "LoRaWAN region plan the deployment runs in (1 EU868, 2 US915, 3 AU915, 4 AS923, "
        "5 KR920, 6 IN865, 7 CN470, 8 EU433): beacons must use its band.",
        minimum=1,
        maximum=8,
    ),
    ParameterSpec(
        FREQUENCY_TOLERANCE_HZ,
        1_000,
        "Hz",
        "A witness must report the beacon's frequency to within this (gateways report the "
        "channel centre; the slack absorbs rounding).",
        minimum=1,
        maximum=10_000_000,
    ),
    ParameterSpec(
        FSPL_MARGIN_DB10,
        200,
        "tenths of dB",
        "Allowance above free-space path loss (both antenna gains and constructive multipath): "
        "a witness RSSI above tx power + margin - FSPL(distance) is physically impossible.",
        minimum=1,
        maximum=1_000,
    ),
    ParameterSpec(
        WITNESS_REDUNDANCY,
        4,
        "witnesses",
        "HIP-15 R: witnesses at which beacon units reach 1 and witness units start to decay.",
        minimum=1,
        maximum=100,
    ),
    ParameterSpec(
        DECAY_RATE_BPS,
        8_000,
        "basis points",
        "HIP-15 decay rate (0.8) of reward units beyond R witnesses.",
        minimum=1,
        maximum=9_999,
    ),
    ParameterSpec(
        MAX_BOOST,
        10,
        "multiplier",
        "Largest hex boost multiplier honoured (HIP-84 style boosted hexes); higher values "
        "in a boost are clipped to it.",
        minimum=1,
        maximum=1_000,
    ),
    ParameterSpec(
        BOOST_PRICE,
        10**15,
        "DPK base units per res-11 cell, epoch and unit of multiplier",
        "What HexBoosts burns for a funded boost: a res-r hex counts as 7^(11-r) res-11 cells "
        "(0.001 DPK each, per epoch and unit of multiplier: a res-8 hex boosted x2 for 30 "
        "epochs burns 20.58 DPK). The contract reads the raw value: 0 stops sales.",
        minimum=1,
        maximum=10**30,
    ),
    ParameterSpec(
        TRUST_RAMP_EPOCHS,
        1,
        "epochs",
        "Location trust grows linearly to 1 over this many epochs at one asserted location: "
        "moving a hotspot costs rewards. 1 turns the ramp off.",
        minimum=1,
        maximum=10_000,
    ),
    ParameterSpec(
        SPOOF_MIN_LINKS,
        3,
        "hotspots",
        "A hotspot is a location spoofer when at least this many distinct peers exchanged "
        "too-strong signals with it ...",
        minimum=1,
        maximum=1_000,
    ),
    ParameterSpec(
        SPOOF_SHARE_BPS,
        2_500,
        "basis points",
        "... and they are at least this share of all its peers.",
        minimum=1,
        maximum=BPS,
    ),
    ParameterSpec(
        GEOMETRY_MIN_LINKS,
        5,
        "hotspots",
        "The geometry check needs at least this many peers to say where a hotspot really is.",
        minimum=2,
        maximum=1_000,
    ),
    ParameterSpec(
        GEOMETRY_SLACK_M,
        2_000,
        "metres",
        "A hotspot is flagged when its asserted location lies farther than this beyond the "
        "disc, around its peers' centroid, that holds three quarters of them.",
        minimum=1,
        maximum=10_000_000,
    ),
    ParameterSpec(
        MAX_MOVE_KMH,
        200,
        "km/h",
        "Fastest believable move between two asserted locations (a car on a motorway).",
        minimum=1,
        maximum=100_000,
    ),
    ParameterSpec(
        RING_MIN_SIZE,
        3,
        "hotspots",
        "Smallest group examined as a collusion ring.",
        minimum=2,
        maximum=1_000,
    ),
    ParameterSpec(
        RING_MAX_SIZE,
        64,
        "hotspots",
        "Largest group examined as a collusion ring (bounds the work per hotspot).",
        minimum=2,
        maximum=1_000,
    ),
    ParameterSpec(
        RING_SHARE_BPS,
        9_000,
        "basis points",
        "A group is closed when each member has at least this share of its links inside it.",
        minimum=1,
        maximum=BPS,
    ),
    ParameterSpec(
        RING_REACH_M,
        3_000,
        "metres",
        "Live hotspots this close to a closed group's members should have heard them.",
        minimum=1,
        maximum=1_000_000,
    ),
    ParameterSpec(
        RING_MIN_MISSED,
        3,
        "hotspots",
        "A closed group is a ring when at least this many nearby live outsiders never "
        "exchanged a witness with it (an isolated honest town has none).",
        minimum=1,
        maximum=1_000,
    ),
    ParameterSpec(
        RELAY_RATIO_PCT,
        400,
        "percent",
        "A witness is an outlier when its distance to the beaconer exceeds this share of the "
        "median distance of the beacon's other witnesses (needs two others).",
        minimum=101,
        maximum=100_000,
    ),
    ParameterSpec(
        RELAY_MIN_COUNT,
        3,
        "witnesses",
        "A hotspot is a relayer when at least this many of its witnesses are outliers ...",
        minimum=1,
        maximum=1_000,
    ),
    ParameterSpec(
        RELAY_SHARE_BPS,
        5_000,
        "basis points",
        "... and they are at least this share of its witnesses.",
        minimum=1,
        maximum=BPS,
    ),
    ParameterSpec(
        DENY_EPOCHS,
        7,
        "epochs",
        "An algorithmic verdict keeps a hotspot on the denylist for this many epochs after "
        "the last one in which it was flagged.",
        minimum=1,
        maximum=10_000,
    ),
    ParameterSpec(
        PRICE_PER_PACKET,
        1_000_000,
        "nanocredits",
        "What a packet router pays a hotspot for each paid delivery of an uplink: 10^-3 "
        "credit, USD 0.00001 at USD 0.01 per credit (Helium: one data credit, USD 0.00001, "
        "per 24-byte packet).",
        minimum=1,
        maximum=10**12,
    ),
    ParameterSpec(
        PACKET_COPIES,
        1,
        "deliveries",
        "How many hotspots' deliveries of one packet the router pays (Helium's multi-buy); "
        "later copies are accepted and not paid.",
        minimum=1,
        maximum=100,
    ),
    ParameterSpec(
        DEDUP_WINDOW_MS,
        5_000,
        "ms",
        "How long after a packet's first delivery other hotspots' copies count as duplicates; "
        "later ones are refused as replays.",
        minimum=1,
        maximum=600_000,
    ),
    *_hip17_specs(),
)
