// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @title OracleSet
/// @notice The M-of-N oracle committee whose quorum signatures the settlement contracts accept.
/// @dev Callers compute an EIP-712 digest under their own domain and ask {verifyQuorum} to check
///      it, so one committee serves every contract while a signature made for one contract (or
///      chain) never verifies for another. Signers must come strictly increasing by address:
///      duplicates are rejected with one comparison instead of a seen-set.
contract OracleSet is Ownable {
    error NotEnoughSignatures(uint256 got, uint256 need);
    error NotAnOracle(address signer);
    error SignersNotSorted();
    error InvalidThreshold();
    error ZeroAddress();
    error DuplicateOracle(address oracle);

    event OracleSetChanged(address[] oracles, uint256 threshold);

    address[] private _oracles;
    mapping(address account => bool member) private _isOracle;
    uint256 private _threshold;

    constructor(address initialOwner) Ownable(initialOwner) {}

    /// @notice Replace the whole committee and its threshold at once.
    function setOracles(address[] calldata newOracles, uint256 newThreshold) external onlyOwner {
        uint256 n = newOracles.length;
        if (newThreshold == 0 || newThreshold > n) revert InvalidThreshold();
        address[] storage current = _oracles;
        for (uint256 i = 0; i < current.length; ++i) {
            _isOracle[current[i]] = false;
        }
        delete _oracles;
        for (uint256 i = 0; i < n; ++i) {
            address oracle = newOracles[i];
            if (oracle == address(0)) revert ZeroAddress();
            if (_isOracle[oracle]) revert DuplicateOracle(oracle);
            _isOracle[oracle] = true;
            _oracles.push(oracle);
        }
        _threshold = newThreshold;
        emit OracleSetChanged(newOracles, newThreshold);
    }

    function oracles() external view returns (address[] memory) {
        return _oracles;
    }

    function threshold() external view returns (uint256) {
        return _threshold;
    }

    function isOracle(address account) external view returns (bool) {
        return _isOracle[account];
    }

    /// @notice Revert unless `signatures` hold at least `threshold` distinct member signatures
    ///         of `digest`, signers strictly increasing by address.
    /// @dev Every signature must be valid and from a member: a quorum padded with junk is rejected
    ///      rather than silently ignored, so a submitter cannot hide a bad signer. Before the
    ///      first setOracles the threshold is 0 and every call reverts with InvalidThreshold.
    function verifyQuorum(bytes32 digest, bytes[] calldata signatures) external view {
        uint256 need = _threshold;
        // A set that was never configured accepts nothing, not everything.
        if (need == 0) revert InvalidThreshold();
        uint256 got = signatures.length;
        if (got < need) revert NotEnoughSignatures(got, need);
        address previous = address(0);
        for (uint256 i = 0; i < got; ++i) {
            address signer = ECDSA.recoverCalldata(digest, signatures[i]);
            if (signer <= previous) revert SignersNotSorted();
            if (!_isOracle[signer]) revert NotAnOracle(signer);
            previous = signer;
        }
    }
}
