"""The outbox: seqs allocated with the insert, durable, per-oracle delivery state."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from depinkit.agent.errors import OutboxError
from depinkit.agent.outbox import Outbox, SealedReport


def sealed(tag: int) -> SealedReport:
    return SealedReport(tag.to_bytes(32, "big"), b"report-%d" % tag, "uptime", "heartbeat", 0)


def seal_fn(tag: int) -> Callable[[int], SealedReport]:
    return lambda seq: sealed(tag)


DEVICE = "0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1"


def open_outbox(path: Path, oracles: tuple[str, ...] = ("a", "b")) -> Outbox:
    return Outbox(path / "outbox.sqlite3", device=DEVICE, oracles=oracles)


def test_seqs_are_contiguous_and_survive_reopen(tmp_path: Path) -> None:
    with open_outbox(tmp_path) as outbox:
        assert outbox.append([seal_fn(i) for i in range(3)], now_ms=1) == [0, 1, 2]
        assert outbox.append([seal_fn(3)], now_ms=2) == [3]
    with open_outbox(tmp_path) as outbox:
        assert outbox.next_seq() == 4
        assert outbox.append([seal_fn(4)], now_ms=3) == [4]
        assert outbox.report_count() == 5


def test_seal_sees_its_own_seq(tmp_path: Path) -> None:
    seen: list[int] = []

    def seal(seq: int) -> SealedReport:
        seen.append(seq)
        return sealed(100 + seq)

    with open_outbox(tmp_path) as outbox:
        outbox.append([seal, seal], now_ms=0)
        outbox.append([seal], now_ms=0)
    assert seen == [0, 1, 2]


def test_failed_seal_rolls_back_reports_and_seq(tmp_path: Path) -> None:
    def broken(seq: int) -> SealedReport:
        raise ValueError("cannot sign")

    with open_outbox(tmp_path) as outbox:
        outbox.append([seal_fn(0)], now_ms=0)
        with pytest.raises(ValueError):
            outbox.append([seal_fn(1), broken], now_ms=0)
        assert outbox.next_seq() == 1
        assert outbox.report_count() == 1
        assert outbox.append([seal_fn(2)], now_ms=0) == [1]


def test_duplicate_report_id_rolls_back(tmp_path: Path) -> None:
    with open_outbox(tmp_path) as outbox:
        outbox.append([seal_fn(5)], now_ms=0)
        with pytest.raises(sqlite3.IntegrityError):
            outbox.append([seal_fn(6), seal_fn(5)], now_ms=0)
        assert outbox.next_seq() == 1 and outbox.report_count() == 1


def test_every_report_is_pending_for_every_oracle(tmp_path: Path) -> None:
    with open_outbox(tmp_path) as outbox:
        outbox.append([seal_fn(i) for i in range(5)], now_ms=0)
        assert [c.pending for c in outbox.counts()] == [5, 5]
        due_a = outbox.due("a", now_ms=0, limit=3)
        assert [item.report_id for item in due_a] == [sealed(i).report_id for i in range(3)]
        outbox.record_outcome("a", 10, acked=[due_a[0].pk], failed=[(due_a[1].pk, "bad_body")])
        outbox.record_outcome("a", 10, retry=[(due_a[2].pk, 500)])
        counts = {c.oracle: c for c in outbox.counts()}
        assert (counts["a"].pending, counts["a"].acked, counts["a"].failed) == (3, 1, 1)
        assert (counts["b"].pending, counts["b"].acked, counts["b"].failed) == (5, 0, 0)
        # the retried report waits until its time; the others stay due
        assert [i.report_id for i in outbox.due("a", 499, 10)] == [
            sealed(3).report_id,
            sealed(4).report_id,
        ]
        assert len(outbox.due("a", 500, 10)) == 3
        assert outbox.next_due_ms("a") == 0
        (rejection,) = outbox.rejections()
        assert (rejection.oracle, rejection.error_code, rejection.seq) == ("a", "bad_body", 1)


def test_acked_state_is_final(tmp_path: Path) -> None:
    with open_outbox(tmp_path) as outbox:
        outbox.append([seal_fn(0)], now_ms=0)
        (item,) = outbox.due("a", 0, 10)
        outbox.record_outcome("a", 1, acked=[item.pk])
        outbox.record_outcome("a", 2, failed=[(item.pk, "late")])  # a stale answer changes nothing
        assert outbox.counts()[0].acked == 1 and outbox.rejections() == []


def test_outbox_refuses_another_device(tmp_path: Path) -> None:
    open_outbox(tmp_path).close()
    with pytest.raises(OutboxError, match="belongs to device"):
        Outbox(tmp_path / "outbox.sqlite3", device="0x" + "22" * 20, oracles=["a"])


def test_outbox_refuses_unknown_schema(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(OutboxError, match="schema 99"):
        Outbox(path, device=DEVICE, oracles=["a"])


def test_outbox_needs_an_oracle(tmp_path: Path) -> None:
    with pytest.raises(OutboxError):
        Outbox(tmp_path / "o.sqlite3", device=DEVICE, oracles=[])


def test_wal_and_full_sync(tmp_path: Path) -> None:
    with open_outbox(tmp_path) as outbox:
        outbox.append([seal_fn(0)], now_ms=0)
    db = sqlite3.connect(tmp_path / "outbox.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from depinkit.agent.outbox import Outbox, SealedReport
    outbox = Outbox(Path(sys.argv[1]), device=sys.argv[2], oracles=["a"])
    print("ready", flush=True)
    while True:
        def seal(seq):
            return SealedReport(seq.to_bytes(32, "big"), b"r", "uptime", "heartbeat", 0)
        outbox.append([seal] * 7, now_ms=0)
    """
)


