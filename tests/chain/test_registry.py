"""DeviceRegistry: consent-checked onboarding, owner actions, unbonding, slashing."""

from __future__ import annotations

import pytest
from chainenv import Env
from web3.logs import DISCARD

from depinkit.chain import eip712
from depinkit.chain.errors import (
    BadDeviceSignature,
    DeviceExists,
    DeviceNotActive,
    ERC20InsufficientAllowance,
    Expired,
    InvalidCell,
    MakerRequired,
    NotAnOracle,
    NotDeviceOwner,
    NotEnoughSignatures,
    NotUnbonding,
    OwnableUnauthorizedAccount,
    UnbondingNotOver,
    UnknownDevice,
    UnknownMaker,
    VerdictUsed,
)
from depinkit.chain.params import network_id
from depinkit.chain.registry import DeviceStatus
from depinkit.core.keys import Account

CELL = 0x8A2A1072B59FFFF  # an H3 cell (resolution 10, New York)
OTHER_CELL = 0x8A2A1072B597FFF
REASON = b"fake-uptime".ljust(32, b"\x00")


def onboard(env: Env, device: Account | None = None, network: str = "uptime", **kw) -> Account:
    device = device or Account.generate()
    env.depin.registry.onboard(env.users[0], device, network, CELL, **kw)
    return device


def test_onboard_locks_stake_and_records_device(env: Env) -> None:
    registry, token = env.depin.registry, env.depin.token
    owner = env.users[0]
    before = token.balance_of(owner.address)
    device = Account.generate()
    receipt = registry.onboard(owner, device, "uptime", CELL)
    stake = env.depin.params.get_network("uptime", "stake")
    record = registry.device(device.address)
    assert record.owner == owner.address
    assert record.network == network_id("uptime")
    assert record.h3_cell == CELL
    assert record.status is DeviceStatus.ACTIVE
    assert record.stake == stake
    assert token.balance_of(owner.address) == before - stake
    assert token.balance_of(registry.address) == stake
    assert registry.nonce(device.address) == 1
    (event,) = registry.contract.events.DeviceOnboarded().process_receipt(receipt, errors=DISCARD)
    assert event["args"]["device"] == device.address
    assert event["args"]["stake"] == stake


def test_onboard_with_someone_elses_signature_fails(env: Env) -> None:
    registry = env.depin.registry
    device, impostor = Account.generate(), Account.generate()
    deadline = env.chain.now() + 600
    sig = registry.consent_signature(impostor, env.users[0].address, "uptime", CELL, deadline)
    with pytest.raises(BadDeviceSignature):
        registry.onboard(
            env.users[0], device.address, "uptime", CELL, deadline=deadline, device_sig=sig
        )
    assert registry.device(device.address).status is DeviceStatus.NONE


def test_consent_is_bound_to_owner_chain_and_contract(env: Env) -> None:
    registry, chain = env.depin.registry, env.chain
    device = Account.generate()
    deadline = chain.now() + 600
    owner = env.users[0].address
    # consent given to another owner
    sig = registry.consent_signature(device, env.users[1].address, "uptime", CELL, deadline)
    with pytest.raises(BadDeviceSignature):
        registry.onboard(
            env.users[0], device.address, "uptime", CELL, deadline=deadline, device_sig=sig
        )
    for chain_id, contract in (
        (chain.chain_id + 1, registry.address),
        (chain.chain_id, env.depin.rewards.address),
    ):
        digest = eip712.onboard_digest(
            chain_id,
            contract,
            device=device.address,
            owner=owner,
            network=network_id("uptime"),
            h3_cell=CELL,
            nonce=0,
            deadline=deadline,
        )
        with pytest.raises(BadDeviceSignature):
            registry.onboard(
                env.users[0],
                device.address,
                "uptime",
                CELL,
                deadline=deadline,
                device_sig=eip712.sign_digest(device, digest),
            )


def test_consent_cannot_be_replayed_after_withdrawal(env: Env) -> None:
    registry = env.depin.registry
    device = Account.generate()
    deadline = env.chain.now() + 10_000
    sig = registry.consent_signature(device, env.users[0].address, "uptime", CELL, deadline)
    registry.onboard(
        env.users[0], device.address, "uptime", CELL, deadline=deadline, device_sig=sig
    )
    registry.deactivate(env.users[0], device.address)
    env.chain.advance_time(env.config.unbonding_period_s + 1)
    registry.withdraw(env.users[0], device.address)
    with pytest.raises(BadDeviceSignature):  # nonce moved on
        registry.onboard(
            env.users[0], device.address, "uptime", CELL, deadline=deadline, device_sig=sig
        )


def test_onboard_input_errors(env: Env) -> None:
    registry = env.depin.registry
    device = Account.generate()
    with pytest.raises(InvalidCell):
        registry.onboard(env.users[0], device, "uptime", 0)
    with pytest.raises(Expired):
        registry.onboard(env.users[0], device, "uptime", CELL, deadline=env.chain.now() - 1)
    onboard(env, device)
    with pytest.raises(DeviceExists) as info:
        registry.onboard(env.users[1], device, "uptime", CELL)
    assert info.value.error_args == {"device": device.address}


def test_onboard_without_allowance_fails(env: Env) -> None:
    with pytest.raises(ERC20InsufficientAllowance):
        env.depin.registry.onboard(
            env.users[2], Account.generate(), "uptime", CELL, approve_stake=False
        )


