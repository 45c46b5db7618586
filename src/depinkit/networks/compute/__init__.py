"""The compute network: WebAssembly jobs run on providers' machines (issue 6).

Consumers buy fuel by reverse auction, providers run jobs in wasmtime with fuel metering,
and a share of results (all of them for new providers) is re-run elsewhere; a provider
proven wrong forfeits the payment, its reputation and a stake. Spec:
docs/networks/compute.md. The consumer API is :mod:`depinkit.networks.compute.client`
(not imported here: it needs an HTTP client).
"""

from __future__ import annotations

from depinkit.networks.compute.jobs import Job, JobLimits, JobResult, job_id
from depinkit.networks.compute.market import (
    Bid,
    CreditAccount,
    Lease,
    MarketError,
    Order,
    best_tier,
    cheapest,
    cost,
    eligible,
    lease_id,
    pick,
)
from depinkit.networks.compute.module import (
    BAD_CLAIM,
    BAD_DISPUTE,
    BAD_OFFER,
    BAD_RECEIPT,
    DISPUTE_OUTVOTED,
    DISPUTED,
    DUPLICATE_SLOT,
    INSUFFICIENT_CREDITS,
    KINDS,
    NAME,
    PRICE_BELOW_MIN,
    REASONS,
    REPLAYED_RECEIPT,
    WRONG_OUTPUT,
    WRONG_PROVIDER,
    ComputeModule,
)
from depinkit.networks.compute.parameters import PARAMETERS
from depinkit.networks.compute.reputation import TIER_NAMES, tier
from depinkit.networks.compute.schemas import (
    COMPLETION,
    DISPUTE,
    OFFER,
    Claim,
    ClaimError,
    Completion,
    Dispute,
    Offer,
    claim_of,
    sign_claim,
    verify_claim,
)
from depinkit.networks.compute.score import AVAILABILITY, BUCKETS, USAGE
from depinkit.networks.compute.verification import Outcome, coin, decide, should_verify
from depinkit.networks.spec import NetworkSpec


def module() -> ComputeModule:
    """A fresh compute module (what the registry and entry point use)."""
    return ComputeModule()


def network_spec() -> NetworkSpec:
    """The compute network's report kinds (a fresh spec per call)."""
    return module().spec()


__all__ = [
    "AVAILABILITY",
    "BAD_CLAIM",
    "BAD_DISPUTE",
    "BAD_OFFER",
    "BAD_RECEIPT",
    "BUCKETS",
    "COMPLETION",
    "DISPUTE",
    "DISPUTED",
    "DISPUTE_OUTVOTED",
    "DUPLICATE_SLOT",
    "INSUFFICIENT_CREDITS",
    "KINDS",
    "NAME",
    "OFFER",
    "PARAMETERS",
    "PRICE_BELOW_MIN",
    "REASONS",
    "REPLAYED_RECEIPT",
    "TIER_NAMES",
    "USAGE",
    "WRONG_OUTPUT",
    "WRONG_PROVIDER",
    "Bid",
    "Claim",
    "ClaimError",
    "Completion",
    "ComputeModule",
    "CreditAccount",
    "Dispute",
    "Job",
    "JobLimits",
    "JobResult",
    "Lease",
    "MarketError",
    "Offer",
    "Order",
    "Outcome",
    "best_tier",
    "cheapest",
    "claim_of",
    "coin",
    "cost",
    "decide",
    "eligible",
    "job_id",
    "lease_id",
    "module",
    "network_spec",
    "pick",
    "should_verify",
    "sign_claim",
    "tier",
    "verify_claim",
]
