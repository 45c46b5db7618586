"""Money properties of the module: credits spent never exceed receipts or balances, a result
proven wrong is never paid, and a receipt is never paid twice across epochs."""

from __future__ import annotations

from compute_module_kit import BAD, CONSUMER, GOOD, PROVIDERS, completion, context
from hypothesis import given, settings
from hypothesis import strategies as st

from depinkit.core.envelope import decode_body
from depinkit.core.keys import keccak256
from depinkit.networks import ReceivedReport, Verdict, run_module
from depinkit.networks.compute import Completion, ComputeModule, decide
from depinkit.networks.receipts import FACT_CREDITS

JOBS = (keccak256(b"j0"), keccak256(b"j1"))

RUNS = st.lists(
    st.tuples(
        st.integers(0, 4),  # provider
        st.integers(0, 1),  # job
        st.booleans(),  # honest output
        st.integers(1, 400),  # cumulative paid on the lease
    ),
    min_size=1,
    max_size=8,
)


def credits(verdicts: list[Verdict]) -> dict[bytes, int]:
    return {v.report_id: v.facts.get(FACT_CREDITS, 0) for v in verdicts if v.accepted}


def body(item: ReceivedReport) -> Completion:
    return decode_body(item.report, Completion)


@settings(max_examples=40)
@given(runs=RUNS, balance=st.integers(0, 1_000))
def test_credits_are_bounded_and_never_paid_twice(
    runs: list[tuple[int, int, bool, int]], balance: int
) -> None:
    reports = [
        completion(PROVIDERS[p], GOOD if honest else BAD, job=JOBS[j], paid=paid, seq=i)
        for i, (p, j, honest, paid) in enumerate(runs)
    ]
    by_id = {r.id: r for r in reports}
    ctx = context(credits={CONSUMER.address: balance})
    module = ComputeModule()
    verdicts, _ = run_module(module, ctx, reports)
    paid = credits(verdicts)
    assert sum(paid.values()) <= balance

    per_lease: dict[bytes, int] = {}
    for rid, amount in paid.items():
        receipt = body(by_id[rid]).receipt
        per_lease[receipt.channel] = per_lease.get(receipt.channel, 0) + amount
    for channel, total in per_lease.items():
        largest = max(body(r).receipt.cumulative for r in reports if body(r).claim.lease == channel)
        assert total <= largest  # never more than the consumer signed on that lease

    claims = [body(r).claim for r in reports]
    for rid, amount in paid.items():
        claim = body(by_id[rid]).claim
        assert claim.provider not in decide(claim.job_id, claims).wrong or amount == 0

    prior = module.next_prior(ctx, reports, verdicts)
    later = context(prior=prior, credits={CONSUMER.address: balance - sum(paid.values())})
    again = credits(run_module(module, later, reports)[0])
    assert not {rid for rid, a in again.items() if a > 0} & {rid for rid, a in paid.items() if a}
