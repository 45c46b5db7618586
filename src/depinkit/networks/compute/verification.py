"""Verification decisions: which jobs are re-run, and who is wrong when runs disagree.

docs/networks/compute.md, "Verification". A WebAssembly job with fuel metering is
deterministic: the same module, inputs and limits give the same output and the same fuel
on every honest machine, so a re-run elsewhere checks a result exactly.

* **Coin.** A job is re-run when its provider's tier is below ``verify_below_tier``, or
  when ``coin < verify_ppm`` with
  ``coin = uint64_be(keccak256(VERIFY_TAG || entropy || job_id || secret)[0:8]) mod 1e6``.
  ``entropy`` is the epoch's (public after its start block); ``secret`` is the consumer's,
  revealed only after the result is in, so a provider cannot tell while running whether
  it will be checked.
* **Decision.** Claims (provider-signed) for one job are grouped by (output hash, fuel).
  One group: the job is confirmed when two or more providers are in it. Several groups:
  the largest group wins when it has at least two providers and is strictly larger than
  every other; everyone outside it is wrong. Otherwise the job is undecided and needs
  one more run (the tiebreak). A provider that signed two different claims for one job
  is wrong whatever the vote says.

All pure: no I/O, no clock, the only randomness is the entropy and secret passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import msgspec

from depinkit.core.keys import keccak256
from depinkit.networks.compute.parameters import PPM, VERIFY_BELOW_TIER, VERIFY_PPM
from depinkit.networks.compute.schemas import HASH_BYTES, MIN_WITNESSES, Claim
from depinkit.networks.errors import NetworkError

VERIFY_TAG: Final[bytes] = b"depinkit/compute/verify/v1"  # domain separation of the coin
COIN_BYTES: Final[int] = 8  # bytes of the hash read as the coin: bias below 1e-13 mod 1e6

AGREED: Final[str] = "agreed"  # one claim, or several that agree
DECIDED: Final[str] = "decided"  # a mismatch settled by a majority
UNDECIDED: Final[str] = "undecided"  # a mismatch with no majority yet: run a tiebreak


class Outcome(msgspec.Struct, frozen=True):
    """What the claims of one job establish.

    ``right``/``wrong`` are provider addresses, sorted; ``confirmed`` is true when the
    winning result was reproduced by at least one other provider.
    """

    job_id: bytes
    status: str
    output_hash: bytes = b""
    fuel_used: int = 0
    right: tuple[str, ...] = ()
    wrong: tuple[str, ...] = ()

    @property
    def confirmed(self) -> bool:
        return self.status != UNDECIDED and len(self.right) >= 2


def coin(entropy: bytes, job_id: bytes, secret: bytes = b"") -> int:
    """The job's verification coin in [0, 1_000_000)."""
    if len(job_id) != HASH_BYTES:
        raise NetworkError(f"job id must be {HASH_BYTES} bytes")
    digest = keccak256(VERIFY_TAG + entropy + job_id + secret)
    return int.from_bytes(digest[:COIN_BYTES], "big") % PPM


def should_verify(
    parameters: Mapping[str, int], tier: int, entropy: bytes, job_id: bytes, secret: bytes = b""
) -> bool:
    """Whether the job is re-run by another provider (always below the governed tier)."""
    if tier < parameters[VERIFY_BELOW_TIER]:
        return True
    return coin(entropy, job_id, secret) < parameters[VERIFY_PPM]


def decide(job_id: bytes, claims: Iterable[Claim]) -> Outcome:
    """The outcome of one job from every claim known for it (order-free, duplicates ignored).

    Claims for other jobs are ignored. The caller checks signatures first.
    """
    by_provider: dict[str, set[tuple[bytes, int]]] = {}
    for claim in claims:
        if claim.job_id == job_id:
            by_provider.setdefault(claim.provider, set()).add(claim.key())
    equivocators = sorted(p for p, keys in by_provider.items() if len(keys) > 1)
    groups: dict[tuple[bytes, int], list[str]] = {}
    for provider in sorted(by_provider):
        if provider not in equivocators:
            (key,) = by_provider[provider]
            groups.setdefault(key, []).append(provider)
    if not groups:
        return Outcome(job_id, UNDECIDED, wrong=tuple(equivocators))
    ranked = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    (output_hash, fuel_used), winners = ranked[0]
    if len(ranked) == 1 and not equivocators:
        return Outcome(job_id, AGREED, output_hash, fuel_used, right=tuple(winners))
    runner_up = len(ranked[1][1]) if len(ranked) > 1 else 0
    if len(winners) < MIN_WITNESSES or len(winners) <= runner_up:
        return Outcome(job_id, UNDECIDED, wrong=tuple(equivocators))
    losers = {p for _, group in ranked[1:] for p in group} | set(equivocators)
    return Outcome(
        job_id, DECIDED, output_hash, fuel_used, right=tuple(winners), wrong=tuple(sorted(losers))
    )


def outcomes(claims: Sequence[Claim]) -> dict[bytes, Outcome]:
    """:func:`decide` for every job the claims mention, by job id."""
    jobs = sorted({c.job_id for c in claims})
    return {job: decide(job, claims) for job in jobs}
