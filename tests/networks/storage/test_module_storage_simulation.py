"""A pure multi-epoch simulation: a provider deletes its pieces; honest ones keep earning.

Real pieces (zfec shares, Merkle roots from pieces.py), real signatures, the module's own
state carried from epoch to epoch through canonical bytes as the pipeline does. The
deleter fails its proofs, earns nothing for its data, is suspended, then gets a slashing
verdict and is disqualified; its shares are rebuilt by two other providers, who are paid
from the repair bucket once their first proofs of the rebuilt pieces pass.
"""

from __future__ import annotations

from typing import Any

import msgspec
from storage_protocol_kit import (
    DOMAIN,
    PROVIDERS,
    by_id,
    capacity_report,
    context,
    deal_report,
    make_file,
    params,
    piece_proofs,
    proof_report,
    receipt_report,
    run_epoch,
    signed,
)

from depinkit.core.keys import Account
from depinkit.networks.receipts import FACT_CREDITS
from depinkit.networks.storage import (
    REPAIR,
    RepairClaim,
    StorageModule,
    decode_state,
    erasure,
    sign_slashing,
    verify_slashing,
)
from depinkit.networks.storage.reputation import DISQUALIFIED, GOOD, SUSPENDED
from depinkit.networks.storage.schemas import PieceProof
from depinkit.networks.storage.verify import PROVIDER_DISQUALIFIED, UNPROVEN_DEAL

P0, P1, P2, P3, P4, P5, P6, P7 = PROVIDERS
DELETER = P2
HONEST = (P0, P1, P3, P4, P5)
# Fast reputation so the story fits in ten epochs: score after m failures in a row is 0.8^m,
# so suspended after 2 (0.64 < 0.7), slashed after 4, disqualified after 5 (0.33 < 0.4).
PARAMS = params(
    reputation_lambda_ppm=800_000,
    suspension_ppm=700_000,
    disqualification_ppm=400_000,
    slash_after_epochs=4,
    audits_per_auditor=0,
)
FILE_A = make_file(101, providers=(P0, P1, P2, P3, P4))  # DELETER holds share 2
FILE_B = make_file(102, providers=(P1, P2, P3, P4, P5))  # DELETER holds share 1
FILES = (FILE_A, FILE_B)
REPAIRS = {P6: (FILE_A, 2), P7: (FILE_B, 1)}  # who rebuilds which share
DELETED_AT = 2  # first epoch the deleter no longer has its pieces
CLAIMED_AT = 7  # repairers claim once the deleter is disqualified
EPOCHS = 10


def rebuilt(file, share: int) -> bytes:
    """Share ``share`` rebuilt from three others, as a repairer does."""
    others = {j: file.data[(0, j)] for j in range(5) if j != share}
    chosen = dict(sorted(others.items())[:3])
    segment = erasure.decode(chosen, 3, 5, 3 * len(file.data[(0, 0)]))
    return erasure.encode_some(segment, 3, 5, [share])[share]


def proofs_of(account: Account, epoch: int, moved: bool) -> list[PieceProof]:
    out = []
    for file in FILES:
        out += piece_proofs(file, account.address, epoch)
    if moved and account in REPAIRS:
        file, share = REPAIRS[account]
        piece = next(x for x in file.terms.pieces if x.index == share)
        out += piece_proofs(file, account.address, epoch, pieces_held=[piece])
    return out


def fake_proofs(epoch: int) -> list[PieceProof]:
    """What a provider that deleted its data can send: right indices, wrong bytes."""
    out = []
    for proof in proofs_of(DELETER, epoch, False):
        chunks = [msgspec.structs.replace(c, data=bytes(len(c.data))) for c in proof.chunks]
        out.append(msgspec.structs.replace(proof, chunks=chunks))
    return out


def epoch_reports(epoch: int) -> list:
    reports = []
    if epoch == 0:
        reports += [capacity_report(a) for a in PROVIDERS]
        reports += [deal_report(FILE_A, P0), deal_report(FILE_B, P5)]
        return reports
    for account in (*HONEST, P6, P7):
        proofs = proofs_of(account, epoch, moved=epoch > CLAIMED_AT)
        if proofs:
            reports.append(proof_report(account, proofs, epoch))
    if epoch < DELETED_AT:
        reports.append(proof_report(DELETER, proofs_of(DELETER, epoch, False), epoch))
    else:
        reports.append(proof_report(DELETER, fake_proofs(epoch), epoch))
    for account in (*HONEST, DELETER):  # everyone asks to be paid for storing, every epoch
        for file in FILES:
            if file.held_by(account.address):
                reports.append(receipt_report(account, file.deal_id, 1_000 * epoch, epoch))
    if epoch == CLAIMED_AT:
        for account, (file, share) in REPAIRS.items():
            reports.append(signed(account, REPAIR, RepairClaim(file.deal_id, 0, share), epoch))
    return reports


