"""depinkit.chain: the settlement layer on any EVM chain.

Compiled contract artifacts, a web3.py client with two backends (in-process py-evm and
JSON-RPC), an anvil launcher, deployment to a JSON manifest, EIP-712 helpers and typed
wrappers for every contract operation. Contract reverts become Python exceptions named
like the Solidity errors (all subclasses of :class:`ChainError`).
"""

from depinkit.chain.anvil import Anvil, find_anvil
from depinkit.chain.boosts import (
    BoostRecord,
    HexBoostsClient,
    boost_cost,
    deny_action,
    grant_boost_action,
    undeny_action,
)
from depinkit.chain.client import DEV_PRIVATE_KEY, Chain, dev_account
from depinkit.chain.contracts import CONTRACT_NAMES, Artifact, load_artifact
from depinkit.chain.credits import CreditsClient, credits_for
from depinkit.chain.depin import Depin
from depinkit.chain.deploy import (
    TOKEN,
    DeployConfig,
    Deployment,
    NetworkConfig,
    deploy,
    verify_deployment,
)
from depinkit.chain.eip712 import (
    DigestSigner,
    fraud_verdict_digest,
    maker_approval_digest,
    onboard_digest,
    quorum_signatures,
    reward_root_digest,
    sign_digest,
    sign_fraud_verdict,
    sign_reward_root,
    sign_token_price,
    sort_signatures,
    token_price_digest,
)
from depinkit.chain.errors import (
    AnvilError,
    ArtifactMissing,
    ChainError,
    ContractRevert,
    ErrorDecoder,
    ManifestError,
    TransactionFailed,
)
from depinkit.chain.governance import (
    Action,
    GovernanceClient,
    ProposalState,
    Vote,
    set_maker_action,
    set_network_parameter_action,
    set_oracles_action,
    set_parameter_action,
    set_parameters_action,
    slash_action,
)
from depinkit.chain.oracles import OracleSetClient
from depinkit.chain.params import ParametersClient, network_id, network_key, param_key
from depinkit.chain.registry import DeviceRecord, DeviceStatus, RegistryClient
from depinkit.chain.rewards import RewardsClient
from depinkit.chain.token import TokenClient

__all__ = [
    "CONTRACT_NAMES",
    "DEV_PRIVATE_KEY",
    "TOKEN",
    "Action",
    "Anvil",
    "AnvilError",
    "Artifact",
    "ArtifactMissing",
    "BoostRecord",
    "Chain",
    "ChainError",
    "ContractRevert",
    "CreditsClient",
    "Depin",
    "DeployConfig",
    "Deployment",
    "DeviceRecord",
    "DeviceStatus",
    "DigestSigner",
    "ErrorDecoder",
    "GovernanceClient",
    "HexBoostsClient",
    "ManifestError",
    "NetworkConfig",
    "OracleSetClient",
    "ParametersClient",
    "ProposalState",
    "RegistryClient",
    "RewardsClient",
    "TokenClient",
    "TransactionFailed",
    "Vote",
    "boost_cost",
    "credits_for",
    "deny_action",
    "deploy",
    "dev_account",
    "find_anvil",
    "fraud_verdict_digest",
    "grant_boost_action",
    "load_artifact",
    "maker_approval_digest",
    "network_id",
    "network_key",
    "onboard_digest",
    "param_key",
    "quorum_signatures",
    "reward_root_digest",
    "set_maker_action",
    "set_network_parameter_action",
    "set_oracles_action",
    "set_parameter_action",
    "set_parameters_action",
    "sign_digest",
    "sign_fraud_verdict",
    "sign_reward_root",
    "sign_token_price",
    "slash_action",
    "sort_signatures",
    "token_price_digest",
    "undeny_action",
    "verify_deployment",
]
