"""Tables of the epoch pipeline, on the store's one MetaData (DDL in migration 0002).

``epochs``: one row per epoch with its state and what each step produced; ``epoch_totals``:
the cumulative total per owner account after the epoch (the Merkle tree's leaves, so claim
proofs are served without recomputing); ``epoch_manifests``: the canonical manifest bytes;
``epoch_signatures``: RewardRoot signatures by signer (this oracle's and its peers');
``epoch_network_state``: what each network module carries into the next epoch (its
``next_prior``, canonical msgpack; migration 0003); ``epoch_credits_spent``: nanocredits
each consumer spent in each network in the epoch (from the verdicts' receipts).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, String, Table, Text

from depinkit.oracle.store.schema import ADDRESS_CHARS, Uint, metadata

epochs = Table(
    "epochs",
    metadata,
    Column("epoch", BigInteger, primary_key=True),
    Column("state", String(16), nullable=False),  # see epochs.states
    Column("start_block", BigInteger, nullable=False),
    Column("entropy", LargeBinary(32), nullable=False),  # hash of the start block
    Column("start_ms", BigInteger, nullable=False),  # epoch bounds, unix ms, [start, end)
    Column("end_ms", BigInteger, nullable=False),
    Column("parameters", Text, nullable=False),  # JSON: network -> module parameters in force
    Column("reconciled_ms", BigInteger, nullable=True),  # reports received later are not scored
    Column("root", LargeBinary(32), nullable=True),
    Column("total", Uint, nullable=True),  # totalCumulative the root is submitted with
    Column("carry_out", Uint, nullable=True),  # carried into the next epoch's pool
    Column("digest", LargeBinary(32), nullable=True),  # EIP-712 RewardRoot digest
    Column("oracles", Text, nullable=True),  # JSON list of the oracle set when scored
    Column("threshold", Integer, nullable=True),  # signatures the contract needs
    Column("tx_hash", LargeBinary(32), nullable=True),  # our submitRoot, if we sent it
    Column("updated_ms", BigInteger, nullable=False),
)

epoch_totals = Table(
    "epoch_totals",
    metadata,
    Column("epoch", BigInteger, primary_key=True),
    Column("account", String(ADDRESS_CHARS), primary_key=True),  # lowercase 0x hex
    Column("amount", Uint, nullable=False),  # cumulative base units through the epoch
)

epoch_manifests = Table(
    "epoch_manifests",
    metadata,
    Column("epoch", BigInteger, primary_key=True),
    Column("hash", LargeBinary(32), nullable=False),  # rewards.manifest_hash
    Column("body", LargeBinary, nullable=False),  # canonical msgpack (rewards.encode_manifest)
)

epoch_signatures = Table(
    "epoch_signatures",
    metadata,
    Column("epoch", BigInteger, primary_key=True),
    Column("signer", String(ADDRESS_CHARS), primary_key=True),  # EIP-55 oracle address
    Column("signature", LargeBinary(65), nullable=False),
)

epoch_network_state = Table(
    "epoch_network_state",
    metadata,
    Column("epoch", BigInteger, primary_key=True),
    Column("network", String(32), primary_key=True),
    Column("state", LargeBinary, nullable=False),  # canonical msgpack of next_prior's result
)

epoch_credits_spent = Table(
    "epoch_credits_spent",
    metadata,
    Column("epoch", BigInteger, primary_key=True),
    Column("consumer", String(ADDRESS_CHARS), primary_key=True),  # EIP-55 address
    Column("network", String(32), primary_key=True),
    Column("amount", BigInteger, nullable=False),  # nanocredits (docs/decisions/0002)
    Index("ix_epoch_credits_spent_consumer", "consumer"),
)