def test_maker_rules(env: Env) -> None:
    registry = env.depin.registry
    assert registry.is_maker("sensing", env.maker.address)
    with pytest.raises(MakerRequired):
        onboard(env, network="sensing")
    stranger = Account.generate()
    with pytest.raises(UnknownMaker) as info:
        onboard(env, network="sensing", maker=stranger)
    assert info.value.error_args == {"maker": stranger.address}
    device = onboard(env, network="sensing", maker=env.maker)
    assert registry.device(device.address).stake == env.depin.params.get_network("sensing", "stake")


def test_owner_actions_and_permissions(env: Env) -> None:
    registry = env.depin.registry
    alice, bob = env.users[0], env.users[1]
    device = onboard(env)
    with pytest.raises(NotDeviceOwner) as info:
        registry.update_location(bob, device.address, OTHER_CELL)
    assert info.value.error_args == {"device": device.address, "caller": bob.address}
    registry.update_location(alice, device.address, OTHER_CELL)
    assert registry.device(device.address).h3_cell == OTHER_CELL
    with pytest.raises(InvalidCell):
        registry.update_location(alice, device.address, 0)

    registry.transfer(alice, device.address, bob.address)
    record = registry.device(device.address)
    assert record.owner == bob.address and record.status is DeviceStatus.ACTIVE
    with pytest.raises(NotDeviceOwner):
        registry.deactivate(alice, device.address)
    with pytest.raises(UnknownDevice):
        registry.deactivate(alice, Account.generate().address)


def test_unbonding_and_withdrawal(env: Env) -> None:
    registry, token = env.depin.registry, env.depin.token
    alice = env.users[0]
    device = onboard(env)
    stake = registry.device(device.address).stake
    with pytest.raises(NotUnbonding):
        registry.withdraw(alice, device.address)
    registry.deactivate(alice, device.address)
    record = registry.device(device.address)
    assert record.status is DeviceStatus.UNBONDING
    assert record.unbonding_ends == env.chain.now() + env.config.unbonding_period_s
    with pytest.raises(DeviceNotActive):
        registry.update_location(alice, device.address, OTHER_CELL)
    with pytest.raises(UnbondingNotOver) as info:
        registry.withdraw(alice, device.address)
    assert info.value.error_args == {"endsAt": record.unbonding_ends}
    before = token.balance_of(alice.address)
    env.chain.advance_time(env.config.unbonding_period_s)
    registry.withdraw(alice, device.address)
    assert token.balance_of(alice.address) == before + stake
    assert registry.device(device.address).status is DeviceStatus.WITHDRAWN


def verdict(env: Env, device: str, amount: int, nonce: int, signers=None) -> list[bytes]:
    digest = env.depin.registry.verdict_digest(device, amount, REASON, nonce)
    return eip712.quorum_signatures(signers if signers is not None else env.oracles[1:4], digest)


def test_slash_by_verdict_burns_stake_once(env: Env) -> None:
    registry, token = env.depin.registry, env.depin.token
    device = onboard(env)
    stake = registry.device(device.address).stake
    supply = token.total_supply()
    sigs = verdict(env, device.address, stake // 4, 7)
    receipt = registry.slash_by_verdict(env.users[2], device.address, stake // 4, REASON, 7, sigs)
    assert registry.device(device.address).stake == stake - stake // 4
    assert token.total_supply() == supply - stake // 4
    (event,) = registry.contract.events.DeviceSlashed().process_receipt(receipt, errors=DISCARD)
    assert event["args"]["reason"] == REASON
    with pytest.raises(VerdictUsed):
        registry.slash_by_verdict(env.users[2], device.address, stake // 4, REASON, 7, sigs)
    # the amount is capped at what is left
    big = verdict(env, device.address, 10 * stake, 8)
    registry.slash_by_verdict(env.users[2], device.address, 10 * stake, REASON, 8, big)
    assert registry.device(device.address).stake == 0


def test_slash_by_verdict_needs_a_quorum_for_this_registry(env: Env) -> None:
    registry = env.depin.registry
    device = onboard(env)
    with pytest.raises(NotEnoughSignatures):
        sigs = verdict(env, device.address, 1, 1, signers=env.oracles[:2])
        registry.slash_by_verdict(env.users[2], device.address, 1, REASON, 1, sigs)
    digest = eip712.fraud_verdict_digest(
        env.chain.chain_id, env.depin.credits.address, device.address, 1, REASON, 1
    )
    with pytest.raises(NotAnOracle):
        registry.slash_by_verdict(
            env.users[2],
            device.address,
            1,
            REASON,
            1,
            eip712.quorum_signatures(env.oracles[:3], digest),
        )
    with pytest.raises(UnknownDevice):
        other = Account.generate().address
        registry.slash_by_verdict(env.users[2], other, 1, REASON, 1, verdict(env, other, 1, 1))


def test_only_the_timelock_slashes_directly_or_sets_makers(env: Env) -> None:
    registry = env.depin.registry
    device = onboard(env)
    for caller in (env.deployer, env.users[0]):
        with pytest.raises(OwnableUnauthorizedAccount):
            registry.slash(caller, device.address, 1, REASON)
        with pytest.raises(OwnableUnauthorizedAccount):
            registry.set_maker(caller, "uptime", caller.address, True)
    assert registry.owner() == env.depin.deployment.timelock