def simulate() -> list[dict[str, Any]]:
    module = StorageModule()
    prior: dict[str, Any] = {}
    history = []
    for epoch in range(EPOCHS):
        reports = epoch_reports(epoch)
        ctx = context(epoch, prior=prior, parameters=PARAMS)
        verdicts, scores, prior = run_epoch(module, ctx, reports)
        history.append(
            {"verdicts": by_id(verdicts), "scores": scores, "state": decode_state(prior)}
        )
    return history


HISTORY = simulate()


def test_repaired_shares_are_the_same_bytes() -> None:
    for file, share in REPAIRS.values():
        assert rebuilt(file, share) == file.data[(0, share)]


def test_the_deleter_earns_nothing_after_deleting() -> None:
    for epoch in range(1, EPOCHS):
        scores = HISTORY[epoch]["scores"]
        earned = scores["capacity"].get(DELETER.address, 0) + scores["usage"].get(
            DELETER.address, 0
        )
        assert (earned > 0) == (epoch < DELETED_AT), epoch


def test_honest_providers_keep_earning() -> None:
    for epoch in range(1, EPOCHS):
        scores = HISTORY[epoch]["scores"]
        for account in HONEST:
            assert scores["capacity"][account.address] > 0
            assert scores["usage"][account.address] > 0
        assert HISTORY[epoch]["state"].providers[P0.address].standing == GOOD


def test_the_deleter_is_suspended_then_slashed_then_disqualified() -> None:
    standings = [h["state"].providers[DELETER.address].standing for h in HISTORY]
    # failures at epochs 2, 3, 4, 5, 6: suspended after the second, disqualified after the fifth
    assert standings[:3] == [GOOD, GOOD, GOOD]
    assert standings[3:6] == [SUSPENDED] * 3
    assert standings[6:] == [DISQUALIFIED] * (EPOCHS - 6)
    slashings = [(e, s) for e, h in enumerate(HISTORY) for s in h["state"].slashings]
    assert len(slashings) == 1
    epoch, verdict = slashings[0]
    assert (epoch, verdict.provider, verdict.failed_epochs) == (5, DELETER.address, 4)
    signed_verdict = sign_slashing(P0, DOMAIN, verdict)
    verify_slashing(DOMAIN, signed_verdict)


def test_the_deleter_is_refused_as_it_falls() -> None:
    reasons_by_epoch = []
    for _epoch, h in enumerate(HISTORY):
        mine = [v for v in h["verdicts"].values() if v.device == DELETER.address]
        reasons_by_epoch.append(sorted({v.reason for v in mine}))
    assert reasons_by_epoch[1] == [""]
    assert reasons_by_epoch[2] == ["bad_proof", UNPROVEN_DEAL]
    assert reasons_by_epoch[4] == ["bad_proof", "provider_suspended"]
    assert reasons_by_epoch[7] == [PROVIDER_DISQUALIFIED]
    # once its shares are rebuilt elsewhere it is no longer a party to the deals at all
    assert reasons_by_epoch[8] == [PROVIDER_DISQUALIFIED, "unknown_channel"]


def test_repair_restores_redundancy_and_pays_the_repairers_once() -> None:
    queued = [
        sorted((n.deal_id, n.segment, tuple(n.missing)) for n in h["state"].repair_queue)
        for h in HISTORY
    ]
    expected = sorted([(FILE_A.deal_id, 0, (2,)), (FILE_B.deal_id, 0, (1,))])
    assert queued[1] == []
    assert all(q == expected for q in queued[DELETED_AT:CLAIMED_AT])
    assert queued[CLAIMED_AT] == []  # claimed: the new holders get an epoch to prove
    assert queued[-1] == []
    repair_points = [h["scores"]["repair"] for h in HISTORY]
    for account, (file, share) in REPAIRS.items():
        size = file.data[(0, share)].__len__()
        paid = [e for e, pts in enumerate(repair_points) if pts.get(account.address)]
        assert paid == [CLAIMED_AT + 1]
        assert repair_points[CLAIMED_AT + 1][account.address] == size
        state = HISTORY[-1]["state"]
        deal = state.deal_map()[file.deal_id]
        assert deal.piece(0, share).provider == account.address
    assert HISTORY[-1]["state"].repairs == []


def test_nothing_is_paid_twice() -> None:
    spent: dict[bytes, int] = {}
    for h in HISTORY:
        for verdict in h["verdicts"].values():
            credits = verdict.facts.get(FACT_CREDITS, 0)
            spent[verdict.report_id] = credits
    total = sum(spent.values())
    last = sum(cumulative for *_, cumulative in HISTORY[-1]["state"].receipts)
    assert total == last  # each credit counted once: the sum of increases is the last cumulative
    assert total == 1_000 * (EPOCHS - 1) * (len(HONEST) * 2 - 2) + 1_000 * 2
