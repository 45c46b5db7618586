// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

import {DepinToken} from "./DepinToken.sol";
import {OracleSet} from "./OracleSet.sol";
import {ParameterKeys} from "./ParameterKeys.sol";
import {Parameters} from "./Parameters.sol";

/// @title DeviceRegistry
/// @notice Who owns which device, on which network, where, and with how much stake at risk.
/// @dev A device joins only with its own key's consent (an EIP-712 Onboard signature naming the
///      owner), so nobody can claim someone else's hardware; networks that require makers also
///      need a governance-approved maker's approval. Stake is locked here and burned on slashing,
///      either by governance or by an oracle-quorum fraud verdict.
contract DeviceRegistry is Ownable, EIP712, Nonces {
    enum Status {
        None,
        Active,
        Unbonding,
        Withdrawn
    }

    /// @notice A device as the `devices` view returns it (the agreed ABI).
    struct Device {
        address owner;
        bytes32 network;
        uint64 h3Cell;
        uint8 status;
        uint64 unbondingEnds;
        uint256 stake;
    }

    /// @dev The same record packed into three storage slots instead of four (one fresh slot
    ///      less per onboarding, about 20,000 gas): the stake fits 192 bits because the token
    ///      cap does (ERC20Votes caps supply at 2**208; SafeCast checks the narrowing anyway).
    struct Record {
        address owner;
        uint8 status;
        uint64 h3Cell;
        bytes32 network;
        uint192 stake;
        uint64 unbondingEnds;
    }

    error DeviceExists(address device);
    error BadDeviceSignature();
    error MakerRequired();
    error UnknownMaker(address maker);
    error Expired();
    error InvalidCell();
    error UnbondingNotOver(uint64 endsAt);
    error VerdictUsed();
    error NotDeviceOwner(address device, address caller);
    error UnknownDevice(address device);
    error DeviceNotActive(address device);
    error NotUnbonding(address device);
    error ZeroAddress();

    event DeviceOnboarded(
        address indexed device, address indexed owner, bytes32 indexed network, uint64 h3Cell, uint256 stake
    );
    event LocationUpdated(address indexed device, uint64 h3Cell);
    event DeviceTransferred(address indexed device, address indexed from, address indexed to);
    event DeviceDeactivated(address indexed device, uint64 unbondingEnds);
    event StakeWithdrawn(address indexed device, address indexed owner, uint256 amount);
    event DeviceSlashed(address indexed device, uint256 amount, bytes32 reason);
    event MakerSet(bytes32 indexed network, address indexed maker, bool approved);

    bytes32 public constant ONBOARD_TYPEHASH = keccak256(
        "Onboard(address device,address owner,bytes32 network,uint64 h3Cell,uint256 nonce,uint256 deadline)"
    );
    bytes32 public constant MAKER_APPROVAL_TYPEHASH = keccak256("MakerApproval(address device,bytes32 network)");
    bytes32 public constant FRAUD_VERDICT_TYPEHASH =
        keccak256("FraudVerdict(address device,uint256 amount,bytes32 reason,uint256 verdictNonce)");

    DepinToken public immutable token;
    Parameters public immutable parameters;
    OracleSet public immutable oracleSet;

    mapping(address device => Record record) private _devices;
    mapping(bytes32 network => mapping(address maker => bool approved)) public isMaker;
    mapping(bytes32 digest => bool used) public verdictUsed;

    constructor(address initialOwner, DepinToken token_, Parameters parameters_, OracleSet oracleSet_)
        Ownable(initialOwner)
        EIP712("DeviceRegistry", "1")
    {
        token = token_;
        parameters = parameters_;
        oracleSet = oracleSet_;
    }

    /// @notice Register `device` to msg.sender on `network` at `h3Cell`, locking the network's stake.
    function onboard(
        address device,
        bytes32 network,
        uint64 h3Cell,
        uint256 deadline,
        bytes calldata deviceSig,
        bytes calldata makerSig
    ) external {
        if (h3Cell == 0) revert InvalidCell();
        if (block.timestamp > deadline) revert Expired();
        Record storage record = _devices[device];
        Status status = Status(record.status);
        if (status == Status.Active || status == Status.Unbonding) revert DeviceExists(device);

        _checkDeviceConsent(device, network, h3Cell, deadline, deviceSig);
        (uint256 stake, bool requireMaker) = _networkRules(network);
        if (requireMaker) _checkMaker(device, network, makerSig);

        _devices[device] = Record({
            owner: msg.sender,
            status: uint8(Status.Active),
            h3Cell: h3Cell,
            network: network,
            stake: SafeCast.toUint192(stake),
            unbondingEnds: 0
        });
        emit DeviceOnboarded(device, msg.sender, network, h3Cell, stake);
        if (stake > 0) token.transferFrom(msg.sender, address(this), stake);
    }

    function updateLocation(address device, uint64 h3Cell) external {
        Record storage record = _ownedDevice(device);
        if (record.status != uint8(Status.Active)) revert DeviceNotActive(device);
        if (h3Cell == 0) revert InvalidCell();
        record.h3Cell = h3Cell;
        emit LocationUpdated(device, h3Cell);
    }

    /// @notice Hand the device, and the stake locked with it, to `newOwner`.
    function transferDevice(address device, address newOwner) external {
        Record storage record = _ownedDevice(device);
        if (record.status == uint8(Status.Withdrawn)) revert DeviceNotActive(device);
        if (newOwner == address(0)) revert ZeroAddress();
        record.owner = newOwner;
        emit DeviceTransferred(device, msg.sender, newOwner);
    }

    /// @notice Stop the device and start the unbonding period; slashing still applies meanwhile.
    function deactivate(address device) external {
        Record storage record = _ownedDevice(device);
        if (record.status != uint8(Status.Active)) revert DeviceNotActive(device);
        uint64 endsAt = SafeCast.toUint64(block.timestamp + parameters.get(ParameterKeys.UNBONDING_PERIOD));
        record.status = uint8(Status.Unbonding);
        record.unbondingEnds = endsAt;
        emit DeviceDeactivated(device, endsAt);
    }

    function withdrawStake(address device) external {
        Record storage record = _ownedDevice(device);
        if (record.status != uint8(Status.Unbonding)) revert NotUnbonding(device);
        uint64 endsAt = record.unbondingEnds;
        if (block.timestamp < endsAt) revert UnbondingNotOver(endsAt);
        uint256 amount = record.stake;
        record.stake = 0;
        record.status = uint8(Status.Withdrawn);
        emit StakeWithdrawn(device, msg.sender, amount);
        if (amount > 0) token.transfer(msg.sender, amount);
    }

    function setMaker(bytes32 network, address maker, bool approved) external onlyOwner {
        if (maker == address(0)) revert ZeroAddress();
        isMaker[network][maker] = approved;
        emit MakerSet(network, maker, approved);
    }

    function slash(address device, uint256 amount, bytes32 reason) external onlyOwner {
        _slash(device, amount, reason);
    }

    /// @notice Slash on an oracle-quorum fraud verdict; each verdict digest works once.
    function slashByVerdict(
        address device,
        uint256 amount,
        bytes32 reason,
        uint256 verdictNonce,
        bytes[] calldata signatures
    ) external {
        bytes32 digest = _hashTypedDataV4(
            keccak256(abi.encode(FRAUD_VERDICT_TYPEHASH, device, amount, reason, verdictNonce))
        );
        if (verdictUsed[digest]) revert VerdictUsed();
        oracleSet.verifyQuorum(digest, signatures);
        verdictUsed[digest] = true;
        _slash(device, amount, reason);
    }

    function devices(address device) external view returns (Device memory) {
        Record storage record = _devices[device];
        return Device({
            owner: record.owner,
            network: record.network,
            h3Cell: record.h3Cell,
            status: record.status,
            unbondingEnds: record.unbondingEnds,
            stake: record.stake
        });
    }

    /// @dev Both per-network rules in one call to Parameters.
    function _networkRules(bytes32 network) private view returns (uint256 stake, bool requireMaker) {
        bytes32[] memory keys = new bytes32[](2);
        keys[0] = ParameterKeys.netKey(network, "stake");
        keys[1] = ParameterKeys.netKey(network, "requireMaker");
        uint256[] memory values = parameters.getMany(keys);
        return (values[0], values[1] != 0);
    }

    /// @dev The device key must have signed this exact owner, network, cell and deadline; the
    ///      nonce is consumed here (the whole call reverts if anything later fails).
    function _checkDeviceConsent(
        address device,
        bytes32 network,
        uint64 h3Cell,
        uint256 deadline,
        bytes calldata deviceSig
    ) private {
        bytes32 structHash = keccak256(
            abi.encode(ONBOARD_TYPEHASH, device, msg.sender, network, h3Cell, _useNonce(device), deadline)
        );
        (address signer, ECDSA.RecoverError err,) =
            ECDSA.tryRecoverCalldata(_hashTypedDataV4(structHash), deviceSig);
        if (err != ECDSA.RecoverError.NoError || signer != device) revert BadDeviceSignature();
    }

    function _checkMaker(address device, bytes32 network, bytes calldata makerSig) private view {
        if (makerSig.length == 0) revert MakerRequired();
        bytes32 approval = keccak256(abi.encode(MAKER_APPROVAL_TYPEHASH, device, network));
        address maker = ECDSA.recoverCalldata(_hashTypedDataV4(approval), makerSig);
        if (!isMaker[network][maker]) revert UnknownMaker(maker);
    }

    function _slash(address device, uint256 amount, bytes32 reason) private {
        Record storage record = _devices[device];
        if (record.status == uint8(Status.None)) revert UnknownDevice(device);
        uint192 stake = record.stake;
        uint192 burned = amount < stake ? uint192(amount) : stake;
        record.stake = stake - burned;
        emit DeviceSlashed(device, burned, reason);
        if (burned > 0) token.burn(burned);
    }

    function _ownedDevice(address device) private view returns (Record storage record) {
        record = _devices[device];
        if (record.status == uint8(Status.None)) revert UnknownDevice(device);
        if (record.owner != msg.sender) revert NotDeviceOwner(device, msg.sender);
    }
}
