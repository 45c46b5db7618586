"""The epoch settlement pipeline: a resumable state machine per epoch (see ``states``).

Each call to :meth:`EpochPipeline.step` runs the step that follows the epoch's stored
state and persists its result and the new state in one transaction. A crash anywhere
leaves the epoch in its last persisted state, and the next run restarts exactly that step:

* reconciling or scoring again is harmless (ingest dedupes; scoring is pure);
* signing again yields the same signature (RFC 6979 nonces);
* before submitting, the chain is asked whether a root for this epoch (or a later one) is
  already there: a restart after a submission that was sent but not yet recorded, or a
  peer that submitted first, ends in ``submitted`` with no second transaction.

Epochs settle in order for scoring (epoch e's cumulative totals build on e - 1's), while
signature collection and submission may lag: a submitted later root supersedes them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Final

from eth_account.signers.local import LocalAccount
from web3.exceptions import Web3Exception

from depinkit.chain.eip712 import DigestSigner
from depinkit.chain.errors import EpochNotEnded, EpochNotIncreasing
from depinkit.core.errors import DepinkitError
from depinkit.networks import NetworkRegistry
from depinkit.oracle.clock import Clock, SystemClock
from depinkit.oracle.epochs import states
from depinkit.oracle.epochs.compute import CreditBalances, epoch_rewards
from depinkit.oracle.epochs.errors import (
    EpochError,
    EpochNotReady,
    PeerDown,
    PeerError,
    SignatureRejected,
)
from depinkit.oracle.epochs.inputs import ChainInputs
from depinkit.oracle.epochs.peers import Peer
from depinkit.oracle.epochs.reconcile import Reconciler
from depinkit.oracle.epochs.signatures import quorum, sign_root, verify_signature
from depinkit.oracle.epochs.store import EpochRow, EpochStore, Opened, Scored
from depinkit.oracle.epochs.timing import EpochClock
from depinkit.oracle.epochs.views import SignatureBody
from depinkit.oracle.logs import get_logger
from depinkit.oracle.rewards import encode_manifest, manifest_hash

DEFAULT_GRACE_MS: Final[int] = 10_000  # 10 s after an epoch ends: late reports still arrive
DEFAULT_POLL_S: Final[float] = 2.0  # seconds between passes of the settle loop


class EpochPipeline:
    """Settles epochs for one oracle: its store, its key, its peers, one deployment."""

    def __init__(
        self,
        *,
        epochs: EpochStore,
        inputs: ChainInputs,
        networks: NetworkRegistry,
        reconciler: Reconciler,
        peers: Sequence[Peer],
        signer: DigestSigner,
        sender: LocalAccount,
        clock: Clock,
        grace_ms: int = DEFAULT_GRACE_MS,
        first_epoch: int = 0,
        ingest_clock: Clock | None = None,
    ) -> None:
        self.epochs = epochs
        self.inputs = inputs
        self._networks = networks
        self._reconciler = reconciler
        self._peers = list(peers)
        self._signer = signer
        self._sender = sender
        self._clock = clock
        self._grace_ms = grace_ms
        self._first_epoch = first_epoch
        # Ingest stamps received_ms with its own (wall) clock, the pipeline waits on the
        # chain's: the reconciliation cutoff is the later of the two, so a chain clock
        # running behind never drops reports that arrived in time.
        self._ingest_clock = ingest_clock if ingest_clock is not None else SystemClock()
        self._epoch_clock: EpochClock | None = None
        self._log = get_logger("depinkit.oracle.epochs")

    @property
    def epoch_clock(self) -> EpochClock:
        if self._epoch_clock is None:
            self._epoch_clock = self.inputs.epoch_clock()
        return self._epoch_clock

    # --- driving ----------------------------------------------------------------------
    def step(self, epoch: int) -> str:
        """Run the next step of ``epoch``; return its state afterwards (unchanged: blocked)."""
        row = self.epochs.get(epoch)
        if row is None:
            return self.open_epoch(epoch).state
        if row.state == states.COLLECTED:
            self._reconcile(row)
        elif row.state == states.RECONCILED:
            self._score(row)
        elif row.state == states.SCORED:
            self._sign(row)
        elif row.state == states.SIGNED:
            self._submit(row)
        after = self.epochs.get(epoch)
        return after.state if after is not None else states.COLLECTED

    def advance(self, epoch: int, *, until: str = states.FINAL) -> str:
        """Step ``epoch`` until it reaches ``until`` or cannot move yet; return its state.

        Waiting (epoch not over, previous epoch unscored, too few signatures) is not an
        error: the state reached so far comes back (``pending`` before ``collected``).
        """
        state = self.state(epoch)
        while not states.at_least(state, until):
            try:
                new = self.step(epoch)
            except EpochNotReady as exc:
                self._log.info("epoch_waiting", epoch=epoch, reason=str(exc))
                break
            if new == state:
                break
            state = new
        return state or states.PENDING

    def state(self, epoch: int) -> str | None:
        row = self.epochs.get(epoch)
        return None if row is None else row.state

    def ready_through(self) -> int:
        """The last epoch whose end plus grace has passed on this oracle's clock."""
        return self.epoch_clock.settleable_through(self._clock.now_ms(), self._grace_ms)

    def run_once(self, *, through: int | None = None) -> dict[int, str]:
        """Advance every settleable epoch not yet final, in order; their states afterwards."""
        last = self.ready_through() if through is None else through
        self.announce()
        done: dict[int, str] = {}
        for epoch in range(self.epochs.open_from(self._first_epoch), last + 1):
            if self.state(epoch) == states.FINAL:
                continue
            done[epoch] = self.advance(epoch)
            if not states.at_least(self.state(epoch), states.SCORED):
                break  # later epochs need this one's totals
        return done

    def run(self, *, stop: threading.Event, poll_s: float = DEFAULT_POLL_S) -> None:
        """Settle epochs as they end, until ``stop`` is set."""
        while not stop.is_set():
            try:
                self.run_once()
            except (DepinkitError, OSError, Web3Exception) as exc:
                # The node or the database hiccuped (requests' errors are OSErrors): every
                # step is persisted, so the next pass resumes where this one stopped.
                self._log.warning("settle_pass_failed", error=str(exc))
            stop.wait(poll_s)

    # --- steps ------------------------------------------------------------------------
    def announce(self) -> EpochRow | None:
        """Open the epoch in progress, so its beacon is served while devices need it."""
        now_s = self._clock.now_ms() // 1_000
        try:
            current = self.epoch_clock.epoch_at(now_s)
            row = self.epochs.get(current)
            return row if row is not None else self.open_epoch(current)
        except EpochNotReady:
            return None  # its start block is not mined yet
        except EpochError as exc:
            self._log.info("announce_skipped", reason=str(exc))
            return None

    def open_epoch(self, epoch: int) -> EpochRow:
        """Record the start block, entropy and parameters once the epoch has begun."""
        clock = self.epoch_clock
        start_ms, end_ms = clock.bounds_ms(epoch)
        if self._clock.now_ms() < start_ms:
            raise EpochNotReady(f"epoch {epoch} starts at {start_ms}")
        number, block_hash = self.inputs.start_block(clock, epoch)
        values = self.inputs.parameters(number).module_values
        parameters = {
            m.name: dict(m.resolve(values.get(m.name, {}))) for m in self._networks.modules()
        }
        opened = Opened(
            epoch=epoch,
            start_block=number,
            entropy=block_hash,
            start_ms=start_ms,
            end_ms=end_ms,
            parameters=parameters,
        )
        row = self.epochs.collect(opened, self._clock.now_ms())
        self._log.info("epoch_opened", epoch=epoch, start_block=number)
        return row

    def _reconcile(self, row: EpochRow) -> None:
        settle_at = row.end_ms + self._grace_ms
        if self._clock.now_ms() < settle_at:
            raise EpochNotReady(f"epoch {row.epoch} settles at {settle_at}")
        self._reconciler.reconcile(row.epoch, row.end_ms)
        now = self._clock.now_ms()
        self.epochs.reconciled(row.epoch, max(now, self._ingest_clock.now_ms()), now)

    def _previous(self, epoch: int) -> tuple[dict[str, int], int]:
        """Cumulative totals and carry after ``epoch - 1`` (nothing before the first)."""
        if epoch <= self._first_epoch:
            return {}, 0
        before = self.epochs.get(epoch - 1)
        if before is None or not states.at_least(before.state, states.SCORED):
            raise EpochNotReady(f"epoch {epoch - 1} must be scored before {epoch}")
        return self.epochs.totals(epoch - 1), before.carry_out or 0

    def _score(self, row: EpochRow) -> None:
        epoch = row.epoch
        previous, carry_in = self._previous(epoch)
        start_ms, end_ms = row.start_ms, row.end_ms
        reports = self.epochs.reports(epoch, received_by_ms=row.reconciled_ms or 0)
        devices = self.inputs.devices((r.device for r in reports), row.start_block)
        start_block = row.start_block
        outcome = epoch_rewards(
            epoch=epoch,
            start_ms=start_ms,
            end_ms=end_ms,
            entropy=row.entropy,
            rows=reports,
            networks=self._networks,
            parameters=self.inputs.parameters(start_block),
            devices=devices,
            previous=previous,
            carry_in=carry_in,
            prior_states=self.epochs.network_states(epoch - 1) if epoch > self._first_epoch else {},
            credits=CreditBalances(
                lambda consumer: self.inputs.credits_bought(consumer, start_block),
                self.epochs.spent_before(epoch),
            ),
            domain=self.inputs.domain,
            oracles=self.inputs.oracles_at(start_block),
            chain_prior=self.inputs.module_inputs(start_block, epoch),
        )
        result = outcome.rewards
        root, total = result.ledger.root, result.ledger.total
        oracles, threshold = self.inputs.oracle_set()
        scored = Scored(
            root=root,
            total=total,
            carry_out=result.allocation.carry_out,
            digest=self.inputs.root_digest(epoch, root, total),
            oracles=oracles,
            threshold=threshold,
            totals=result.ledger.totals,
            manifest_hash=manifest_hash(result.manifest),
            manifest=encode_manifest(result.manifest),
            states=outcome.states,
            spent=outcome.spent,
        )
        self.epochs.scored(epoch, scored, self._clock.now_ms())
        self._log.info(
            "epoch_scored", epoch=epoch, reports=len(reports), root="0x" + root.hex(), total=total
        )

    def _sign(self, row: EpochRow) -> None:
        if row.digest is None:
            raise EpochError(f"epoch {row.epoch} is scored without a digest")
        signer, signature = sign_root(self._signer, row.digest)
        self.epochs.signed(row.epoch, signer, signature, self._clock.now_ms())

    def exchange_signatures(self, row: EpochRow) -> int:
        """Offer ours to every peer and take theirs; return the signatures now held."""
        if row.digest is None or row.root is None:
            raise EpochError(f"epoch {row.epoch} has no root to sign")
        held = self.epochs.signatures(row.epoch)
        mine = held.get(self._signer.address)
        for peer in self._peers:
            try:
                if mine is not None:
                    peer.post_signature(
                        row.epoch,
                        SignatureBody(
                            self._signer.address, "0x" + mine.hex(), "0x" + row.root.hex()
                        ),
                    )
                info = peer.epoch(row.epoch)
            except PeerDown:
                continue  # logged when it went down
            except PeerError as exc:
                self._log.info("peer_unreachable", peer=peer.url, error=str(exc))
                continue
            if info is None or info.root != "0x" + row.root.hex():
                continue  # not scored yet there, or another root: its signatures are not ours
            verified = []
            for entry in info.signatures:
                try:
                    signature = bytes.fromhex(entry.signature.removeprefix("0x"))
                    signer = verify_signature(
                        row.digest, signature, row.oracles or [], claimed=entry.signer
                    )
                except (SignatureRejected, ValueError) as exc:
                    self._log.warning("peer_signature_refused", peer=peer.url, error=str(exc))
                    continue
                verified.append((signer, signature))
            self.epochs.add_signatures(row.epoch, verified)
        return len(self.epochs.signatures(row.epoch))

    def _on_chain(self, row: EpochRow) -> bool:
        """Whether the chain already holds a root for this epoch or a later one.

        When it holds one for this very epoch, ours is compared with it: a difference means
        this oracle computed something its peers did not (a bug, a damaged store, a tampered
        input) and is logged as ``root_mismatch``, also when catching up on an old epoch.
        """
        rewards = self.inputs.depin.rewards
        last = rewards.last_epoch()
        if last < row.epoch:
            return False
        if last > row.epoch:
            found = self.inputs.submitted_root(row.epoch)
            if found is None:
                self._log.info("epoch_superseded", epoch=row.epoch, chain_epoch=last)
            else:
                self._compare_root(row, found)
            return True
        on_chain = rewards.root()
        if on_chain == bytes(32):
            # lastEpoch() is 0 both before any root and after an empty root for epoch 0:
            # only the event tells them apart (rare, so one log query is fine).
            return self.inputs.root_submitted(row.epoch)
        self._compare_root(row, on_chain)
        return True

    def _compare_root(self, row: EpochRow, on_chain: bytes) -> None:
        if row.root is not None and on_chain != row.root:
            self._log.error(
                "root_mismatch", epoch=row.epoch, ours=row.root.hex(), chain=on_chain.hex()
            )

    def _submit(self, row: EpochRow) -> None:
        self.exchange_signatures(row)
        now = self._clock.now_ms()
        if self._on_chain(row):
            self.epochs.submitted(row.epoch, None, now)
            self._log.info("epoch_already_on_chain", epoch=row.epoch)
            return
        chosen = quorum(self.epochs.signatures(row.epoch), row.threshold or 0)
        if chosen is None or row.root is None or row.total is None:
            return  # wait for more signatures
        try:
            receipt = self.inputs.depin.rewards.submit_root(
                self._sender, row.epoch, row.root, row.total, chosen
            )
        except EpochNotIncreasing:
            self.epochs.submitted(row.epoch, None, now)  # a peer was first: done
            return
        except EpochNotEnded as exc:
            raise EpochNotReady(f"chain has not ended epoch {row.epoch} yet") from exc
        tx_hash = bytes(receipt["transactionHash"])
        self.epochs.submitted(row.epoch, tx_hash, now)
        self._log.info("epoch_submitted", epoch=row.epoch, tx="0x" + tx_hash.hex())
