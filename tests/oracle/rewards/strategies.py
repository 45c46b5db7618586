"""Hypothesis strategies shared by the reward tests: small worlds of networks and devices."""

from __future__ import annotations

from hypothesis import strategies as st

BPS = 10_000
DEVICES = [f"0x{i:040x}" for i in range(1, 9)] + ["0x" + "ab" * 20, "0x" + "ff" * 20]
OWNERS = [f"0x{0xEE00 + i:040x}" for i in range(4)]
NETWORKS = ["compute", "storage", "uptime"]
BUCKETS = ["a", "b", "c"]

points = st.integers(0, 1_000) | st.integers(0, 2**63 - 1)
amounts = st.integers(0, 10**24) | st.integers(0, 10**6)


@st.composite
def bps_table(draw: st.DrawFn, names: list[str]) -> dict[str, int]:
    """Basis points for a subset of ``names``, summing to at most 10,000 (often exactly)."""
    chosen = draw(st.lists(st.sampled_from(names), unique=True))
    left = BPS
    out: dict[str, int] = {}
    for name in chosen:
        out[name] = draw(st.integers(0, left))
        left -= out[name]
    fill: bool = draw(st.booleans())
    if chosen and fill:
        out[chosen[-1]] += left  # a full table, as deployments usually have
    return out


@st.composite
def worlds(draw: st.DrawFn) -> dict:
    """Weights, splits and scores over a few networks, buckets and devices."""
    weights = draw(bps_table(NETWORKS))
    splits = {n: draw(bps_table(BUCKETS)) for n in draw(st.sets(st.sampled_from(NETWORKS)))}
    scores = draw(
        st.dictionaries(
            st.sampled_from(NETWORKS),
            st.dictionaries(
                st.sampled_from(BUCKETS),
                st.dictionaries(st.sampled_from(DEVICES), points, max_size=6),
                max_size=3,
            ),
            max_size=3,
        )
    )
    return {"weights": weights, "splits": splits, "scores": scores}


owners_of = st.fixed_dictionaries({d: st.sampled_from(OWNERS) for d in DEVICES})
