// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {DepinToken} from "./DepinToken.sol";
import {Emission} from "./Emission.sol";
import {OracleSet} from "./OracleSet.sol";
import {ParameterKeys} from "./ParameterKeys.sol";
import {Parameters} from "./Parameters.sol";

/// @title RewardsDistributor
/// @notice Accepts one Merkle root of cumulative reward totals per epoch on an M-of-N oracle
///         quorum and lets anyone claim an account's rewards against the latest root.
/// @dev Gas design: submitRoot mints the epoch's increase to this contract once, so each claim
///      is a plain transfer (no ERC20Votes total-supply checkpoint per claim). Leaves are
///      cumulative, so only the latest root is stored and an account claims once for many epochs.
///      `lastEpoch`, the submitted flag and `totalCumulative` share one storage slot.
contract RewardsDistributor is EIP712 {
    error EpochNotIncreasing(uint64 last, uint64 got);
    error EpochNotEnded(uint64 epoch);
    error TotalDecreased();
    error TotalAboveSchedule(uint256 total, uint256 emitted);
    error InvalidProof();
    error NothingToClaim();
    error BeforeGenesis();
    error LengthMismatch();

    event RootSubmitted(uint64 indexed epoch, bytes32 root, uint256 totalCumulative);
    event Claimed(address indexed account, uint256 amount, uint256 cumulativeAmount);

    bytes32 public constant REWARD_ROOT_TYPEHASH =
        keccak256("RewardRoot(uint64 epoch,bytes32 root,uint256 totalCumulative)");

    DepinToken public immutable token;
    Parameters public immutable parameters;
    OracleSet public immutable oracleSet;
    /// @notice Most the schedule may ever mint: the token cap minus its genesis supply.
    uint256 public immutable emissionCap;

    bytes32 public root;
    uint64 private _lastEpoch;
    bool private _hasRoot;
    uint184 private _totalCumulative;
    mapping(address account => uint256 amount) public claimed;

    constructor(DepinToken token_, Parameters parameters_, OracleSet oracleSet_)
        EIP712("RewardsDistributor", "1")
    {
        token = token_;
        parameters = parameters_;
        oracleSet = oracleSet_;
        emissionCap = token_.cap() - token_.initialSupply();
    }

    /// @notice Publish epoch `epoch`'s root of cumulative totals, signed by an oracle quorum.
    function submitRoot(uint64 epoch, bytes32 newRoot, uint256 newTotal, bytes[] calldata signatures)
        external
    {
        uint64 last = _lastEpoch;
        bool hasRoot = _hasRoot;
        uint256 previousTotal = _totalCumulative;
        if (hasRoot && epoch <= last) revert EpochNotIncreasing(last, epoch);
        (uint256 current, uint256 initial, uint256 halving) = _schedule();
        if (epoch >= current) revert EpochNotEnded(epoch);
        if (newTotal < previousTotal) revert TotalDecreased();
        uint256 emitted = Emission.emittedThrough(epoch, initial, halving, emissionCap);
        if (newTotal > emitted) revert TotalAboveSchedule(newTotal, emitted);

        bytes32 digest =
            _hashTypedDataV4(keccak256(abi.encode(REWARD_ROOT_TYPEHASH, epoch, newRoot, newTotal)));
        oracleSet.verifyQuorum(digest, signatures);

        root = newRoot;
        _lastEpoch = epoch;
        _hasRoot = true;
        _totalCumulative = SafeCast.toUint184(newTotal);
        emit RootSubmitted(epoch, newRoot, newTotal);
        if (newTotal > previousTotal) token.mint(address(this), newTotal - previousTotal);
    }

    /// @notice Pay `account` its cumulative total minus what it already claimed.
    function claim(address account, uint256 cumulativeAmount, bytes32[] calldata proof) external {
        _claim(account, cumulativeAmount, proof, root);
    }

    function claimMany(
        address[] calldata accounts,
        uint256[] calldata amounts,
        bytes32[][] calldata proofs
    ) external {
        uint256 n = accounts.length;
        if (amounts.length != n || proofs.length != n) revert LengthMismatch();
        bytes32 currentRoot = root;
        for (uint256 i = 0; i < n; ++i) {
            _claim(accounts[i], amounts[i], proofs[i], currentRoot);
        }
    }

    function lastEpoch() external view returns (uint64) {
        return _lastEpoch;
    }

    function totalCumulative() external view returns (uint256) {
        return _totalCumulative;
    }

    function emittedThrough(uint64 epoch) external view returns (uint256) {
        uint256[] memory values = parameters.getMany(_emissionKeys());
        return Emission.emittedThrough(epoch, values[0], values[1], emissionCap);
    }

    function currentEpoch() public view returns (uint64) {
        bytes32[] memory keys = new bytes32[](2);
        keys[0] = ParameterKeys.EPOCH_GENESIS;
        keys[1] = ParameterKeys.EPOCH_LENGTH;
        uint256[] memory values = parameters.getMany(keys);
        return uint64(_epochAt(values[0], values[1]));
    }

    function _claim(
        address account,
        uint256 cumulativeAmount,
        bytes32[] calldata proof,
        bytes32 currentRoot
    ) private {
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, cumulativeAmount))));
        if (!MerkleProof.verifyCalldata(proof, currentRoot, leaf)) revert InvalidProof();
        uint256 already = claimed[account];
        if (cumulativeAmount <= already) revert NothingToClaim();
        claimed[account] = cumulativeAmount;
        uint256 amount = cumulativeAmount - already;
        emit Claimed(account, amount, cumulativeAmount);
        // DepinToken reverts on failure, so the return value carries no information.
        token.transfer(account, amount);
    }

    /// @dev One call to Parameters for everything submitRoot needs.
    function _schedule() private view returns (uint256 current, uint256 initial, uint256 halving) {
        bytes32[] memory keys = new bytes32[](4);
        keys[0] = ParameterKeys.EPOCH_GENESIS;
        keys[1] = ParameterKeys.EPOCH_LENGTH;
        keys[2] = ParameterKeys.EMISSION_INITIAL;
        keys[3] = ParameterKeys.EMISSION_HALVING_EPOCHS;
        uint256[] memory values = parameters.getMany(keys);
        return (_epochAt(values[0], values[1]), values[2], values[3]);
    }

    function _emissionKeys() private pure returns (bytes32[] memory keys) {
        keys = new bytes32[](2);
        keys[0] = ParameterKeys.EMISSION_INITIAL;
        keys[1] = ParameterKeys.EMISSION_HALVING_EPOCHS;
    }

    function _epochAt(uint256 genesis, uint256 length) private view returns (uint256) {
        if (block.timestamp < genesis) revert BeforeGenesis();
        return (block.timestamp - genesis) / length;
    }
}
