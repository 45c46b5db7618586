"""The device's consent to being onboarded, as DeviceRegistry checks it.

DeviceRegistry.onboard is sent by the *owner* (who stakes), but it only
accepts a device whose key signed an EIP-712 ``Onboard`` message naming that
owner, network, H3 cell, nonce and deadline: nobody can register a device key
they do not hold, nor move a device to another owner without its consent.
The device key never leaves the device, so the agent makes this signature and
hands it to the owner (or sends the transaction itself when given the owner's
key).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h3
import msgspec

from depinkit.agent.errors import ConfigError
from depinkit.chain.eip712 import onboard_digest
from depinkit.core.keys import Account, keccak256, to_checksum

MAX_U64 = 2**64 - 1  # h3Cell is a uint64 in the contract


class OnboardingConsent(msgspec.Struct, frozen=True):
    """Everything the owner needs to call ``DeviceRegistry.onboard``."""

    chain_id: int
    registry: str
    device: str
    owner: str
    network: str
    network_id: str  # bytes32 hex: keccak256(network name), as the registry stores it
    h3_cell: str  # H3 index in its usual hex form
    h3_cell_int: int  # the same, as the uint64 the contract takes
    nonce: int
    deadline: int  # unix seconds
    device_signature: str  # 0x hex, 65 bytes r||s||v


def network_id(name: str) -> bytes:
    """The registry's id of a network: keccak256 of its name."""
    return keccak256(name.encode("utf-8"))


def parse_h3_cell(text: str) -> int:
    """An H3 cell given as its hex index (e.g. ``8928308280fffff``); ConfigError otherwise."""
    try:
        value = int(text.removeprefix("0x"), 16)
    except ValueError as exc:
        raise ConfigError(f"not an H3 cell index: {text!r}") from exc
    if not 0 < value <= MAX_U64 or not h3.is_valid_cell(h3.int_to_str(value)):
        raise ConfigError(f"not a valid H3 cell: {text!r}")
    return value


def sign_onboarding(
    account: Account,
    *,
    chain_id: int,
    registry: str,
    owner: str,
    network: str,
    h3_cell: int,
    deadline: int,
    nonce: int = 0,
) -> OnboardingConsent:
    """The device's EIP-712 ``Onboard`` signature and the call's arguments."""
    try:
        owner_checked = to_checksum(owner)
        registry_checked = to_checksum(registry)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    digest = onboard_digest(
        chain_id,
        registry_checked,
        device=account.address,
        owner=owner_checked,
        network=network_id(network),
        h3_cell=h3_cell,
        nonce=nonce,
        deadline=deadline,
    )
    return OnboardingConsent(
        chain_id=chain_id,
        registry=registry_checked,
        device=account.address,
        owner=owner_checked,
        network=network,
        network_id="0x" + network_id(network).hex(),
        h3_cell=h3.int_to_str(h3_cell),
        h3_cell_int=h3_cell,
        nonce=nonce,
        deadline=deadline,
        device_signature="0x" + account.sign_digest(digest).hex(),
    )


class OwnerOnboarding:
    """The owner's side: send ``DeviceRegistry.onboard`` through depinkit.chain.

    Connects to the chain and checks the manifest describes contracts there
    before anything is created, so a typo in --rpc or --manifest costs nothing.
    """

    def __init__(self, depin: Any, owner: Any) -> None:
        self._depin = depin
        self._owner = owner  # an eth-account LocalAccount (what depinkit.chain signs with)

    @classmethod
    def connect(cls, rpc_url: str, manifest: Path, owner: Account) -> OwnerOnboarding:
        from eth_account import Account as EthAccount

        from depinkit.chain import Depin

        return cls(Depin.connect(rpc_url, manifest), EthAccount.from_key(owner.private_key))

    def domain(self) -> tuple[int, str]:
        """(chain id, DeviceRegistry address) of the deployment."""
        return int(self._depin.chain.chain_id), to_checksum(self._depin.deployment.registry)

    def now(self) -> int:
        """The chain's clock (unix s): deadlines are judged by it, not by ours."""
        return int(self._depin.chain.now())

    def nonce(self, device: str) -> int:
        return int(self._depin.registry.nonce(device))

    def onboard(self, consent: OnboardingConsent) -> str:
        """Approve the stake and send the onboarding; returns the transaction hash."""
        receipt = self._depin.registry.onboard(
            self._owner,
            consent.device,
            consent.network,
            consent.h3_cell_int,
            deadline=consent.deadline,
            device_sig=bytes.fromhex(consent.device_signature[2:]),
        )
        return "0x" + bytes(receipt["transactionHash"]).hex()
