"""Outbox invariants under random interleavings of appends, failures, answers and reopens."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from depinkit.agent.outbox import Outbox, SealedReport

DEVICE = "0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1"
ORACLES = ("a", "b")


class OutboxMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._dir = tempfile.TemporaryDirectory()
        self.path = Path(self._dir.name) / "outbox.sqlite3"
        self.outbox = Outbox(self.path, device=DEVICE, oracles=ORACLES)
        self.committed = 0  # reports the model says exist
        self.final: dict[str, set[int]] = {o: set() for o in ORACLES}  # pks acked or failed
        self.tag = 0

    def _seal(self, seq: int) -> SealedReport:
        self.tag += 1
        return SealedReport(self.tag.to_bytes(32, "big"), b"r", "uptime", "heartbeat", 0)

    @rule(n=st.integers(min_value=1, max_value=5))
    def append(self, n: int) -> None:
        seqs = self.outbox.append([self._seal] * n, now_ms=0)
        assert seqs == list(range(self.committed, self.committed + n))
        self.committed += n

    @rule(n=st.integers(min_value=1, max_value=5), fail_at=st.integers(min_value=0, max_value=4))
    def append_that_crashes(self, n: int, fail_at: int) -> None:
        def broken(seq: int) -> SealedReport:
            raise RuntimeError("power cut")

        fns = [self._seal] * n
        fns.insert(min(fail_at, n), broken)
        try:
            self.outbox.append(fns, now_ms=0)
        except RuntimeError:
            pass
        else:  # pragma: no cover - broken always raises
            raise AssertionError("append should have failed")

    @precondition(lambda self: self.committed > 0)
    @rule(
        oracle=st.sampled_from(ORACLES),
        limit=st.integers(min_value=1, max_value=6),
        how=st.sampled_from(["ack", "fail", "retry", "attempt"]),
    )
    def answer(self, oracle: str, limit: int, how: str) -> None:
        batch = self.outbox.due(oracle, now_ms=10**15, limit=limit)
        assert not {item.pk for item in batch} & self.final[oracle]
        pks = [item.pk for item in batch]
        if how == "ack":
            self.outbox.record_outcome(oracle, 1, acked=pks)
            self.final[oracle].update(pks)
        elif how == "fail":
            self.outbox.record_outcome(oracle, 1, failed=[(pk, "bad") for pk in pks])
            self.final[oracle].update(pks)
        elif how == "retry":
            self.outbox.record_outcome(oracle, 1, retry=[(pk, 5) for pk in pks])
        else:
            self.outbox.record_attempts(oracle, pks)

    @rule()
    def reopen(self) -> None:
        self.outbox.close()
        self.outbox = Outbox(self.path, device=DEVICE, oracles=ORACLES)

    @invariant()
    def seqs_are_contiguous(self) -> None:
        assert self.outbox.next_seq() == self.committed == self.outbox.report_count()

    @invariant()
    def counts_match_the_model(self) -> None:
        for row in self.outbox.counts():
            assert row.acked + row.failed == len(self.final[row.oracle])
            assert row.pending == self.committed - len(self.final[row.oracle])

    def teardown(self) -> None:
        self.outbox.close()
        self._dir.cleanup()


OutboxMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=20, deadline=None)
test_outbox_state_machine = OutboxMachine.TestCase
