"""A dead peer is backed off: one timeout and one log line per back-off, not per pass."""

from __future__ import annotations

import pytest

from depinkit.chain.anvil import free_port
from depinkit.oracle.epochs.errors import PeerDown, PeerError
from depinkit.oracle.epochs.peers import FIRST_BACKOFF_S, MAX_BACKOFF_S, Peer


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_dead_peer_is_skipped_until_its_backoff_passes() -> None:
    ticks = Ticks()
    peer = Peer(f"http://127.0.0.1:{free_port()}", timeout_s=2.0, monotonic=ticks)
    try:
        with pytest.raises(PeerError) as first:
            peer.report_ids(1)
        assert not isinstance(first.value, PeerDown)
        assert peer.down
        with pytest.raises(PeerDown, match="next try"):
            peer.epoch(1)  # no connection attempted: the back-off holds
        waits = []
        for _ in range(10):
            ticks.now += MAX_BACKOFF_S + 1  # past any back-off: the next call tries again
            with pytest.raises(PeerError) as again:
                peer.report_ids(1)
            assert not isinstance(again.value, PeerDown)
            waits.append(peer._retry_at - ticks.now)
        assert waits[0] == 2 * FIRST_BACKOFF_S
        assert waits == sorted(waits) and waits[-1] == MAX_BACKOFF_S
    finally:
        peer.close()
