"""One object for a whole deployment: every contract client, built from a manifest."""

from __future__ import annotations

from pathlib import Path

from depinkit.chain.boosts import HexBoostsClient
from depinkit.chain.client import Chain
from depinkit.chain.credits import CreditsClient
from depinkit.chain.deploy import Deployment, verify_deployment
from depinkit.chain.governance import GovernanceClient
from depinkit.chain.oracles import OracleSetClient
from depinkit.chain.params import ParametersClient
from depinkit.chain.registry import RegistryClient
from depinkit.chain.rewards import RewardsClient
from depinkit.chain.token import TokenClient


class Depin:
    """Clients for every contract of ``deployment`` on ``chain``."""

    def __init__(self, chain: Chain, deployment: Deployment) -> None:
        self.chain = chain
        self.deployment = deployment
        self.token = TokenClient(chain, deployment.token)
        self.params = ParametersClient(chain, deployment.parameters_address)
        self.oracles = OracleSetClient(chain, deployment.oracle_set)
        self.registry = RegistryClient(chain, deployment.registry, self.token)
        self.rewards = RewardsClient(chain, deployment.rewards)
        self.credits = CreditsClient(chain, deployment.credits, self.token)
        self.governance = GovernanceClient(chain, deployment.governor, deployment.timelock)
        self._boosts: HexBoostsClient | None = None

    @property
    def has_boosts(self) -> bool:
        """Whether the deployment has HexBoosts (manifests written before it came do not)."""
        return "HexBoosts" in self.deployment.contracts

    @property
    def boosts(self) -> HexBoostsClient:
        """HexBoosts; ManifestError when the deployment has none."""
        if self._boosts is None:
            self._boosts = HexBoostsClient(self.chain, self.deployment.hex_boosts, self.token)
        return self._boosts

    @classmethod
    def connect(cls, rpc_url: str, manifest: Path | str) -> Depin:
        """Connect to ``rpc_url`` and check the manifest describes contracts there."""
        chain = Chain.connect(rpc_url)
        deployment = Deployment.load(manifest)
        verify_deployment(chain, deployment)
        return cls(chain, deployment)
