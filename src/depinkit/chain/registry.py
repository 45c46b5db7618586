"""DeviceRegistry: onboarding with device consent, location, transfer, unbonding, slashing."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3.types import TxReceipt

from depinkit.chain import eip712
from depinkit.chain.client import Chain
from depinkit.chain.params import NET_STAKE, ParametersClient, network_id
from depinkit.chain.token import TokenClient

ONBOARD_VALIDITY_S: Final[int] = 3_600  # default life of a device's onboarding consent


class DeviceStatus(enum.IntEnum):
    NONE = 0
    ACTIVE = 1
    UNBONDING = 2
    WITHDRAWN = 3


@dataclass(frozen=True)
class DeviceRecord:
    owner: str
    network: bytes
    h3_cell: int
    status: DeviceStatus
    unbonding_ends: int
    stake: int


def _net(network: str | bytes) -> bytes:
    return network_id(network) if isinstance(network, str) else network


class RegistryClient:
    """Typed calls on DeviceRegistry."""

    def __init__(self, chain: Chain, address: str, token: TokenClient) -> None:
        self.chain = chain
        self.token = token
        self.contract = chain.contract("DeviceRegistry", address)
        self.fns = self.contract.functions

    @property
    def address(self) -> str:
        return str(self.contract.address)

    # --- reads --------------------------------------------------------------------------
    def device(self, device: str, *, block: int | str = "latest") -> DeviceRecord:
        raw = self.chain.call(self.fns.devices(to_checksum_address(device)), block=block)
        owner, network, cell, status, ends, stake = raw
        return DeviceRecord(
            owner=to_checksum_address(owner),
            network=bytes(network),
            h3_cell=int(cell),
            status=DeviceStatus(int(status)),
            unbonding_ends=int(ends),
            stake=int(stake),
        )

    def nonce(self, device: str) -> int:
        return int(self.chain.call(self.fns.nonces(to_checksum_address(device))))

    def is_maker(self, network: str | bytes, maker: str) -> bool:
        fn = self.fns.isMaker(_net(network), to_checksum_address(maker))
        return bool(self.chain.call(fn))

    def owner(self) -> str:
        return str(self.chain.call(self.fns.owner()))

    # --- signatures ---------------------------------------------------------------------
    def consent_signature(
        self,
        device_signer: Any,
        owner: str,
        network: str | bytes,
        h3_cell: int,
        deadline: int,
        *,
        nonce: int | None = None,
    ) -> bytes:
        """The device key's EIP-712 consent to being registered to ``owner``."""
        device = to_checksum_address(device_signer.address)
        digest = eip712.onboard_digest(
            self.chain.chain_id,
            self.address,
            device=device,
            owner=owner,
            network=_net(network),
            h3_cell=h3_cell,
            nonce=self.nonce(device) if nonce is None else nonce,
            deadline=deadline,
        )
        return eip712.sign_digest(device_signer, digest)

    def maker_signature(self, maker_signer: Any, device: str, network: str | bytes) -> bytes:
        digest = eip712.maker_approval_digest(
            self.chain.chain_id, self.address, device, _net(network)
        )
        return eip712.sign_digest(maker_signer, digest)

    def verdict_digest(self, device: str, amount: int, reason: bytes, verdict_nonce: int) -> bytes:
        return eip712.fraud_verdict_digest(
            self.chain.chain_id, self.address, device, amount, reason, verdict_nonce
        )

    # --- owner actions ------------------------------------------------------------------
    def onboard(
        self,
        owner: LocalAccount,
        device: Any,
        network: str | bytes,
        h3_cell: int,
        *,
        deadline: int | None = None,
        device_sig: bytes | None = None,
        maker: Any = None,
        maker_sig: bytes = b"",
        approve_stake: bool = True,
    ) -> TxReceipt:
        """Register ``device`` (a signer, or an address when ``device_sig`` is given).

        Signs the device consent when the device key is at hand, adds a maker signature when
        a maker signer is given, and approves the stake first unless told not to.
        """
        address = to_checksum_address(device if isinstance(device, str) else device.address)
        if deadline is None:
            deadline = self.chain.now() + ONBOARD_VALIDITY_S
        if device_sig is None:
            device_sig = self.consent_signature(device, owner.address, network, h3_cell, deadline)
        if maker is not None:
            maker_sig = self.maker_signature(maker, address, network)
        if approve_stake:
            stake = self._stake_of(network)
            if stake:
                self.token.ensure_allowance(owner, self.address, stake)
        fn = self.fns.onboard(address, _net(network), h3_cell, deadline, device_sig, maker_sig)
        return self.chain.transact(owner, fn)

    def _stake_of(self, network: str | bytes) -> int:
        params = ParametersClient(self.chain, self.chain.call(self.fns.parameters()))
        return params.get_network(_net(network), NET_STAKE)

    def update_location(self, owner: LocalAccount, device: str, h3_cell: int) -> TxReceipt:
        fn = self.fns.updateLocation(to_checksum_address(device), h3_cell)
        return self.chain.transact(owner, fn)

    def transfer(self, owner: LocalAccount, device: str, new_owner: str) -> TxReceipt:
        fn = self.fns.transferDevice(to_checksum_address(device), to_checksum_address(new_owner))
        return self.chain.transact(owner, fn)

    def deactivate(self, owner: LocalAccount, device: str) -> TxReceipt:
        return self.chain.transact(owner, self.fns.deactivate(to_checksum_address(device)))

    def withdraw(self, owner: LocalAccount, device: str) -> TxReceipt:
        return self.chain.transact(owner, self.fns.withdrawStake(to_checksum_address(device)))

    # --- slashing -----------------------------------------------------------------------
    def slash_by_verdict(
        self,
        sender: LocalAccount,
        device: str,
        amount: int,
        reason: bytes,
        verdict_nonce: int,
        signatures: Sequence[bytes],
    ) -> TxReceipt:
        """Apply an oracle-quorum fraud verdict (signatures ordered by signer address)."""
        fn = self.fns.slashByVerdict(
            to_checksum_address(device), amount, reason, verdict_nonce, list(signatures)
        )
        return self.chain.transact(sender, fn)

    def slash(self, sender: LocalAccount, device: str, amount: int, reason: bytes) -> TxReceipt:
        """Direct slash: only the timelock may; exposed so tests can show others cannot."""
        fn = self.fns.slash(to_checksum_address(device), amount, reason)
        return self.chain.transact(sender, fn)

    def set_maker(
        self, sender: LocalAccount, network: str | bytes, maker: str, approved: bool
    ) -> TxReceipt:
        """Only the timelock may; use governance.set_maker_action in a proposal."""
        fn = self.fns.setMaker(_net(network), to_checksum_address(maker), approved)
        return self.chain.transact(sender, fn)
