"""depinkit.oracle.epochs: settling epochs (reconcile, score, sign, submit) and serving them.

The service shell around the pure network modules (``depinkit.networks``) and reward code
(``depinkit.oracle.rewards``): see docs/oracle.md, "Epochs", and ``states`` for the steps.
"""

from depinkit.oracle.epochs.api import epochs_router
from depinkit.oracle.epochs.errors import EpochError, EpochNotReady, PeerError, SignatureRejected
from depinkit.oracle.epochs.inputs import ChainClock, ChainInputs
from depinkit.oracle.epochs.peers import Peer, connect_peers
from depinkit.oracle.epochs.pipeline import DEFAULT_GRACE_MS, EpochPipeline
from depinkit.oracle.epochs.reconcile import Reconciler, ReconcileResult
from depinkit.oracle.epochs.states import (
    COLLECTED,
    RECONCILED,
    SCORED,
    SIGNED,
    STATES,
    SUBMITTED,
)
from depinkit.oracle.epochs.store import EpochRow, EpochStore
from depinkit.oracle.epochs.timing import EpochClock, find_start_block

__all__ = [
    "COLLECTED",
    "DEFAULT_GRACE_MS",
    "RECONCILED",
    "SCORED",
    "SIGNED",
    "STATES",
    "SUBMITTED",
    "ChainClock",
    "ChainInputs",
    "EpochClock",
    "EpochError",
    "EpochNotReady",
    "EpochPipeline",
    "EpochRow",
    "EpochStore",
    "Peer",
    "PeerError",
    "ReconcileResult",
    "Reconciler",
    "SignatureRejected",
    "connect_peers",
    "epochs_router",
    "find_start_block",
]