@pytest.mark.parametrize("kills", [3])
def test_seqs_survive_kill_9(tmp_path: Path, kills: int) -> None:
    """A writer killed with SIGKILL mid-stream leaves seqs 0..n-1: no gap, no reuse."""
    path = tmp_path / "outbox.sqlite3"
    for _ in range(kills):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), DEVICE], stdout=subprocess.PIPE
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        before = _count(path)
        while _count(path) < before + 50:  # let it commit a few batches
            time.sleep(0.01)
        proc.kill()
        proc.wait()
    with Outbox(path, device=DEVICE, oracles=["a"]) as outbox:
        count = outbox.report_count()
        assert count % 7 == 0  # whole transactions only
        assert outbox.next_seq() == count
        seqs = [row[0] for row in outbox._db.execute("SELECT seq FROM reports ORDER BY seq")]
        assert seqs == list(range(count))
        ids = outbox.report_ids()
        assert ids == [seq.to_bytes(32, "big") for seq in range(count)]


def _count(path: Path) -> int:
    if not path.exists():
        return 0
    db = sqlite3.connect(path, timeout=10)
    try:
        return int(db.execute("SELECT count(*) FROM reports").fetchone()[0])
    except sqlite3.OperationalError:  # schema not created yet
        return 0
    finally:
        db.close()


def test_prune_keeps_pending_and_never_reuses_seqs(tmp_path: Path) -> None:
    with open_outbox(tmp_path) as outbox:
        outbox.append([seal_fn(i) for i in range(4)], now_ms=100)
        outbox.append([seal_fn(9)], now_ms=900)
        due = outbox.due("a", 0, 10)
        # reports 0 and 1 done everywhere, 2 done at a only, 3 failed at a and acked at b
        outbox.record_outcome("a", 1, acked=[due[0].pk, due[1].pk, due[2].pk])
        outbox.record_outcome("a", 1, failed=[(due[3].pk, "bad")])
        outbox.record_outcome("b", 1, acked=[due[0].pk, due[1].pk, due[3].pk])
        assert outbox.prune(before_ms=500) == 3
        assert outbox.report_ids() == [sealed(2).report_id, sealed(9).report_id]
        assert outbox.append([seal_fn(10)], now_ms=1000) == [5]
        assert {c.oracle: c.pending for c in outbox.counts()} == {"a": 2, "b": 3}
